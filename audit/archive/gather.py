"""Sourcing for a plan: find, check and (where needed) fit each voice's recording.

The I/O half of planning, run before the pure planner: looks each voice up in the
archive index once, checks the recording, and writes a fitted copy into the plan's
folder when the recording is too long, too big or of a type the API refuses. The
archive itself is only ever read.

A voice id the API returned is untrusted: one that is not plain (`untrusted.is_plain_id`:
a path, `/`, NUL, control characters, 300 characters…) is not looked up, gets no file and
is BLOCKED with its own reason; every other voice is sourced as usual. Fitted copies are
named by a hash-suffixed derivative of the id (`RunFolder.fitted_file`), never by the id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from audit.archive.checks import check_source, make_fitted
from audit.archive.index import ArchiveIndex
from audit.core.config import ArchiveSettings
from audit.core.errors import AudioError
from audit.core.models import Clone, Progress, SourceCheck, SourceProblem, Upload
from audit.core.runfolder import PathEscape, RunFolder
from audit.core.untrusted import is_plain_id, shown


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
        return Sourced(checks={c.voice_id: none if is_plain_id(c.voice_id) else unsafe_id(c.voice_id)
                               for c in clones})
    index = ArchiveIndex.from_settings(settings)
    checks: dict[str, SourceCheck] = {}
    uploads: dict[str, Upload] = {}
    progress.start(len(clones), "Checking archived recordings")
    for clone in clones:
        if not is_plain_id(clone.voice_id):
            checks[clone.voice_id] = unsafe_id(clone.voice_id)
            progress.advance()
            continue
        match = index.find(clone)
        check = check_source(match)
        if check.problem is None and match.path is not None:
            try:
                uploads[clone.voice_id] = _upload(clone, match.path, check, folder)
            except AudioError as exc:  # the file changed, or stopped decoding, since its check
                check = replace(check, problem=SourceProblem.CORRUPT, fit=None, mime=None,
                                detail=f"{exc.message} {exc.hint}".strip())
            except PathEscape as exc:
                check = replace(check, problem=SourceProblem.UNSAFE_ID, detail=exc.message)
        checks[clone.voice_id] = check
        progress.advance()
    manifest = {
        voice_id: {k: v for k, v in (("language", e.language), ("display_name", e.display_name)) if v}
        for voice_id, e in index.manifest.items()
    }
    return Sourced(checks, uploads, manifest)


def unsafe_id(voice_id: str) -> SourceCheck:
    """The check of a voice whose id clone-audit will not name files after or tag with."""
    return SourceCheck(
        SourceProblem.UNSAFE_ID,
        f"the API lists this voice under the id \"{shown(voice_id)}\", which is not a plain id "
        "(1-128 letters, digits, _ . : -, not holding the API key); clone-audit makes no file for it "
        "and does not re-clone "
        "it: re-clone it by hand in the dashboard, or ask support about the id",
    )


def _upload(clone: Clone, path: Path, check: SourceCheck, folder: RunFolder) -> Upload:
    assert check.sha256 is not None and check.n_bytes is not None
    if check.fit is None and check.mime is not None:
        return Upload(str(path), path.name, check.mime, check.sha256, check.n_bytes, fitted=False)
    target = folder.fitted_file(clone.voice_id)  # refuses a target outside the folder
    fitted = make_fitted(path, check)
    folder.write_bytes(target, fitted.data)
    # Relative to the plan's folder, so that a copied plan folder still finds its own copies.
    relative = target.relative_to(folder.path).as_posix()
    return Upload(relative, fitted.filename, fitted.mime, fitted.sha256, len(fitted.data), fitted=True)
