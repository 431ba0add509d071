"""The history pipeline: what changed since the previous scan, and the migration runs' own folders.

    a scan's rows → scan_context → changes since the previous scan, trend, first seen
    apply / review / retire / cutover / usage → write_migration_report → own folder + history

A composition root shared by the command pipelines: `scan_context` gives a scan's report
(live, or re-rendered by `clone-audit report`) what changed against the previous scan of the
same account (or `against` a chosen run); `write_migration_report` writes a run made on an
applied plan into its own folder and files its record (`audit.runs.store`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.compliance.changes import Changes, HistoryView, Mark, compare, trend_point
from audit.compliance.gate import Baseline
from audit.core.config import Settings, as_dict
from audit.core.errors import ExitCode, UsageError
from audit.core.models import FailOn, Verdict
from audit.core.owncalls import SentCalls
from audit.core.runfolder import RunFolder, new_run_id, staged
from audit.migrate.document import Plan
from audit.migrate.state import Migration
from audit.report import files
from audit.report.rows import with_history_rows
from audit.report.tables import with_history
from audit.runs import document, store
from audit.runs.kind import RunKind
from audit.runs.record import PlanRef, RunRecord, VoiceRow

if TYPE_CHECKING:  # pandas is imported where a frame is built, not when a scan starts
    import pandas as pd


def marks_of(frame: pd.DataFrame) -> dict[str, Mark]:
    def text(value: Any) -> str:
        return "" if value is None or value != value else str(value)

    return {
        row.voice_id: Mark(row.voice_id, row.verdict, text(row.cause), text(row.display_name),
                           text(row.replaces) or None)
        for row in frame[["voice_id", "verdict", "cause", "display_name", "replaces"]].itertuples(index=False)
    }


def scan_context(
    out_root: Path, run: RunRecord, frame: pd.DataFrame, *, against: str | None = None
) -> tuple[HistoryView, pd.DataFrame]:
    """What changed since the previous scan of this account (or since `against`), the trend
    up to this scan, and the frame with its `change` and `first_noncompliant` columns."""
    view, labels, first, today = _context(out_root, run, marks_of(frame), against)
    return view, with_history(frame, labels, first, today)


def scan_context_rows(
    out_root: Path, run: RunRecord, rows: Sequence[VoiceRow]
) -> tuple[HistoryView, list[VoiceRow]]:
    """`scan_context` over a scan's rows (no frame, no pandas): the rows with their history columns."""
    current = {row.voice_id: Mark(row.voice_id, row.verdict, row.cause or "", row.display_name or "",
                                  row.replaces or None) for row in rows}
    view, labels, first, today = _context(out_root, run, current, None)
    return view, with_history_rows(rows, labels, first, today)


def _context(
    out_root: Path, run: RunRecord, current: dict[str, Mark], against: str | None
) -> tuple[HistoryView, dict[str, str], Mapping[str, str], str]:
    today = run.finished_at.date().isoformat()  # the date this run first found a voice non-compliant
    point = trend_point(run.run_id, run.finished_at.isoformat(timespec="seconds"), current)
    path = store.history_path(out_root)
    if not path.exists():
        if against:
            raise UsageError(f"no run history in {out_root} to compare against.", hint="Pass --out DIR.")
        return HistoryView(Changes(None, None), (point,), recorded=False), {}, {}, today
    with store.History(path) as history:
        earlier = history.scans_before(run.account, run.base_url, run.run_id)
        other = _run(history, against) if against else (earlier[-1] if earlier else None)
        previous = history.marks(other.run_id) if other else None
        first = history.first_noncompliant(run.account, run.base_url, run.run_id)
        trend = tuple(history.trend(run.account, run.base_url, run.run_id)) + (point,)
    changes = compare(previous, current, other.run_id if other else None, other.finished_at if other else None)
    labels = {v: label for v in current if (label := changes.change_of(v))}
    return HistoryView(changes, trend), labels, first, today


