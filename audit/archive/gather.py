"""Sourcing for a plan: find, check and (where needed) fit each voice's recording.

The I/O half of planning, run before the pure planner: looks each voice up in the
archive index once, checks the recording, and writes a fitted copy into the plan's
folder when the recording is too long, too big or of a type the API refuses. The
archive itself is only ever read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from audit.archive.index import ArchiveIndex
from audit.core.config import ArchiveSettings
from audit.core.models import Clone, Progress, SourceCheck, SourceProblem, Upload

from audit.core.runfolder import RunFolder, ensure_folder, write_bytes
from audit.archive.checks import check_source, make_fitted


@dataclass(frozen=True)
class Sourced:
    """What the archive gave the planner."""

    checks: dict[str, SourceCheck] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    # The manifest's language and display_name columns, where it has them: they fill in
    # what a clone's own metadata lacks.
    manifest: dict[str, dict[str, str]] = field(default_factory=dict)


def gather(
    clones: Sequence[Clone], settings: ArchiveSettings, folder: RunFolder, progress: Progress
) -> Sourced:
    """Source checks for `clones`, and the upload for each usable one."""
    if not clones:
        return Sourced()
    if not settings.folder:
        none = SourceCheck(SourceProblem.MISSING, "no archive is configured: set [archive] folder")
        return Sourced(checks={c.voice_id: none for c in clones})
    index = ArchiveIndex.from_settings(settings)
    checks: dict[str, SourceCheck] = {}
    uploads: dict[str, Upload] = {}
    progress.start(len(clones), "Checking archived recordings")
    for clone in clones:
        match = index.find(clone)
        check = check_source(match)
        checks[clone.voice_id] = check
        if check.problem is None and match.path is not None:
            uploads[clone.voice_id] = _upload(clone, match.path, check, folder)
        progress.advance()
    manifest = {
        voice_id: {k: v for k, v in (("language", e.language), ("display_name", e.display_name)) if v}
        for voice_id, e in index.manifest.items()
    }
    return Sourced(checks, uploads, manifest)


def _upload(clone: Clone, path: Path, check: SourceCheck, folder: RunFolder) -> Upload:
    assert check.sha256 is not None and check.n_bytes is not None
    if check.fit is None and check.mime is not None:
        return Upload(str(path), path.name, check.mime, check.sha256, check.n_bytes, fitted=False)
    fitted = make_fitted(path, check)
    ensure_folder(folder.fitted)
    target = folder.fitted_file(clone.voice_id)
    write_bytes(target, fitted.data)
    # Relative to the plan's folder, so that a copied plan folder still finds its own copies.
    relative = target.relative_to(folder.path).as_posix()
    return Upload(relative, fitted.filename, fitted.mime, fitted.sha256, len(fitted.data), fitted=True)
