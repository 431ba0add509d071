"""Generated archives, synthesised once per test process: `archive_for(org, folder, seed)` gives
what `generate_archive` gives (the same files, byte for byte, and the same `ArchiveTruth`), but
the speech is synthesised only the first time an org and seed are asked for; later calls copy
those files into the new folder. A test owns its copy and may change it freely."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from audit.emulator import generate_archive
from audit.emulator.org import Org
from audit.emulator.recordings import ArchiveTruth

_made: dict[tuple[object, ...], tuple[Path, ArchiveTruth]] = {}
_store: list[Path] = []


def archive_for(org: Org, folder: Path, seed: int) -> ArchiveTruth:
    """`generate_archive(org, folder, seed)`, copied from this process's first one for the same org."""
    key = (seed, tuple((c.voice_id, c.engine, str(c.fields.get("displayName", ""))) for c in org.clones))
    if key not in _made:
        _made[key] = (made := _root() / str(len(_made)), generate_archive(org, made, seed))
    source, truth = _made[key]
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path | None] = {}
    for voice_id, path in truth.paths.items():
        paths[voice_id] = None if path is None else Path(shutil.copyfile(path, folder / path.name))
    return ArchiveTruth(outcomes=truth.outcomes, paths=paths)


def _root() -> Path:
    if not _store:
        _store.append(Path(tempfile.mkdtemp(prefix="archives-")))
        atexit.register(shutil.rmtree, _store[0], True)
    return _store[0]
