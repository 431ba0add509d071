"""The machine-readable results CI reads: a cutover as SARIF, a scan as JUnit XML.

    CutoverRun + the scanned paths → the repository root (git) → cutover.sarif.sarif_log → SARIF text
    RunRecord (a scan's, or a plan's) → report.junit.render_junit → JUnit XML text

A composition root: it finds what the pure renderers need (the repository root the SARIF
URIs are relative to, the tool's version and home page) and writes their text where the
user asked (`-o FILE`, `--junit FILE`), or hands it back for stdout.

Each renderer is imported when its log is made: a scan that checks its `--junit FILE` loads
neither the cutover (its scanner, walker, client) nor the SARIF writer, and a cutover no
XML; the installed metadata is read only for a SARIF log's home page.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit import __version__
from audit.core.errors import UsageError
from audit.core.runfolder import write_text
from audit.core.secrets import scrub_values
from audit.core.untrusted import json_visible
from audit.runs.kind import RunKind

if TYPE_CHECKING:
    from audit.pipeline.cutover import CutoverRun
    from audit.runs.record import RunRecord


def information_uri() -> str | None:
    """The project's home page as its installed metadata names it (None when it names none)."""
    from importlib import metadata

    try:
        meta = metadata.metadata("clone-audit")
    except metadata.PackageNotFoundError:
        return None
    urls = [entry.partition(",") for entry in meta.get_all("Project-URL") or []]
    homes = [url.strip() for label, _, url in urls
             if label.strip().lower() in ("homepage", "home", "source", "repository") and url.strip()]
    return homes[0] if homes else (meta.get_all("Home-page") or [None])[0]


def scan_root(paths: Sequence[Path]) -> Path:
    """What SARIF URIs are relative to: the git work tree top of the scanned paths (else the
    path given); for paths in several places, the folder they share."""
    from audit.cutover.walk import repository_root

    roots = {repository_root(p) for p in paths}
    return roots.pop() if len(roots) == 1 else Path(os.path.commonpath(sorted(map(str, roots))))


def cutover_sarif(run: CutoverRun, paths: Sequence[Path], started: datetime, finished: datetime) -> str:
    """The cutover's occurrences left in the files as a SARIF 2.1.0 log (JSON text)."""
    from audit.cutover.sarif import sarif_log

    log: dict[str, Any] = sarif_log(
        run.remaining, run.scan.unchecked, scan_root(paths), version=__version__,
        information_uri=information_uri(), exit_code=int(run.exit_code), started=started, finished=finished,
    )
    return json_visible(json.dumps(scrub_values(log), ensure_ascii=False, indent=2)) + "\n"


def junit_of(record: RunRecord) -> str:
    """A scan's (or a plan's) voices as JUnit XML; UsageError for a run with no verdicts."""
    if record.kind not in (RunKind.SCAN, RunKind.PLAN):
        raise UsageError(f"run {record.run_id} is a {record.kind.value} run: JUnit XML is made from a scan "
                         "(or a plan), one test case per voice.", hint="Name a scan: `clone-audit history` lists them.")
    from audit.report.junit import render_junit

    return render_junit(record)


def check_output(path: Path, flag: str, inputs: Sequence[Path] = (), scanned: Sequence[Path] = ()) -> None:
    """A file the run will write at its end: its folder must exist now (before any work), and it
    is none of the run's `inputs` (the mapping) nor a file of the `scanned` paths it would replace
    (an earlier log, `.sarif`, may be: the cutover leaves that file out of its scan)."""
    if path.is_dir() or not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: " + ("it is a folder." if path.is_dir() else
                         f"the folder {path.parent} does not exist."), hint="Name a file in an existing folder.")
    target = Path(os.path.realpath(path))
    if any(target == Path(os.path.realpath(p)) for p in inputs):
        raise UsageError(f"{flag} {path} is the mapping this run reads: writing there would replace it.",
                         hint="Name another file, e.g. -o cutover.sarif.")
    inside = any(target.is_relative_to(os.path.realpath(p)) for p in scanned)
    if inside and target.exists() and not target.name.lower().endswith((".sarif", ".sarif.json")):
        raise UsageError(f"{flag} {path} is a file of the scanned paths: writing there would replace it.",
                         hint="Name a new file, or a .sarif log written before (the file -o names is never scanned).")


def write(path: Path, text: str) -> None:
    write_text(path, text)
