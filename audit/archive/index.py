"""Finding each voice's original recording in the operator's archive folder.

This module owns the archive index: one walk of the folder, the optional manifest,
the matching rules and the path-safety rules (`open_regular`). It reads no
recording's contents (archive/checks.py checks what a match holds) and never touches anything
outside the folder.

Manifest: a UTF-8 CSV file, one row per voice, `voice_id,path[,language,display_name]`.
A header row is optional: the first non-blank row is a header when its first cell is
`voice_id`, and then its columns must be those names in that order. Blank lines are
skipped; a UTF-8 byte-order mark and CRLF line ends are fine. `path` is relative to the
archive folder (an absolute path is allowed if it lies inside the folder). The manifest's
own path is relative to the folder unless absolute. It is read line by line: a line
longer than MAX_MANIFEST_LINE bytes, a NUL byte, bytes that are not UTF-8, a row with the
wrong number of columns, an empty voice_id or path, a voice_id listed twice, or a
manifest that is not a regular file (a folder, a named pipe) is a ConfigError naming the
file and line.

Matching, first step that finds anything wins:
1. `manifest`: the voice's manifest row. A row naming a file that does not exist is
   MISSING (the operator said where it is; no guessing elsewhere).
2. `voice-id`: a file whose name holds the voice id, bounded by the start or end of the
   name or a character that is not a letter or digit (`voice_ab` is not in `voice_abc`).
3. `display-name`: a file whose stem equals the display name, compared after NFKC,
   casefolding and trimming, with spaces, underscores and hyphens treated alike.
Two or more files at one step are AMBIGUOUS (never a guess), unless they are links to the
same file. Hidden files and folders (dot-names) are not indexed; extensions are not
looked at (the content decides the type later). A candidate whose resolved path lies
outside the folder (`../x.wav`, an absolute path, a symlink) is PATH_ESCAPE.

Hostile archives. Every other entry is indexed, folders and special files included, so
that a name that matches but is not a regular file (a folder named `x.wav`, a named pipe,
a link loop, a broken link) is named in the MISSING reason instead of vanishing; such an
entry is never opened. A file whose path is not valid UTF-8 is UNSUPPORTED (rename it: the
plan and reports are UTF-8). A subfolder that cannot be listed is skipped and named in
every MISSING reason (only an unreadable archive folder itself is a ConfigError). Names
are shown with control and undecodable characters escaped (`untrusted.visible_name`), so a
newline in a file name cannot break a report line.

Cost: one os.scandir per folder; each name is filed under its runs of letters and digits
and under its normalised stem. A voice id is looked up through its rarest run and then
checked at its boundaries, so indexing is linear in the number and length of the names.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import re
import stat
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from audit.core.config import ArchiveSettings
from audit.core.errors import ConfigError
from audit.core.models import Clone, SourceProblem
from audit.core.untrusted import visible_name

MANIFEST_COLUMNS = ("voice_id", "path", "language", "display_name")
MAX_MANIFEST_LINE = 65536  # bytes; a row holds an id, a path and two short names
_MANIFEST_HINT = "Each row is voice_id,path[,language,display_name], one row per voice."
_UTF8_HINT = "Save the manifest as a UTF-8 CSV file (one row per voice)."
_SEPARATORS = re.compile(r"[\s_\-]+")
_RUNS = re.compile(r"[^\W_]+")  # maximal runs of letters and digits (str.isalnum)
_SHOWN_NOTES = 5  # non-file matches listed in a MISSING reason


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    voice_id: str
    path: str  # as written in the manifest
    line: int
    language: str | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class SourceMatch:
    """Where the archive holds one voice's recording, or why it cannot say."""

    path: Path | None  # absolute, resolved, inside the folder; None when there is a problem
    relative: str | None  # where it was found, relative to the folder (POSIX); None on escape
    matched_by: str | None  # "manifest", "voice-id" or "display-name"
    problem: SourceProblem | None
    detail: str  # one line a person can act on