def baseline(out_root: Path, account: str, base_url: str, ref: str | None = None) -> tuple[Baseline | None, str]:
    """The scan `scan --fail-on new` is judged against, or None and why there is none: `ref`
    (an id, a folder, a run.json, `latest`), else the newest scan of this account and API the
    output folder recorded. A named run of another kind, account or API is a UsageError: it is
    never a baseline."""
    if ref is not None:
        folder = store.find(out_root, ref)
        run = document.load(folder)
        same = run.account == account and run.base_url.rstrip("/") == base_url.rstrip("/")
        if run.kind is not RunKind.SCAN or run.failed or not same:
            what = f"a {run.kind.value} run" if run.kind is not RunKind.SCAN else (
                "a failed scan" if run.failed else "a scan of another account or API")
            raise UsageError(f"--baseline {ref}: run {run.run_id} is {what}, so it cannot be this scan's baseline.",
                             hint="Name a finished scan of the same account and base URL (`clone-audit history`).")
        bad = frozenset(v.voice_id for v in run.voices if v.verdict == Verdict.NON_COMPLIANT)
        return Baseline(run.run_id, run.finished_at.isoformat(timespec="seconds"), bad), ""
    path = store.history_path(out_root)
    if not path.exists():
        return None, f"no earlier scan is recorded in {out_root}" + _HOW
    with store.History(path) as history:
        earlier = history.scans_before(account, base_url, "")
        last = next((row for row in reversed(earlier) if _may_be_baseline(row)), None)
        if last is None:
            what = "earlier scan" if not earlier else "earlier scan that passed its own gate (or ran without one)"
            return None, f"no {what} of this account and API is recorded in {out_root}" + _HOW
        marks = history.marks(last.run_id)
    return Baseline(last.run_id, last.finished_at,
                    frozenset(k for k, m in marks.items() if m.verdict == Verdict.NON_COMPLIANT)), ""


_HOW = "; record one with a plain `clone-audit scan` (no gate), or name one with --baseline RUN"


def _may_be_baseline(row: store.HistoryRow) -> bool:
    """Whether a recorded scan may be the default baseline: a complete scan (not partial, exit 4)
    run without the gate, or a gated one that passed. A gated scan that failed (new voices, or no
    baseline so every non-compliant voice counted) never is: a re-run of the same command would
    otherwise pass on debt no one accepted. (A gated scan that passed with no baseline found no
    non-compliant voice at all: as a baseline it accepts nothing.)"""
    if row.error is not None or row.exit_code not in (ExitCode.OK, ExitCode.FINDINGS):
        return False
    section = row.parameters.get("report")
    gated = isinstance(section, Mapping) and section.get("fail_on") == FailOn.NEW.value
    return not gated or row.exit_code == ExitCode.OK


def _run(history: store.History, run_id: str) -> store.HistoryRow:
    row = history.get(run_id)
    if row is None:
        raise UsageError(f"no run {run_id} in the history.", hint="`clone-audit history` lists the runs.")
    return row


def write_migration_report(
    kind: RunKind, account: str, plan: Plan, plan_folder: Path, rows: Sequence[Migration], started: datetime,
    exit_code: ExitCode, settings: Settings | None, changes: Mapping[str, Any] | None = None,
    tts_calls: tuple[SentCalls, ...] | None = None,
) -> RunRecord:
    """A run made on an applied plan (apply, review, retire, cutover, usage) in its own folder
    (run.json, mapping.csv, report.html with before → after and the plan folder's cutover
    record), beside the plan's, whose reviewed report is never overwritten; filed in the
    history with `exit_code`, the code the process exits with. `settings` is None for an
    offline command; `tts_calls` the TTS calls the run made (apply's verifications). Returns the
    record as written."""
    out_root = plan_folder.parent
    record = RunRecord(
        kind=kind, run_id=new_run_id(started), started_at=started, finished_at=datetime.now(UTC),
        base_url=plan.base_url, exit_code=exit_code, account=account,
        parameters=as_dict(settings) if settings else {}, plan=PlanRef(plan.plan_id, str(plan_folder)),
        changes=dict(changes or {}), tts_calls=tts_calls,
    )
    _, frame = files.read_run(RunFolder(plan_folder))
    with staged(out_root, record.run_id) as folder:
        record = files.write_migration_run(folder, record, frame, plan, rows,
                                           cutover=files.read_cutover(RunFolder(plan_folder)),
                                           listen_from=RunFolder(plan_folder))
    assert folder.home is not None
    record = record.at(folder.home)
    store.record(out_root, record)
    return record


def record_published(out_root: Path, record: RunRecord, folder: Path,
                     counts: Mapping[str, int] | None = None) -> RunRecord:
    """File a scan or plan whose folder was just published; the record as it now stands."""
    record = dataclasses.replace(record, folder=folder)
    store.record(out_root, record, counts)
    return record
