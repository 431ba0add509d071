"""What every command prints the same way: a scan's summary table and costs, the `Run:` line."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from audit.console import print_summary, stderr
from audit.runs.record import RunRecord

if TYPE_CHECKING:  # the pipeline is imported when a command runs, not at start-up
    from audit.pipeline.scan import ScanRun


def print_lines(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def print_outcome(run: ScanRun, record: RunRecord) -> None:
    """A scan's (or a plan's) verdict table, what its probes cost, the concurrency found, its folder."""
    from audit.report.tables import summary, voice_frame

    print_summary(summary(voice_frame(run.results, run.finished_at)), f"Run {run.run_id}")
    if run.cost is not None:
        reused = f", {run.cost['probes_reused']} reused from earlier scans" if run.cost["probes_reused"] else ""
        stderr.print(f"Cost: {run.cost['tts_characters']:,} TTS characters in {run.cost['tts_probes']:,} probe(s){reused}.")
    if run.concurrency is not None:
        c = run.concurrency
        stderr.print(f"Account concurrency: {c['account_limit_found']} ({c['mode']}, started from "
                     f"{c['started_from']}); {c['answered_429']} of {c['requests']} request(s) answered 429.")
    print(f"Reports: {record.folder}", file=sys.stdout)


def print_run(record: RunRecord | None) -> None:
    """The last line of a command that wrote a run: where its run.json is."""
    if record is not None and record.run_json is not None:
        print(f"Run: {record.run_json}")
