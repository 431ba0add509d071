"""Finding each voice's original recording in the operator's archive folder.

This module owns the archive index: one walk of the folder, the optional manifest,
the matching rules and the path-safety rule. It reads no file contents (archive/checks.py
checks what a match holds) and never touches anything outside the folder.

Manifest: a UTF-8 CSV file, one row per voice, `voice_id,path[,language,display_name]`.
A header row is optional: the first non-blank row is a header when its first cell is
`voice_id`, and then its columns must be those names in that order. Blank lines are
skipped. `path` is relative to the archive folder (an absolute path is allowed if it
lies inside the folder). The manifest's own path is relative to the folder unless
absolute. A row with the wrong number of columns, an empty voice_id or path, or a
voice_id listed twice is a ConfigError naming the file and line.

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
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from audit.core.config import ArchiveSettings
from audit.core.errors import ConfigError
from audit.core.models import Clone, SourceProblem

MANIFEST_COLUMNS = ("voice_id", "path", "language", "display_name")
_MANIFEST_HINT = "Each row is voice_id,path[,language,display_name], one row per voice."
_SEPARATORS = re.compile(r"[\s_\-]+")


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


class ArchiveIndex:
    """The archive folder walked once, and the manifest read once; `find` does no I/O walk."""

    def __init__(self, folder: Path, manifest: Path | None = None) -> None:
        if not folder.is_dir():
            state = "is not a folder" if folder.exists() else "does not exist"
            raise ConfigError(
                f"archive folder {folder} {state}.",
                hint="Set [archive] folder to the directory that holds the original recordings.",
            )
        self.folder = folder.resolve()
        manifest_path = None
        if manifest is not None:
            manifest_path = (manifest if manifest.is_absolute() else self.folder / manifest).resolve()
        self.manifest: Mapping[str, ManifestEntry] = (
            read_manifest(manifest_path) if manifest_path is not None else {}
        )
        self._by_id_part: dict[str, list[str]] = defaultdict(list)
        self._by_stem: dict[str, list[str]] = defaultdict(list)
        for rel in _walk(self.folder, skip=manifest_path):
            name = PurePosixPath(rel).name
            for part in _id_parts(name):
                self._by_id_part[part].append(rel)
            self._by_stem[normalise_name(PurePosixPath(name).stem)].append(rel)

    @classmethod
    def from_settings(cls, settings: ArchiveSettings) -> ArchiveIndex:
        if not settings.folder.strip():
            raise ConfigError(
                "no archive folder is configured.",
                hint="Set [archive] folder to the directory that holds the original recordings.",
            )
        manifest = Path(settings.manifest).expanduser() if settings.manifest.strip() else None
        return cls(Path(settings.folder).expanduser(), manifest)

    def find(self, clone: Clone) -> SourceMatch:
        entry = self.manifest.get(clone.voice_id)
        if entry is not None:
            return self._from_manifest(entry)
        by_id = self._pick("voice-id", self._by_id_part.get(clone.voice_id, ()),
                           f"file name holds {clone.voice_id}")
        if by_id is not None:
            return by_id
        name = clone.display_name.strip()
        key = normalise_name(name)
        by_name = self._pick("display-name", self._by_stem.get(key, ()) if key else (),
                             f"file name matches display name {name!r}")
        if by_name is not None:
            return by_name
        looked = f"no manifest row, no file name holding {clone.voice_id}"
        looked += f", no file named {name!r} (any extension)" if key else ", no display name"
        return SourceMatch(None, None, None, SourceProblem.MISSING,
                           f"no recording found in {self.folder}: {looked}; "
                           "add the voice to the manifest or name its file after the voice id")

    def _from_manifest(self, entry: ManifestEntry) -> SourceMatch:
        where = f"manifest line {entry.line}"
        written = Path(entry.path)
        target = _resolve(written if written.is_absolute() else self.folder / written)
        if target is not None and not target.is_relative_to(self.folder):
            return SourceMatch(None, None, "manifest", SourceProblem.PATH_ESCAPE,
                               f"{where}: {entry.path} resolves to {target}, outside "
                               f"the archive folder {self.folder}; list a file inside the folder")
        relative = target.relative_to(self.folder).as_posix() if target else entry.path
        if target is None or not target.is_file():
            return SourceMatch(None, relative, "manifest", SourceProblem.MISSING,
                               f"{where}: {entry.path} is not a file in {self.folder}; "
                               "fix the path, or remove the row to match by file name")
        return SourceMatch(target, relative, "manifest", None, f"{where}: {relative}")

    def _pick(self, how: str, candidates: Iterable[str], what: str) -> SourceMatch | None:
        """The one usable candidate of a step, a problem, or None when the step finds nothing."""
        found: dict[Path, str] = {}  # resolved target → first relative path that leads to it
        escapes: list[tuple[str, Path]] = []
        for rel in candidates:
            target = _resolve(self.folder / rel)
            if target is None:
                continue  # a link loop leads nowhere
            if not target.is_relative_to(self.folder):
                escapes.append((rel, target))
            elif target.is_file():
                found.setdefault(target, rel)
        names = sorted([*found.values(), *(rel for rel, _ in escapes)])
        if len(names) > 1:
            return SourceMatch(None, None, how, SourceProblem.AMBIGUOUS,
                               f"{what} for {len(names)} files: {', '.join(names)}; "
                               "name the right one in the manifest")
        if escapes:
            rel, target = escapes[0]
            return SourceMatch(None, None, how, SourceProblem.PATH_ESCAPE,
                               f"{rel} is a link to {target}, outside the archive folder "
                               f"{self.folder}; copy the recording into the folder instead")
        if found:
            target, rel = next(iter(found.items()))
            return SourceMatch(target, rel, how, None, f"{what}: {rel}")
        return None


def read_manifest(path: Path) -> dict[str, ManifestEntry]:
    """Parse the manifest CSV (format in the module docstring); ConfigError names file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"archive manifest {path} does not exist.",
                          hint="Create it, or unset [archive] manifest to match by file name.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"archive manifest {path} cannot be read: {exc}",
                          hint="Save it as a UTF-8 CSV file readable by this user.") from None
    entries: dict[str, ManifestEntry] = {}
    reader = csv.reader(io.StringIO(text))
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
                    raise ConfigError(f"{path}:{line}: header {','.join(cells)} is not "
                                      "voice_id,path[,language,display_name].", hint=_MANIFEST_HINT)
                continue
            first = False
            if not 2 <= len(cells) <= len(MANIFEST_COLUMNS):
                raise ConfigError(f"{path}:{line}: expected voice_id,path[,language,display_name], "
                                  f"found {len(cells)} column(s).", hint=_MANIFEST_HINT)
            voice_id, rel, *extra = cells
            if not voice_id or not rel:
                raise ConfigError(f"{path}:{line}: voice_id and path must not be empty.",
                                  hint=_MANIFEST_HINT)
            if voice_id in entries:
                raise ConfigError(f"{path}:{line}: voice_id {voice_id} is listed again "
                                  f"(first on line {entries[voice_id].line}).",
                                  hint="Keep one row per voice.")
            language, display_name = (extra + ["", ""])[:2]
            entries[voice_id] = ManifestEntry(voice_id, rel, line, language or None, display_name or None)
    except csv.Error as exc:
        raise ConfigError(f"{path}:{reader.line_num}: not valid CSV: {exc}", hint=_MANIFEST_HINT) from None
    return entries


