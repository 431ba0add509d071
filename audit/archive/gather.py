"""Sourcing for a plan: find, check and (where needed) fit each voice's recording.

The I/O half of planning, run before the pure planner: looks each voice up in the
archive index once, checks the recording, and writes a fitted copy into the plan's
folder when the recording is too long, too big or of a type the API refuses. The
archive itself is only ever read.

A voice id the API returned is untrusted: one that is not plain (`untrusted.is_plain_id`:
a path, `/`, NUL, control characters, 300 characters…) is not looked up, gets no file and
is BLOCKED with its own reason; every other voice is sourced as usual. Fitted copies are
named by a hash-suffixed derivative of the id (`RunFolder.fitted_file`), never by the id.

Checks (and fitted copies) run on every core: the index is searched here, in plan order,
then each found file is checked in a worker process (`spawn`: a clean interpreter, never
a fork of the running event loop); results come back in plan order, each file's problem its
own. Below POOL_FROM files, or with `workers=1`, they run here. A pool that breaks (a worker
killed) leaves the rest to be checked here. Full checks are kept in the per-user check cache
(`audit.archive.cache`), so the next plan skips decoding the files that did not change.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path

from audit.archive.cache import FILE_NAME, CheckCache
from audit.archive.checks import FittedAudio, check_source, make_fitted, shown_name
from audit.archive.index import ArchiveIndex, SourceMatch
from audit.core.config import ArchiveSettings
from audit.core.errors import AudioError, UsageError
from audit.core.models import Clone, Progress, SourceCheck, SourceProblem, Upload
from audit.core.runfolder import PathEscape, RunFolder
from audit.core.untrusted import is_plain_id, shown
from audit.core.userstate import state_dir

POOL_FROM = 48  # fewer files are checked here: starting workers (~0.5 s each) would cost more than it saves
_STATE = object()  # gather's default cache: the one in the per-user state folder
#: One file's outcome from a worker: its check, and its fitted copy or why that failed (message, hint).
Checked = tuple[SourceCheck, FittedAudio | tuple[str, str] | None]


@dataclass(frozen=True)
class Sourced:
    """What the archive gave the planner."""

    checks: dict[str, SourceCheck] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    # The manifest's language and display_name columns, where it has them: they fill in
    # what a clone's own metadata lacks.
    manifest: dict[str, dict[str, str]] = field(default_factory=dict)


def gather(
    clones: Sequence[Clone], settings: ArchiveSettings, folder: RunFolder, progress: Progress,
    *, workers: int | None = None, cache: CheckCache | None | object = _STATE,
) -> Sourced:
    """Source checks for `clones`, and the upload for each usable one.

    `workers`: processes that check files (default: one per core); `cache`: the check cache
    (default: the per-user one; None: check every file)."""
    if not clones:
        return Sourced()
    if not settings.folder:
        none = SourceCheck(SourceProblem.MISSING, "no archive is configured: set [archive] folder")
        return Sourced(checks={c.voice_id: none if is_plain_id(c.voice_id) else unsafe_id(c.voice_id)
                               for c in clones})
    index = ArchiveIndex.from_settings(settings)
    store = _user_cache() if cache is _STATE else cache
    assert store is None or isinstance(store, CheckCache)
    checks: dict[str, SourceCheck] = {}
    uploads: dict[str, Upload] = {}
    progress.start(len(clones), "Checking archived recordings")
    found: list[tuple[Clone, SourceMatch]] = []
    for clone in clones:
        if is_plain_id(clone.voice_id):
            found.append((clone, index.find(clone)))
        else:
            checks[clone.voice_id] = unsafe_id(clone.voice_id)
            progress.advance()
    kept: list[tuple[str, SourceCheck]] = []
    matches = [match for _, match in found]
    for (clone, match), (check, fitted) in zip(found, _checked(matches, store, workers), strict=True):
        if match.path is not None and check.sha256 is not None:
            kept.append((shown_name(match), check))
        if check.problem is None and match.path is not None:
            try:
                uploads[clone.voice_id] = _upload(clone, match.path, check, folder, fitted)
            except AudioError as exc:  # the file changed, or stopped decoding, since its check
                check = replace(check, problem=SourceProblem.CORRUPT, fit=None, mime=None,
                                detail=f"{exc.message} {exc.hint}".strip())
            except PathEscape as exc:
                check = replace(check, problem=SourceProblem.UNSAFE_ID, detail=exc.message)
        checks[clone.voice_id] = check
        progress.advance()
    if store is not None:
        store.keep(kept)
    manifest = {
        voice_id: {k: v for k, v in (("language", e.language), ("display_name", e.display_name)) if v}
        for voice_id, e in index.manifest.items()
    }
    return Sourced({c.voice_id: checks[c.voice_id] for c in clones if c.voice_id in checks}, uploads, manifest)


def _user_cache() -> CheckCache | None:
    try:
        return CheckCache.open(state_dir() / FILE_NAME)
    except UsageError:  # a state folder that is not ours: plan without remembering
        return None


def _checked(matches: list[SourceMatch], cache: CheckCache | None, workers: int | None) -> Iterator[Checked]:
    """Each match's check and fitted copy, in order: in worker processes when worth it."""
    workers = min(workers or _cores(), len(matches))
    done = 0
    if workers > 1 and len(matches) >= POOL_FROM:
        try:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                for result in pool.map(check_one, matches, repeat(cache), chunksize=4):
                    yield result
                    done += 1
        except BrokenProcessPool:  # a worker died (killed, out of memory): the rest are checked here
            pass
    for match in matches[done:]:
        yield check_one(match, cache)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_one(match: SourceMatch, cache: CheckCache | None) -> Checked:
    """One file's check, and its fitted copy when it needs one (run in a worker)."""
    check = check_source(match, cache)
    if check.problem is not None or check.fit is None or match.path is None:
        return check, None
    try:
        return check, make_fitted(match.path, check)
    except AudioError as exc:
        return check, (exc.message, exc.hint)


def unsafe_id(voice_id: str) -> SourceCheck:
    """The check of a voice whose id clone-audit will not name files after or tag with."""
    return SourceCheck(
        SourceProblem.UNSAFE_ID,
        f"the API lists this voice under the id \"{shown(voice_id)}\", which is not a plain id "
        "(1-128 letters, digits, _ . : -, not holding the API key); clone-audit makes no file for it "
        "and does not re-clone "
        "it: re-clone it by hand in the dashboard, or ask support about the id",
    )


def _upload(clone: Clone, path: Path, check: SourceCheck, folder: RunFolder,
            fitted: FittedAudio | tuple[str, str] | None) -> Upload:
    assert check.sha256 is not None and check.n_bytes is not None
    if check.fit is None and check.mime is not None:
        return Upload(str(path), path.name, check.mime, check.sha256, check.n_bytes, fitted=False)
    target = folder.fitted_file(clone.voice_id)  # refuses a target outside the folder
    if fitted is None:
        fitted = make_fitted(path, check)
    if isinstance(fitted, tuple):
        raise AudioError(fitted[0], hint=fitted[1])
    folder.write_bytes(target, fitted.data)
    # Relative to the plan's folder, so that a copied plan folder still finds its own copies.
    relative = target.relative_to(folder.path).as_posix()
    return Upload(relative, fitted.filename, fitted.mime, fitted.sha256, len(fitted.data), fitted=True)
