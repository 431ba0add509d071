"""The report pipeline: re-render a past run offline, in any format, against any other run.

    RUN (id, folder or run.json) → RunRecord (audit.runs) + history.sqlite → changes, trend
        → ReportFormat → one renderer: html | json | markdown | csv | junit

No client, no network: everything comes from the run's folder and the output folder's
history (or, when the history is gone, from what run.json stored of it). A composition
root: the renderers are pure; this module finds the files and hands their data over.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

from audit.compliance.changes import HistoryView
from audit.core.errors import UsageError
from audit.core.runfolder import PLAN_JSON, RunFolder
from audit.core.untrusted import json_visible
from audit.migrate.document import Plan, read_plan
from audit.pipeline import history
from audit.pipeline.machine import junit_of
from audit.report import files
from audit.report.formats import ReportFormat
from audit.report.kinds import page
from audit.report.markdown import render_markdown
from audit.report.migration import plan_frame
from audit.report.tables import frame_of, records, render_csv, summary
from audit.report.text import headline, partial
from audit.runs import document, store
from audit.runs.kind import RunKind
from audit.runs.record import RUN_JSON, RunRecord

if TYPE_CHECKING:  # pandas is imported where a frame is built, not when a scan starts
    import pandas as pd

FORMATS = tuple(f.value for f in ReportFormat)


@dataclass(frozen=True)
class View:
    """What every renderer is handed: the run, its voices as a frame, what changed, and the plan
    it made or worked on (None for a scan, or when its plan.json is gone)."""

    record: RunRecord
    frame: pd.DataFrame
    context: HistoryView | None
    bom: bool = False
    plan: Plan | None = None

    @property
    def meta(self) -> dict[str, Any]:
        return document.head(self.record)

    @property
    def mapping(self) -> pd.DataFrame | None:
        import pandas as pd  # here, not at the top: a scan loads pandas only to build its table
        return pd.DataFrame(self.record.changes["mapping"]) if "mapping" in self.record.changes else None


@dataclass(frozen=True)
class Rendered:
    text: str
    run_json: Path


def renderer(fmt: ReportFormat) -> Callable[[View], str]:
    """The one renderer of each format (exhaustive: a new format fails type checking here)."""
    match fmt:
        case ReportFormat.HTML:
            return _html
        case ReportFormat.JSON:
            return _json
        case ReportFormat.MARKDOWN:
            return lambda view: render_markdown(view.meta, view.frame, view.context, plan=view.plan,
                                                mapping=view.record.changes.get("mapping"))
        case ReportFormat.CSV:
            return _csv
        case ReportFormat.JUNIT:
            return lambda view: junit_of(view.record)
        case _:
            assert_never(fmt)


def find_run(out_root: Path, run: str) -> RunFolder:
    """A run named by its folder, its run.json, its id in `out_root`, or `latest` (the newest scan)."""
    return RunFolder(store.find(out_root, run))


def render_run(out_root: Path, run: str, fmt: str, *, against: str | None = None, bom: bool = False) -> Rendered:
    try:
        chosen = ReportFormat(fmt)
    except ValueError:
        raise UsageError(f"--format {fmt} is not one of {', '.join(FORMATS)}.") from None
    folder = find_run(out_root, run)
    record, extra = document.read(folder.path)
    frame = frame_of(record.voices)
    root = folder.path.parent
    if against is not None:
        against = _run_id(root, against)
    context: HistoryView | None
    if record.kind in (RunKind.SCAN, RunKind.PLAN) and (store.history_path(root).exists() or against):
        context, frame = history.scan_context(root, record, frame, against=against)
    else:
        stored = extra.get("history")
        context = HistoryView.from_dict(stored) if isinstance(stored, dict) else None
    return Rendered(renderer(chosen)(View(record, frame, context, bom, plan_of(record))), folder.run_json)


def plan_of(record: RunRecord) -> Plan | None:
    """The plan a run made (a plan) or worked on (a run on a plan), when its plan.json is still there."""
    if record.kind is RunKind.SCAN:
        return None
    plan_json = (record.folder / PLAN_JSON if record.kind is RunKind.PLAN and record.folder
                 else Path(record.plan.folder if record.plan else "") / PLAN_JSON)
    return read_plan(plan_json) if plan_json.is_file() else None


def _run_id(root: Path, run: str) -> str:
    """A run given by folder or id → its id, checked against the history."""
    given = Path(run)
    run_id = given.parent.name if given.name == RUN_JSON else given.name if given.is_dir() else run
    with store.History(store.history_path(root)) as runs:
        if runs.get(run_id) is None:
            raise UsageError(f"no run {run_id} in the history of {root}.", hint="`clone-audit history` lists them.")
    return run_id


def _json(view: View) -> str:
    counts = summary(view.frame)
    mapping = view.mapping
    kind = page(view.meta, counts, view.plan, None if mapping is None else records(mapping),
                headline(counts, view.context.changes if view.context else None,
                         partial=partial(view.meta)))
    meta = view.meta
    # the kind's summary object under its name (retire's and cutover's recorded section kept inside it)
    section = {**(meta.get(kind.kind.value) or {}), **kind.section} if kind.kind is not RunKind.USAGE else kind.section
    out = {**meta, kind.kind.value: section, "summary": counts, "headline": kind.headline,
           **({"history": view.context.as_dict()} if view.context else {}), "voices": records(view.frame)}
    # Server strings (a display name with U+202E) are \u escapes here, never raw on a terminal.
    return json_visible(json.dumps(out, ensure_ascii=False, indent=2)) + "\n"


def _html(view: View) -> str:
    from audit.report.html import render_report_html  # jinja2 and the page's parts: loaded to render a page

    record = view.record
    cutover = files.read_cutover(RunFolder(Path(record.plan.folder))) if record.kind.on_plan and record.plan else None
    return render_report_html(view.meta, view.frame, view.plan, view.mapping, view.context,
                              before=record.changes.get("before_after"), cutover=cutover)


#: The mapping's columns a run made on a plan adds to its voices in CSV (renamed where clones.csv
#: already has the name): what the migration did with each voice.
_MAPPING_CSV = {"new_voice_id": "new_voice_id", "status": "migration_status", "detail": "migration_detail",
                "verified_at": "verified_at", "similarity": "similarity", "fidelity": "fidelity",
                "review": "review", "retired_at": "retired_at"}


def _csv(view: View) -> str:
    """The voices (clones.csv's columns), with what the run's kind did to each: a plan's action
    and why; an apply's, review's, cutover's or usage's mapping row (new id, state, similarity,
    review); a retire's outcome (deleted, to delete in the dashboard, or kept and why)."""
    frame, kind = view.frame, view.record.kind
    if view.plan is not None and kind is RunKind.PLAN:
        actions = plan_frame(view.plan)[["voice_id", "action", "reason"]].rename(columns={"reason": "plan_reason"})
        frame = frame.merge(actions, on="voice_id", how="left")
    mapping = view.mapping
    if kind.on_plan and mapping is not None and "old_voice_id" in mapping:
        columns = {k: v for k, v in _MAPPING_CSV.items() if k in mapping}
        rows = mapping[["old_voice_id", *columns]].rename(columns={"old_voice_id": "voice_id", **columns})
        frame = frame.merge(rows.drop_duplicates("voice_id"), on="voice_id", how="left")
    if kind is RunKind.RETIRE:
        section = page(view.meta, summary(view.frame), view.plan).section
        outcome = {v: "deleted" for v in section["deleted"]}
        outcome |= {v: "delete in the dashboard" for v in section["for_dashboard"]}
        outcome |= {k["voice_id"]: f"kept: {k['why']}" for k in section["kept"]}
        frame = frame.assign(retire_outcome=frame["voice_id"].map(outcome).fillna(""))
    return render_csv(frame, bom=view.bom)