def normalise_name(text: str) -> str:
    """The form display names and file stems are compared in."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _SEPARATORS.sub(" ", folded).strip()


def _walk(folder: Path, skip: Path | None) -> list[str]:
    """Relative POSIX paths of every non-hidden file and symlink under `folder`.

    Symlinked folders are listed (so a match on one can be refused) but not entered.
    """
    def fail(exc: OSError) -> None:
        raise ConfigError(f"archive folder {folder}: cannot list {exc.filename}: {exc.strerror}.",
                          hint="Make every subfolder of the archive readable by this user.")

    found = []
    for root, dirs, files in os.walk(folder, onerror=fail):
        here = Path(root)
        links = [d for d in dirs if (here / d).is_symlink()]
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in links)
        for name in sorted(files + links):
            path = here / name
            if not name.startswith(".") and path != skip:
                found.append(path.relative_to(folder).as_posix())
    return found


def _id_parts(name: str) -> set[str]:
    """Every substring of `name` that begins and ends at a boundary (not inside a run of
    letters and digits): the keys a voice id embedded in the name can be found by."""
    cuts = [i for i, char in enumerate(name) if not char.isalnum()]
    starts, ends = [0, *(i + 1 for i in cuts)], [*cuts, len(name)]
    return {name[s:e] for s in starts for e in ends if s < e}


def _resolve(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
