"""Finding each voice's original recording in the operator's archive folder.

This module owns the matching rules: given the archive's candidate files
(`audit.archive.names`: one walk of the folder) and its optional manifest
(`audit.archive.manifest`), which file holds one voice's recording, or why none can be
said to (`SourceMatch`). It reads no recording's contents (archive/checks.py checks what a
match holds) and never touches anything outside the folder (`audit.archive.paths`).

Matching, first step that finds anything wins:
1. `manifest`: the voice's manifest row. A row naming a file that does not exist is
   MISSING (the operator said where it is; no guessing elsewhere).
2. `voice-id`: a file whose name holds the voice id, bounded by the start or end of the
   name or a character that is not a letter or digit (`voice_ab` is not in `voice_abc`).
3. `display-name`: a file whose stem equals the display name, compared after NFKC,
   casefolding and trimming, with spaces, underscores and hyphens treated alike.
Two or more files at one step are AMBIGUOUS (never a guess), unless they are links to the
same file. A candidate whose resolved path lies outside the folder (`../x.wav`, an
absolute path, a symlink) is PATH_ESCAPE.

Hostile archives. A name that matches but is not a regular file (a folder named `x.wav`, a
named pipe, a link loop, a broken link) is named in the MISSING reason instead of
vanishing; such an entry is never opened. A file whose path is not valid UTF-8 is
UNSUPPORTED (rename it: the plan and reports are UTF-8). A subfolder that cannot be listed
is named in every MISSING reason. Names are shown with control and undecodable characters
escaped (`untrusted.visible_name`), so a newline in a file name cannot break a report line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from audit.archive.manifest import ManifestEntry, read_manifest
from audit.archive.names import Names, normalise_name
from audit.archive.paths import is_utf8, not_a_file, resolved
from audit.core.config import ArchiveSettings
from audit.core.errors import ConfigError
from audit.core.models import Clone, SourceProblem
from audit.core.untrusted import visible_name

_SHOWN_NOTES = 5  # non-file matches listed in a MISSING reason


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
                f"archive folder {visible_name(str(folder))} {state}.",
                hint="Set [archive] folder to the directory that holds the original recordings.",
            )
        self.folder = folder.resolve()
        if not is_utf8(str(self.folder)):
            raise ConfigError(f"archive folder {visible_name(str(self.folder))} has a path that is not valid UTF-8.",
                              hint="Rename it, or link to it from a path with a UTF-8 name.")
        manifest_path = None
        if manifest is not None:
            manifest_path = (manifest if manifest.is_absolute() else self.folder / manifest).resolve()
        self.manifest: Mapping[str, ManifestEntry] = (
            read_manifest(manifest_path) if manifest_path is not None else {}
        )
        self._names = Names(self.folder, skip=manifest_path)
        self.unlisted = self._names.unlisted

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
        return len(self._names.all)

    def find(self, clone: Clone) -> SourceMatch:
        entry = self.manifest.get(clone.voice_id)
        if entry is not None:
            return self._from_manifest(entry)
        notes: list[str] = []
        by_id = self._pick("voice-id", self._names.with_id(clone.voice_id),
                           f"file name holds {visible_name(clone.voice_id)}", notes)
        if by_id is not None:
            return by_id
        name = clone.display_name.strip()
        key = normalise_name(name)
        by_name = self._pick("display-name", self._names.with_stem(key) if key else (),
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

    def _from_manifest(self, entry: ManifestEntry) -> SourceMatch:
        where = f"manifest line {entry.line}"
        written = Path(entry.path)
        target = resolved(written if written.is_absolute() else self.folder / written)
        if target is not None and not target.is_relative_to(self.folder):
            return SourceMatch(None, None, "manifest", SourceProblem.PATH_ESCAPE,
                               f"{where}: {visible_name(entry.path)} resolves to {visible_name(str(target))}, outside "
                               f"the archive folder {visible_name(str(self.folder))}; list a file inside the folder")
        relative = target.relative_to(self.folder).as_posix() if target else entry.path
        what = "a symlink loop" if target is None else not_a_file(target)
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
            target = resolved(self.folder / rel)
            if target is None:
                notes.append(f"{visible_name(rel)} is a symlink loop")
            elif not target.is_relative_to(self.folder):
                escapes.append((rel, target))
            elif (other := not_a_file(target)) is not None:
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
        if not (is_utf8(rel) and is_utf8(str(target))):
            return SourceMatch(None, None, how, SourceProblem.UNSUPPORTED,
                               f"file name {visible_name(rel)} is not valid UTF-8 (plans and reports are UTF-8); "
                               "rename the file")
        return SourceMatch(target, rel, how, None, detail)
