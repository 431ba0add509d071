"""Strings that came from the server, and what may be done with them.

A voice id, display name, tag or language returned by the API is untrusted data: it may
hold `../`, an absolute path, `/`, `\\`, NUL, control characters, ESC sequences, bidi
overrides, or be 10 KB long; so may a file name found on disk. This module owns the rules
that keep such a string from doing harm, and is the one home of escaping text for display,
so no other module has to decide them again:

- `is_plain_id`: the voice ids clone-audit acts on beyond reporting (names a file after,
  tags a replacement with): 1-128 ASCII letters, digits and `_ . : -`, not starting with
  a dot, and not holding a registered secret (a server that echoes the key as an id gets
  that voice reported with its id masked, never re-cloned, recorded or retired). Every
  id the API documents (`voice_…`) is plain; anything else is reported, with
  a reason, and never re-cloned.
- `file_stem`: the only way a server string may become part of a file name: a strict
  sanitised prefix (letters, digits, `_`, `-`; at most 40) plus 12 hex digits of its
  sha256, so two different ids never share a name and no id can name a path.
- `visible`: the text with every control character (C0, DEL, C1, so ESC and CR too), bidi
  control (U+202A-U+202E, U+2066-U+2069, LRM/RLM/ALM), line/paragraph separator and lone
  surrogate replaced by its escape (`\\x1b`, `\\u202e`), for the terminal, CSV cells and
  HTML. Lossy on purpose (a literal backslash is not escaped); run.json keeps the exact
  string, JSON-escaped.
- `shown`: `visible`, on one line and bounded, for messages.
- `visible_name`: a file name or path as one printable line (every character Python does
  not call printable, a zero-width joiner too, as its escape; an undecodable byte as `\\xNN`),
  for reasons and errors that name a file; the data keeps the real name.
- `json_visible`: JSON text with the same characters (JSON already escapes C0) written as
  `\\uXXXX` escapes: the same data for a parser, nothing hidden for a person.
"""

from __future__ import annotations

import hashlib
import re

from audit.core.secrets import cut, holds_secret

PLAIN_ID = re.compile(r"[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
SHOWN_CONTEXT = 4096  # characters past a cut read by `shown`: enough to see a secret that spans it
# Every control character (C0 but tab and newline, DEL, C1), bidi control, line/paragraph
# separator and lone surrogate, as inclusive ranges of code points.
_CONTROL_RANGES = ((0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F), (0x61C, 0x61C), (0x200E, 0x200F),
                   (0x2028, 0x202E), (0x2066, 0x2069), (0xD800, 0xDFFF))
# As translation tables: str.translate runs in C, one dictionary look-up per character, so a
# megabyte of control characters costs milliseconds, not a Python call each.
_INVISIBLE_CODES = [code for low, high in _CONTROL_RANGES for code in range(low, high + 1)]
_ESCAPED = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _INVISIBLE_CODES}
_ESCAPED_SPACING = {**_ESCAPED, ord("\t"): "\\x09", ord("\n"): "\\x0a"}
_JSON_ESCAPED = {code: f"\\u{code:04x}" for code in _INVISIBLE_CODES}


def is_plain_id(value: object) -> bool:
    return isinstance(value, str) and PLAIN_ID.fullmatch(value) is not None and not holds_secret(value)


def digest(value: str) -> str:
    """12 hex digits of the sha256 of `value` (lone surrogates included)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def file_stem(value: str) -> str:
    """A file-name stem derived from `value`: never a path, never empty, unique per value,
    never holding a secret (scrubbed before it is cut)."""
    readable = _UNSAFE_NAME_CHARS.sub("_", cut(value[:SHOWN_CONTEXT], 40))[:40].strip("_") or "voice"
    return f"{readable}-{digest(value)}"


def visible(text: str, *, keep_lines: bool = False) -> str:
    """`text` with no character that a terminal, spreadsheet or browser would act on or
    hide, each shown as its escape. `keep_lines` keeps newline and tab (log messages)."""
    return text.translate(_ESCAPED if keep_lines else _ESCAPED_SPACING)


def json_visible(text: str) -> str:
    """JSON text (as json.dumps writes it) with invisible characters as \\u escapes.
    Valid because json.dumps puts such characters only inside strings."""
    return text.translate(_JSON_ESCAPED)


def shown(value: str, limit: int = 80) -> str:
    """A one-line, bounded form of a server string for messages: visible, cut at `limit`
    (scrubbed of secrets first, so no secret's start survives the cut)."""
    text = visible(value[:limit + SHOWN_CONTEXT])  # what lies beyond is never shown
    return text if len(text) <= limit else f"{cut(text, limit)}… ({len(value)} characters)"


def visible_name(text: str) -> str:
    """A file name or path as one printable line: each character `str.isprintable` refuses
    (controls, format characters, separators but the space) as its Python escape (`\\n`,
    `\\u200d`), an undecodable byte of a file name (kept by surrogateescape) as `\\xNN`."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _name_escape(c) for c in text)


def _name_escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name
        return f"\\x{code - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")

