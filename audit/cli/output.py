"""What every command prints the same way: a scan's summary table and costs, and how it ends.

A command that writes a run ends with its result on stdout: the `Run: <run.json>` line, the
last line, also under --quiet; or with --json one JSON document (`audit.runs.summary`) and
nothing else on stdout: the folder is in the document, so no `Run:` line follows it.
`routed` sends everything else a command prints where --quiet and --json want it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from audit.console import print_summary, stderr
from audit.core.secrets import scrub, scrub_values
from audit.core.untrusted import json_visible
from audit.runs.kind import RunKind

if TYPE_CHECKING:  # the pipeline is imported when a command runs, not at start-up
    from audit.pipeline.scan import ScanRun
    from audit.runs.record import RunRecord


def print_lines(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def print_outcome(run: ScanRun, record: RunRecord) -> None:
    """A scan's (or a plan's) verdict table, what its probes cost, the concurrency found, its folder."""
    from audit.report.rows import row_summary, scan_rows  # the run's rows: no pandas for a table

    print_summary(row_summary(record.voices or scan_rows(run.results, run.finished_at)), f"Run {run.run_id}")
    if run.cost is not None:
        reused = f", {run.cost['probes_reused']} reused from earlier scans" if run.cost["probes_reused"] else ""
        stderr.print(f"Cost: {run.cost['tts_characters']:,} TTS characters in {run.cost['tts_probes']:,} probe(s){reused}.")
    if run.concurrency is not None:
        c = run.concurrency
        stderr.print(f"Account concurrency: {c['account_limit_found']} ({c['mode']}, started from "
                     f"{c['started_from']}); {c['answered_429']} of {c['requests']} request(s) answered 429.")
    print(f"Reports: {record.folder}", file=sys.stdout)


#: Where a command's result goes: stdout as it was before `routed` turned the rest aside.
_RESULT: list[TextIO] = []


@contextlib.contextmanager
def routed(*, quiet: bool, as_json: bool) -> Iterator[None]:
    """While a command runs: under --quiet nothing but its result is printed (errors print
    after it); under --json all but the JSON document goes to stderr."""
    _RESULT.append(sys.stdout)
    try:
        if quiet:
            stderr.quiet = True
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                yield
        elif as_json:
            with contextlib.redirect_stdout(sys.stderr):
                yield
        else:
            yield
    finally:
        stderr.quiet = False
        _RESULT.pop()


def _result() -> TextIO:
    return _RESULT[-1] if _RESULT else sys.stdout


def print_run(record: RunRecord | None) -> None:
    """The last line of a command that wrote a run: where its run.json is (also under --quiet)."""
    if record is not None and record.run_json is not None:
        print(f"Run: {record.run_json}", file=_result(), flush=True)


def finish(args: Any, record: RunRecord | None, kind: RunKind, exit_code: int, **extra: Any) -> int:
    """How a command that writes a run ends: with --json its one JSON summary, else the `Run:`
    line. Returns `exit_code`, the code the process exits with."""
    if getattr(args, "json", False):
        from audit.runs.summary import summary  # the run store's tally: loaded for --json alone

        print_json(summary(record, kind=kind, exit_code=exit_code, **extra))
    else:
        print_run(record)
    return int(exit_code)


def print_document(text: str) -> None:
    """A command's result document (SARIF, say) on stdout, as it is, under --quiet too."""
    print(scrub(text), end="", file=_result(), flush=True)


def print_json(document: Any) -> None:
    """One JSON document on stdout (under --quiet too), server text in it made visible."""
    text = scrub(json_visible(json.dumps(scrub_values(document), ensure_ascii=False, indent=2, default=str)))
    print(text, file=_result(), flush=True)
