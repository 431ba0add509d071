"""The archive's optional manifest: which file holds each voice's recording, as the operator says.

A UTF-8 CSV file, one row per voice, `voice_id,path[,language,display_name]`.
A header row is optional: the first non-blank row is a header when its first cell is
`voice_id`, and then its columns must be those names in that order. Blank lines are
skipped; a UTF-8 byte-order mark and CRLF line ends are fine. `path` is relative to the
archive folder (an absolute path is allowed if it lies inside the folder). The manifest's
own path is relative to the folder unless absolute. It is read line by line: a line
longer than MAX_MANIFEST_LINE bytes, a NUL byte, bytes that are not UTF-8, a row with the
wrong number of columns, an empty voice_id or path, a voice_id listed twice, or a
manifest that is not a regular file (a folder, a named pipe) is a ConfigError naming the
file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from audit.archive.paths import NotRegularFile, open_regular
from audit.core.errors import ConfigError
from audit.core.untrusted import visible_name

MANIFEST_COLUMNS = ("voice_id", "path", "language", "display_name")
MAX_MANIFEST_LINE = 65536  # bytes; a row holds an id, a path and two short names
_MANIFEST_HINT = "Each row is voice_id,path[,language,display_name], one row per voice."
_UTF8_HINT = "Save the manifest as a UTF-8 CSV file (one row per voice)."


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    voice_id: str
    path: str  # as written in the manifest
    line: int
    language: str | None = None
    display_name: str | None = None


def read_manifest(path: Path) -> dict[str, ManifestEntry]:
    """Parse the manifest CSV (format in the module docstring); ConfigError names file and line."""
    try:
        file = open_regular(path)
    except FileNotFoundError:
        raise ConfigError(f"archive manifest {visible_name(str(path))} does not exist.",
                          hint="Create it, or unset [archive] manifest to match by file name.") from None
    except NotRegularFile as exc:
        raise ConfigError(f"archive manifest {visible_name(str(path))} is {exc.what}, not a file.",
                          hint="Point [archive] manifest at a CSV file.") from None
    except OSError as exc:
        raise ConfigError(f"archive manifest {visible_name(str(path))} cannot be read: {exc.strerror}.",
                          hint="Save it as a UTF-8 CSV file readable by this user.") from None
    with file:
        try:
            return _parse_manifest(path, _manifest_lines(path, file))
        except OSError as exc:  # an I/O error half way (a failing disk, a vanished mount)
            raise ConfigError(f"archive manifest {visible_name(str(path))} cannot be read: {exc.strerror}.",
                              hint="Check that the disk holding it is readable.") from None


def _manifest_lines(path: Path, file: BinaryIO) -> Iterator[str]:
    """The manifest's lines as text, each read with a bound, each checked to be UTF-8 text."""
    where = visible_name(str(path))
    number = 0
    while raw := file.readline(MAX_MANIFEST_LINE + 1):
        number += 1
        if number == 1:
            if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise ConfigError(f"archive manifest {where} is UTF-16 text, not UTF-8.", hint=_UTF8_HINT)
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if len(raw) > MAX_MANIFEST_LINE:
            raise ConfigError(f"{where}:{number}: line is longer than {MAX_MANIFEST_LINE} bytes; "
                              "not a manifest row.", hint=_MANIFEST_HINT)
        if b"\0" in raw:
            raise ConfigError(f"{where}:{number}: holds a NUL byte; the manifest must be text "
                              "(binary data, or UTF-16?).", hint=_UTF8_HINT)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{where}:{number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                              f"byte {exc.start + 1} of the line).", hint=_UTF8_HINT) from None


def _parse_manifest(path: Path, lines: Iterator[str]) -> dict[str, ManifestEntry]:
    where = visible_name(str(path))
    entries: dict[str, ManifestEntry] = {}
    reader = csv.reader(lines)
    first = True
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            line = reader.line_num
            if not any(cells):
                continue
            if first and cells[0].casefold() == "voice_id":
                first = False
                if len(cells) < 2 or tuple(c.casefold() for c in cells) != MANIFEST_COLUMNS[: len(cells)]:
                    raise ConfigError(f"{where}:{line}: header {visible_name(','.join(cells))} is not "
                                      "voice_id,path[,language,display_name].", hint=_MANIFEST_HINT)
                continue
            first = False
            if not 2 <= len(cells) <= len(MANIFEST_COLUMNS):
                raise ConfigError(f"{where}:{line}: expected voice_id,path[,language,display_name], "
                                  f"found {len(cells)} column(s).", hint=_MANIFEST_HINT)
            voice_id, rel, *extra = cells
            if not voice_id or not rel:
                raise ConfigError(f"{where}:{line}: voice_id and path must not be empty.",
                                  hint=_MANIFEST_HINT)
            if voice_id in entries:
                raise ConfigError(f"{where}:{line}: voice_id {visible_name(voice_id)} is listed again "
                                  f"(first on line {entries[voice_id].line}).",
                                  hint="Keep one row per voice.")
            language, display_name = (extra + ["", ""])[:2]
            entries[voice_id] = ManifestEntry(voice_id, rel, line, language or None, display_name or None)
    except csv.Error as exc:
        raise ConfigError(f"{where}:{reader.line_num}: not valid CSV: {exc}", hint=_MANIFEST_HINT) from None
    return entries
