"""The history pipeline: record every run in `<out>/history.sqlite`, read it back for reports.

    scan / plan / apply / retire → record_* → compliance.history (SQLite)
    a scan's rows → scan_context → changes since the previous scan, trend, first seen

A composition root shared by the command pipelines: each calls one `record_*` once its
files are published; `scan_context` gives a scan's report (live, or re-rendered by
`clone-audit report`) what changed against the previous scan of the same account (or
`against` a chosen run). `list_runs` is `clone-audit history`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from audit import __version__
from audit.compliance.changes import Changes, HistoryView, Mark, compare, trend_point
from audit.compliance.history import History, RunRecord, history_path
from audit.core.config import Settings, as_dict
from audit.core.errors import UsageError
from audit.core.runfolder import RunFolder, new_run_id, staged
from audit.migrate.document import Plan
from audit.migrate.state import Migration
from audit.report import files
from audit.report.migration import mapping_status
from audit.report.tables import with_history


def marks_of(frame: pd.DataFrame) -> dict[str, Mark]:
    def text(value: Any) -> str:
        return "" if value is None or value != value else str(value)

    return {
        row.voice_id: Mark(row.voice_id, row.verdict, text(row.cause), text(row.display_name),
                           text(row.replaces) or None)
        for row in frame[["voice_id", "verdict", "cause", "display_name", "replaces"]].itertuples(index=False)
    }


def scan_context(
    out_root: Path, meta: Mapping[str, Any], frame: pd.DataFrame, *, against: str | None = None
) -> tuple[HistoryView, pd.DataFrame]:
    """What changed since the previous scan of this account (or since `against`), the trend
    up to this scan, and the frame with its `change` and `first_noncompliant` columns."""
    current = marks_of(frame)
    run_id = str(meta["run_id"])
    point = trend_point(run_id, str(meta["finished_at"]), current)
    path = history_path(out_root)
    if not path.exists():
        if against:
            raise UsageError(f"no run history in {out_root} to compare against.", hint="Pass --out DIR.")
        return HistoryView(Changes(None, None), (point,), recorded=False), with_history(frame, {}, {})
    account, base_url = str(meta.get("account", "")), str(meta["base_url"])
    with History(path) as store:
        earlier = store.scans_before(account, base_url, run_id)
        other = _run(store, against) if against else (earlier[-1] if earlier else None)
        previous = store.marks(other.run_id) if other else None
        first = store.first_noncompliant(account, base_url, run_id)
        trend = tuple(store.trend(account, base_url, run_id)) + (point,)
    changes = compare(previous, current, other.run_id if other else None, other.finished_at if other else None)
    labels = {v: label for v in current if (label := changes.change_of(v))}
    return HistoryView(changes, trend), with_history(frame, labels, first)


def _run(store: History, run_id: str) -> RunRecord:
    record = store.get(run_id)
    if record is None:
        raise UsageError(f"no run {run_id} in the history.", hint="`clone-audit history` lists the runs.")
    return record


def record_scan(out_root: Path, meta: Mapping[str, Any], frame: pd.DataFrame, folder: Path,
                kind: str = "scan", counts: Mapping[str, int] | None = None) -> None:
    marks = marks_of(frame)
    voices = [m for m in marks.values() if not (m.replaces and m.replaces in marks)]
    verdicts: dict[str, int] = {}
    for mark in voices:
        verdicts[mark.verdict] = verdicts.get(mark.verdict, 0) + 1
    _record(out_root, RunRecord(
        run_id=str(meta["run_id"]), kind=kind, account=str(meta.get("account", "")),
        base_url=str(meta["base_url"]), started_at=str(meta["started_at"]), finished_at=str(meta["finished_at"]),
        exit_code=int(meta["exit_code"]), folder=str(folder), counts=dict(counts or verdicts), total=len(voices),
        parameters=meta.get("parameters") or {},
    ), marks.values())


def record_migration(out_root: Path, meta: Mapping[str, Any], plan: Plan, rows: Sequence[Migration],
                     folder: Path) -> None:
    """An apply or retire: counts by ledger state, one mark per old voice with its state."""
    marks = [Mark(m.old_voice_id, mapping_status(m), "", m.display_name or "") for m in rows]
    counts: dict[str, int] = {}
    for mark in marks:
        counts[mark.verdict] = counts.get(mark.verdict, 0) + 1
    _record(out_root, RunRecord(
        run_id=str(meta["run_id"]), kind=str(meta["kind"]), account=str(meta.get("account", "")),
        base_url=plan.base_url, started_at=str(meta["started_at"]), finished_at=str(meta["finished_at"]),
        exit_code=int(meta["exit_code"]), folder=str(folder), counts=counts, total=len(marks),
        parameters={"plan_id": plan.plan_id, **(meta.get("parameters") or {})},
    ), marks)


def write_migration_report(
    kind: str, account: str, plan: Plan, plan_folder: Path, rows: Sequence[Migration], started: datetime,
    exit_code: int, settings: Settings | None,
) -> Path:
    """An apply's, retire's or cutover's own run folder (run.json, mapping.csv, report.html
    with before → after and the plan folder's cutover record), beside the plan's, whose
    reviewed report is never overwritten; recorded in the history. `settings` is None for an
    offline command (cutover). Returns the path of its run.json."""
    out_root = plan_folder.parent
    meta = {
        "tool": "clone-audit", "version": __version__, "kind": kind, "run_id": new_run_id(started),
        "account": account, "plan_id": plan.plan_id, "plan_folder": str(plan_folder), "base_url": plan.base_url,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": as_dict(settings) if settings else {}, "exit_code": int(exit_code),
    }
    _, frame = files.read_run(RunFolder(plan_folder))
    with staged(out_root, str(meta["run_id"])) as folder:
        files.write_migration_run(folder, meta, frame, plan, rows, cutover=files.read_cutover(RunFolder(plan_folder)),
                                  listen_from=RunFolder(plan_folder))
    assert folder.home is not None
    record_migration(out_root, meta, plan, rows, folder.home)
    return RunFolder(folder.home).run_json


def _record(out_root: Path, run: RunRecord, marks: Any) -> None:
    with History(history_path(out_root)) as store:
        store.record(run, marks)


def list_runs(out_root: Path) -> list[RunRecord]:
    path = history_path(out_root)
    if not path.exists():
        return []
    with History(path) as store:
        return store.runs()
