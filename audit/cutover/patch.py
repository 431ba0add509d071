"""The replacement itself and its diff. Pure: text and bytes in, text and bytes out.

Owns `replace_ready` (the new text of a file, every ready occurrence swapped for its new
id, and where each replacement landed), `display_diff` (a unified diff a person reads)
and `git_patch` (the same change in a form `git apply` takes: a unified diff of the
raw bytes for UTF-8 files, so line endings, a BOM and non-UTF-8 bytes survive; a git
binary patch for UTF-16 files, which no text diff can carry). File names in the headers
are quoted as git quotes them (`git_quoted`): a name holding a control character, a
double quote, a backslash or a non-ASCII byte is written in double quotes with C escapes
(`\t`, `\n`, `\"`, `\\`, octal `\303\251`), so `git apply` reads it back exactly.
`redo` and `undo` apply recorded replacements to a text and take them back, checking
that each is where it was recorded.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import re
import stat
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from audit.cutover.scanner import Occurrence

NO_NEWLINE = "\\ No newline at end of file\n"
_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")
_ESCAPES = {0x07: "\\a", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f", 0x0D: "\\r",
            0x22: '\\"', 0x5C: "\\\\"}
_MUST_ESCAPE = frozenset(_ESCAPES)


@dataclass(frozen=True, slots=True)
class Replacement:
    line: int
    column: int
    offset: int  # character offset in the new text
    old: str
    new: str

    def to_json(self) -> dict[str, int | str]:
        return {"line": self.line, "column": self.column, "offset": self.offset, "old": self.old, "new": self.new}


def replace_ready(text: str, occurrences: Sequence[Occurrence]) -> tuple[str, list[Replacement]]:
    """`text` with each ready occurrence replaced, and the replacements' places in the result."""
    parts: list[str] = []
    done: list[Replacement] = []
    position = shift = 0
    for occ in sorted(occurrences, key=lambda o: o.offset):
        if occ.new_voice_id is None:
            continue
        end = occ.offset + len(occ.old_voice_id)
        parts.append(text[position:occ.offset])
        parts.append(occ.new_voice_id)
        done.append(Replacement(occ.line, occ.column, occ.offset + shift, occ.old_voice_id, occ.new_voice_id))
        shift += len(occ.new_voice_id) - len(occ.old_voice_id)
        position = end
    parts.append(text[position:])
    return "".join(parts), done


def redo(text: str, replacements: Sequence[Replacement]) -> str:
    """`text` with `replacements` made (their offsets are in the result); ValueError when
    an old id is not where it was recorded."""
    parts: list[str] = []
    position = shift = 0
    for item in sorted(replacements, key=lambda r: r.offset):
        start = item.offset - shift
        if start < position or text[start:start + len(item.old)] != item.old:
            raise ValueError(f"{item.old} is not at line {item.line}, column {item.column}")
        parts += [text[position:start], item.new]
        position = start + len(item.old)
        shift += len(item.new) - len(item.old)
    parts.append(text[position:])
    return "".join(parts)


def undo(text: str, replacements: Sequence[Replacement]) -> str:
    """`text` (made by `redo`) with `replacements` taken back; ValueError when a new id is
    not where it was recorded."""
    parts: list[str] = []
    position = 0
    for item in sorted(replacements, key=lambda r: r.offset):
        if item.offset < position or text[item.offset:item.offset + len(item.new)] != item.new:
            raise ValueError(f"{item.new} is not at line {item.line}, column {item.column}")
        parts += [text[position:item.offset], item.old]
        position = item.offset + len(item.new)
    parts.append(text[position:])
    return "".join(parts)


def git_quoted(name: str) -> str:
    """`name` as git writes a path in a patch header: as it is when every byte is printable
    ASCII other than `"` and `\\`, else in double quotes with C escapes (octal for the rest)."""
    raw = name.encode("utf-8", "surrogateescape")
    if all(0x20 <= b < 0x7F and b not in _MUST_ESCAPE for b in raw):
        return name
    return '"' + "".join(_ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\{b:03o}") for b in raw) + '"'


def unified(name: str, old: str, new: str) -> str:
    """A git-style unified diff of two texts (3 lines of context), or "" when equal."""
    a, b = git_quoted(f"a/{name}"), git_quoted(f"b/{name}")
    lines = []
    for line in difflib.unified_diff(_LINE.findall(old), _LINE.findall(new), a, b):
        lines.append(line)
        if not line.endswith("\n"):
            lines.append("\n" + NO_NEWLINE)
    return f"diff --git {a} {b}\n" + "".join(lines) if lines else ""


def display_diff(name: str, old_text: str, new_text: str, *, encoding: str) -> str:
    body = unified(name, old_text, new_text)
    if encoding.startswith("utf-16"):
        return f"# {name}: {encoding} text shown decoded (the patch file carries it as a git binary patch)\n" + body
    return body


def git_patch(name: str, old: bytes, new: bytes, *, utf16: bool, mode: int) -> bytes:
    """The change from `old` to `new` as `git apply` takes it."""
    if not utf16:
        text = unified(name, old.decode("utf-8", "surrogateescape"), new.decode("utf-8", "surrogateescape"))
        return text.encode("utf-8", "surrogateescape")
    file_mode = "100755" if mode & stat.S_IXUSR else "100644"
    return (
        f"diff --git {git_quoted(f'a/{name}')} {git_quoted(f'b/{name}')}\n"
        f"index {_blob_id(old)}..{_blob_id(new)} {file_mode}\n"
        "GIT binary patch\n"
        f"literal {len(new)}\n{_base85_lines(zlib.compress(new))}\n"
        f"literal {len(old)}\n{_base85_lines(zlib.compress(old))}\n"
    ).encode("ascii")


def _blob_id(data: bytes) -> str:
    """git's object id of a blob holding `data` (what `git hash-object` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _base85_lines(data: bytes) -> str:
    """git's binary-patch lines: a length letter (A-Z 1-26, a-z 27-52), then base85."""
    out = []
    for start in range(0, len(data), 52):
        chunk = data[start:start + 52]
        size = len(chunk)
        letter = chr(ord("A") + size - 1) if size <= 26 else chr(ord("a") + size - 27)
        out.append(letter + base64.b85encode(chunk, pad=True).decode("ascii") + "\n")
    return "".join(out)
