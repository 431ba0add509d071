"""Strings that came from the server, and what may be done with them.

A voice id, display name, tag or language returned by the API is untrusted data: it may
hold `../`, an absolute path, `/`, `\\`, NUL, control characters, ESC sequences, bidi
overrides, or be 10 KB long; so may a file name found on disk. This module owns the rules
that keep such a string from doing harm, and is the one home of escaping text for display,
so no other module has to decide them again:

- `is_plain_id`: the voice ids clone-audit acts on beyond reporting (names a file after,
  tags a replacement with): 1-128 ASCII letters, digits and `_ . : -`, not starting with
  a dot. Every id the API documents (`voice_…`) is plain; anything else is reported, with
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

from audit.core.secrets import cut

PLAIN_ID = re.compile(r"[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_INVISIBLE = re.compile(f"[{_CONTROLS}]")
_INVISIBLE_OR_SPACING = re.compile(f"[{_CONTROLS}\t\n]")


def is_plain_id(value: object) -> bool:
    return isinstance(value, str) and PLAIN_ID.fullmatch(value) is not None


def digest(value: str) -> str:
    """12 hex digits of the sha256 of `value` (lone surrogates included)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def file_stem(value: str) -> str:
    """A file-name stem derived from `value`: never a path, never empty, unique per value."""
    readable = _UNSAFE_NAME_CHARS.sub("_", value)[:40].strip("_") or "voice"
    return f"{readable}-{digest(value)}"


def visible(text: str, *, keep_lines: bool = False) -> str:
    """`text` with no character that a terminal, spreadsheet or browser would act on or
    hide, each shown as its escape. `keep_lines` keeps newline and tab (log messages)."""
    pattern = _INVISIBLE if keep_lines else _INVISIBLE_OR_SPACING
    return pattern.sub(_escape, text)


def json_visible(text: str) -> str:
    """JSON text (as json.dumps writes it) with invisible characters as \\u escapes.
    Valid because json.dumps puts such characters only inside strings."""
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def shown(value: str, limit: int = 80) -> str:
    """A one-line, bounded form of a server string for messages: visible, cut at `limit`
    (scrubbed of secrets first, so no secret's start survives the cut)."""
    text = visible(value)
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


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
