"""The report pipeline: re-render a past run offline, in any format, against any other run.

    RUN (id, folder or run.json) → run.json + history.sqlite → changes, trend → html | json | markdown | csv

No client, no network: everything comes from the run's folder and the output folder's
history (or, when the history is gone, from what run.json stored of it). A composition
root: the renderers are pure; this module finds the files and hands their data over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from audit.compliance.changes import HistoryView
from audit.compliance.history import History, history_path
from audit.core.errors import UsageError
from audit.core.runfolder import RUN_JSON, RunFolder
from audit.core.untrusted import json_visible
from audit.migrate.document import read_plan
from audit.pipeline import history
from audit.report import files
from audit.report.html import render_report_html
from audit.report.markdown import render_markdown
from audit.report.tables import records, render_csv, summary
from audit.report.text import headline

FORMATS = ("html", "json", "markdown", "csv")


@dataclass(frozen=True)
class Rendered:
    text: str
    run_json: Path


def find_run(out_root: Path, run: str) -> RunFolder:
    """A run named by its folder, its run.json, its id in `out_root`, or `latest` (the newest scan)."""
    given = Path(run)
    if given.name == RUN_JSON and given.is_file():
        return RunFolder(given.parent)
    if (given / RUN_JSON).is_file():
        return RunFolder(given)
    if run == "latest":
        scans = [r for r in history.list_runs(out_root) if r.kind == "scan"]
        if scans:
            return RunFolder(Path(scans[-1].folder))
    elif (out_root / run / RUN_JSON).is_file():
        return RunFolder(out_root / run)
    raise UsageError(f"no run {run!r} in {out_root}.",
                     hint="Pass a run id that `clone-audit history` lists (with the same --out), or a run folder.")


def render_run(out_root: Path, run: str, fmt: str, *, against: str | None = None, bom: bool = False) -> Rendered:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt} is not one of {', '.join(FORMATS)}.")
    folder = find_run(out_root, run)
    document = files.read_document(folder)
    stored = document.get("history")
    meta, frame = files.read_run(folder)
    root = folder.path.parent
    if against is not None:
        against = _run_id(root, against)
    context: HistoryView | None
    if meta.get("kind", "scan") in ("scan", "plan") and (history_path(root).exists() or against):
        context, frame = history.scan_context(root, meta, frame, against=against)
    else:
        context = HistoryView.from_dict(stored) if stored else None
    if fmt == "csv":
        text = render_csv(frame, bom=bom)
    elif fmt == "markdown":
        text = render_markdown(meta, frame, context)
    elif fmt == "json":
        text = _json(meta, frame, context, document)
    else:
        text = _html(folder, meta, frame, context, document)
    return Rendered(text, folder.run_json)


def _run_id(root: Path, run: str) -> str:
    """A run given by folder or id → its id, checked against the history."""
    given = Path(run)
    run_id = given.parent.name if given.name == RUN_JSON else given.name if given.is_dir() else run
    with History(history_path(root)) as store:
        if store.get(run_id) is None:
            raise UsageError(f"no run {run_id} in the history of {root}.", hint="`clone-audit history` lists them.")
    return run_id


def _json(meta: dict[str, Any], frame: pd.DataFrame, context: HistoryView | None, document: dict[str, Any]) -> str:
    counts = summary(frame)
    out = {**meta, "summary": counts, "headline": headline(counts, context.changes if context else None),
           **({"history": context.as_dict()} if context else {}), "voices": records(frame)}
    if "mapping" in document:
        out["mapping"] = document["mapping"]
    # Server strings (a display name with U+202E) are \u escapes here, never raw on a terminal.
    return json_visible(json.dumps(out, ensure_ascii=False, indent=2)) + "\n"


def _html(folder: RunFolder, meta: dict[str, Any], frame: pd.DataFrame, context: HistoryView | None,
          document: dict[str, Any]) -> str:
    kind = meta.get("kind", "scan")
    plan_json = folder.plan_json if kind == "plan" else Path(str(meta.get("plan_folder", ""))) / "plan.json"
    plan = read_plan(plan_json) if kind != "scan" and plan_json.is_file() else None
    mapping = pd.DataFrame(document["mapping"]) if "mapping" in document else None
    return render_report_html(meta, frame, plan, mapping, context, before=meta.get("before_after"))
