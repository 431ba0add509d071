"""How a file's bytes become text and back, exactly.

Owns `sniff` (which encoding a file is in, or None for binary) and `decode`/`encode`,
which round-trip every byte: UTF-8 is decoded with `surrogateescape`, so a Latin-1 or
otherwise invalid byte survives untouched; a UTF-8 BOM stays; UTF-16 with a BOM is
decoded and encoded with the same BOM and byte order. A file is binary when its first
block holds a NUL byte and it does not start with a UTF-16 BOM (UTF-32 counts as
binary). A UTF-16 file that does not decode cleanly (odd length, broken surrogates) is
refused rather than guessed. Pure.
"""

from __future__ import annotations

import codecs
import enum

BLOCK = 8192


class Encoding(enum.StrEnum):
    UTF8 = "utf-8"  # also ASCII and any non-UTF-8 8-bit text, byte for byte
    UTF8_BOM = "utf-8-bom"
    UTF16_LE = "utf-16-le"
    UTF16_BE = "utf-16-be"

    @property
    def is_utf16(self) -> bool:
        return self in (Encoding.UTF16_LE, Encoding.UTF16_BE)


_BOMS = {
    Encoding.UTF8_BOM: codecs.BOM_UTF8,
    Encoding.UTF16_LE: codecs.BOM_UTF16_LE,
    Encoding.UTF16_BE: codecs.BOM_UTF16_BE,
}


def sniff(data: bytes) -> Encoding | None:
    """The file's encoding, or None when it is binary."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return None
    if data.startswith(codecs.BOM_UTF16_LE):
        return Encoding.UTF16_LE
    if data.startswith(codecs.BOM_UTF16_BE):
        return Encoding.UTF16_BE
    if b"\x00" in data[:BLOCK]:
        return None
    return Encoding.UTF8_BOM if data.startswith(codecs.BOM_UTF8) else Encoding.UTF8


def decode(data: bytes, encoding: Encoding) -> str:
    """The text of `data`; ValueError when it would not encode back to the same bytes."""
    if encoding is Encoding.UTF8:
        return data.decode("utf-8", "surrogateescape")
    body = data[len(_BOMS[encoding]):]
    if encoding is Encoding.UTF8_BOM:
        return body.decode("utf-8", "surrogateescape")
    text = body.decode(encoding.value, "strict")  # UnicodeDecodeError is a ValueError
    if encode(text, encoding) != data:
        raise ValueError(f"{encoding.value} text that does not round-trip")
    return text


def encode(text: str, encoding: Encoding) -> bytes:
    if encoding is Encoding.UTF8:
        return text.encode("utf-8", "surrogateescape")
    if encoding is Encoding.UTF8_BOM:
        return _BOMS[encoding] + text.encode("utf-8", "surrogateescape")
    return _BOMS[encoding] + text.encode(encoding.value, "strict")