class NotRegularFile(OSError):
    """The path exists but is a folder, a named pipe, a socket or a device."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(errno.EINVAL, f"is {what}, not a file", str(path))
        self.what = what


class ArchiveIndex:
    """The archive folder walked once, and the manifest read once; `find` does no I/O walk."""

    def __init__(self, folder: Path, manifest: Path | None = None) -> None:
        if not folder.is_dir():
            state = "is not a folder" if folder.exists() else "does not exist"
            raise ConfigError(
                f"archive folder {visible_name(str(folder))} {state}.",
                hint="Set [archive] folder to the directory that holds the original recordings.",
            )
        self.folder = folder.resolve()
        if not _is_utf8(str(self.folder)):
            raise ConfigError(f"archive folder {visible_name(str(self.folder))} has a path that is not valid UTF-8.",
                              hint="Rename it, or link to it from a path with a UTF-8 name.")
        manifest_path = None
        if manifest is not None:
            manifest_path = (manifest if manifest.is_absolute() else self.folder / manifest).resolve()
        self.manifest: Mapping[str, ManifestEntry] = (
            read_manifest(manifest_path) if manifest_path is not None else {}
        )
        names, self.unlisted = _walk(self.folder, skip=manifest_path)
        self._names = names
        self._by_run: dict[str, list[str]] = defaultdict(list)
        self._by_stem: dict[str, list[str]] = defaultdict(list)
        for rel in names:
            name = rel.rpartition("/")[2]
            for run in set(_RUNS.findall(name)):
                self._by_run[run].append(rel)
            self._by_stem[normalise_name(_stem(name))].append(rel)

    @classmethod
    def from_settings(cls, settings: ArchiveSettings) -> ArchiveIndex:
        if not settings.folder.strip():
            raise ConfigError(
                "no archive folder is configured.",
                hint="Set [archive] folder to the directory that holds the original recordings.",
            )
        manifest = Path(settings.manifest).expanduser() if settings.manifest.strip() else None
        return cls(Path(settings.folder).expanduser(), manifest)

    def __len__(self) -> int:
        """Entries indexed (files, links, folders and special files)."""
        return len(self._names)

    def find(self, clone: Clone) -> SourceMatch:
        entry = self.manifest.get(clone.voice_id)
        if entry is not None:
            return self._from_manifest(entry)
        notes: list[str] = []
        by_id = self._pick("voice-id", self._with_id(clone.voice_id),
                           f"file name holds {visible_name(clone.voice_id)}", notes)
        if by_id is not None:
            return by_id
        name = clone.display_name.strip()
        key = normalise_name(name)
        by_name = self._pick("display-name", self._by_stem.get(key, ()) if key else (),
                             f"file name matches display name '{visible_name(name)}'", notes)
        if by_name is not None:
            return by_name
        looked = f"no manifest row, no file name holding {visible_name(clone.voice_id)}"
        looked += f", no file named '{visible_name(name)}' (any extension)" if key else ", no display name"
        if notes:
            more = len(notes) - _SHOWN_NOTES
            looked += "; not usable: " + ", ".join(notes[:_SHOWN_NOTES]) + (f" and {more} more" if more > 0 else "")
        if self.unlisted:
            looked += (f"; {len(self.unlisted)} subfolder(s) could not be listed: "
                       + ", ".join(visible_name(u) for u in self.unlisted[:3]))
        return SourceMatch(None, None, None, SourceProblem.MISSING,
                           f"no recording found in {visible_name(str(self.folder))}: {looked}; "
                           "add the voice to the manifest or name its file after the voice id")

    def _with_id(self, voice_id: str) -> list[str]:
        """Indexed names holding `voice_id` at boundaries, in walk order.

        Every run of letters and digits of the id is a whole run of any name holding it at
        boundaries, so the shortest of those runs' lists holds every such name."""
        if not voice_id:
            return []
        runs = set(_RUNS.findall(voice_id))
        pool = min((self._by_run.get(run, []) for run in runs), key=len) if runs else self._names
        return [rel for rel in pool if _holds(rel.rpartition("/")[2], voice_id)]

    def _from_manifest(self, entry: ManifestEntry) -> SourceMatch:
        where = f"manifest line {entry.line}"
        written = Path(entry.path)
        target = _resolve(written if written.is_absolute() else self.folder / written)
        if target is not None and not target.is_relative_to(self.folder):
            return SourceMatch(None, None, "manifest", SourceProblem.PATH_ESCAPE,
                               f"{where}: {visible_name(entry.path)} resolves to {visible_name(str(target))}, outside "
                               f"the archive folder {visible_name(str(self.folder))}; list a file inside the folder")
        relative = target.relative_to(self.folder).as_posix() if target else entry.path
        what = "a symlink loop" if target is None else _not_a_file(target)
        if what == "missing":
            return SourceMatch(None, relative, "manifest", SourceProblem.MISSING,
                               f"{where}: {visible_name(entry.path)} is not a file in {visible_name(str(self.folder))}; "
                               "fix the path, or remove the row to match by file name")
        if what is not None:
            return SourceMatch(None, relative, "manifest", SourceProblem.MISSING,
                               f"{where}: {visible_name(entry.path)} is {what}, not a recording file; "
                               "fix the path, or remove the row to match by file name")
        assert target is not None
        return self._usable(target, relative, "manifest", f"{where}: {visible_name(relative)}")

    def _pick(self, how: str, candidates: Iterable[str], what: str, notes: list[str]) -> SourceMatch | None:
        """The one usable candidate of a step, a problem, or None when the step finds nothing.

        Candidates that are not regular files are added to `notes` ("x is a folder")."""
        found: dict[Path, str] = {}  # resolved target → first relative path that leads to it
        escapes: list[tuple[str, Path]] = []
        for rel in candidates:
            target = _resolve(self.folder / rel)
            if target is None:
                notes.append(f"{visible_name(rel)} is a symlink loop")
            elif not target.is_relative_to(self.folder):
                escapes.append((rel, target))
            elif (other := _not_a_file(target)) is not None:
                other = "a link to nothing" if other == "missing" else other
                notes.append(f"{visible_name(rel)} is {other}")
            else:
                found.setdefault(target, rel)
        names = sorted([*found.values(), *(rel for rel, _ in escapes)])
        if len(names) > 1:
            return SourceMatch(None, None, how, SourceProblem.AMBIGUOUS,
                               f"{what} for {len(names)} files: {', '.join(visible_name(n) for n in names)}; "
                               "name the right one in the manifest")
        if escapes:
            rel, target = escapes[0]
            return SourceMatch(None, None, how, SourceProblem.PATH_ESCAPE,
                               f"{visible_name(rel)} is a link to {visible_name(str(target))}, outside the archive folder "
                               f"{visible_name(str(self.folder))}; copy the recording into the folder instead")
        if found:
            target, rel = next(iter(found.items()))
            return self._usable(target, rel, how, f"{what}: {visible_name(rel)}")
        return None

    def _usable(self, target: Path, rel: str, how: str, detail: str) -> SourceMatch:
        if not (_is_utf8(rel) and _is_utf8(str(target))):
            return SourceMatch(None, None, how, SourceProblem.UNSUPPORTED,
                               f"file name {visible_name(rel)} is not valid UTF-8 (plans and reports are UTF-8); "
                               "rename the file")
        return SourceMatch(target, rel, how, None, detail)


