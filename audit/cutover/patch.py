"""The replacement itself and its diff. Pure: text and bytes in, text and bytes out.

Owns `replace_ready` (the new text of a file, every ready occurrence swapped for its new
id, and where each replacement landed), `display_diff` (a unified diff a person reads)
and `git_patch` (the same change in a form `git apply` takes: a unified diff of the
raw bytes for UTF-8 files, so line endings, a BOM and non-UTF-8 bytes survive; a git
binary patch for UTF-16 files, which no text diff can carry).
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


def unified(name: str, old: str, new: str) -> str:
    """A git-style unified diff of two texts (3 lines of context), or "" when equal."""
    lines = []
    for line in difflib.unified_diff(_LINE.findall(old), _LINE.findall(new), f"a/{name}", f"b/{name}"):
        lines.append(line)
        if not line.endswith("\n"):
            lines.append("\n" + NO_NEWLINE)
    return f"diff --git a/{name} b/{name}\n" + "".join(lines) if lines else ""


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
        f"diff --git a/{name} b/{name}\n"
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