def open_regular(path: Path) -> io.BufferedReader:
    """Open `path` for reading if it is a regular file, never blocking on what it is not.

    A folder, named pipe, socket or device raises NotRegularFile without being opened (a
    FIFO would block an open for reading until a writer comes); other failures raise the
    OSError that open raises (FileNotFoundError, PermissionError, ELOOP for a link loop).
    The mode is checked again on the opened descriptor, so a swap in between is caught.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, describe_mode(mode))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, describe_mode(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def describe_mode(mode: int) -> str:
    """What a file that is not a regular file is, for a reason a person reads."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


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


def normalise_name(text: str) -> str:
    """The form display names and file stems are compared in."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _SEPARATORS.sub(" ", folded).strip()


def _walk(folder: Path, skip: Path | None) -> tuple[list[str], list[str]]:
    """Relative POSIX paths of every non-hidden entry under `folder` (files, links, folders,
    special files), folder by folder in sorted order; and the subfolders that could not be listed.

    Symlinked folders are listed (so a match on one can be refused) but not entered.
    """
    skipped = str(skip) if skip is not None else None
    found: list[str] = []
    unlisted: list[str] = []
    stack = [("", str(folder))]
    while stack:
        rel_dir, here = stack.pop()
        try:
            with os.scandir(here) as listing:
                entries = sorted((e.name, e.path, _is_real_dir(e)) for e in listing if not e.name.startswith("."))
        except OSError as exc:
            if not rel_dir:
                raise ConfigError(f"archive folder {visible_name(str(folder))} cannot be listed: {exc.strerror}.",
                                  hint="Make the archive folder readable by this user.") from None
            unlisted.append(rel_dir)
            continue
        subfolders = []
        for name, path, is_dir in entries:
            if path == skipped:
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            found.append(rel)
            if is_dir:
                subfolders.append((rel, path))
        stack.extend(reversed(subfolders))
    return found, unlisted


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _holds(name: str, voice_id: str) -> bool:
    """Whether `name` holds `voice_id` starting and ending at a boundary (not inside a run of
    letters and digits)."""
    at = name.find(voice_id)
    while at >= 0:
        end = at + len(voice_id)
        if (at == 0 or not name[at - 1].isalnum()) and (end == len(name) or not name[end].isalnum()):
            return True
        at = name.find(voice_id, at + 1)
    return False


def _stem(name: str) -> str:
    """`PurePosixPath(name).stem`, without building a path."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _not_a_file(path: Path) -> str | None:
    """None for a regular file; otherwise what it is ("a folder", "missing", ...). Never opens it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "missing"
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        return f"unreadable ({exc.strerror})"
    except ValueError:  # a NUL in the path
        return "missing"
    return None if stat.S_ISREG(mode) else describe_mode(mode)


def _resolve(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop
        return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a byte that is not UTF-8, kept by the file system's surrogateescape
        return False
    return True
