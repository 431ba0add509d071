"""The one JSON summary of a run that `--json` prints: what a script reads instead of the lines.

Owns `summary(record, kind=..., exit_code=..., **extra)`: the run's kind, id, folder and
run.json, its exit code (the process's), its times, and its counts as fit its kind, all read
from the RunRecord: a scan's or plan's voices by verdict, a migration run's voices by mapping
status (`outcomes`), retire's deleted / for the dashboard / kept, cutover's occurrences found
and left, files written and restored, usage's old ids called. `extra` adds what the record
does not hold (a plan's actions). A command that wrote no run (a cutover of a mapping outside
a migration folder, usage without a mapping) still has one: its folder and id are null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.runs.document import TOOL
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord
from audit.runs.store import tally


def summary(record: RunRecord | None, *, kind: RunKind, exit_code: int, **extra: Any) -> dict[str, Any]:
    """The run as one JSON-ready object (see the module docstring)."""
    out: dict[str, Any] = {"tool": TOOL, "kind": kind.value, "run_id": None, "run_folder": None, "run_json": None,
                           "exit_code": int(exit_code)}
    if record is not None:
        out.update(
            kind=record.kind.value, run_id=record.run_id,
            run_folder=None if record.folder is None else str(record.folder),
            run_json=None if record.run_json is None else str(record.run_json),
            exit_code=int(record.exit_code), started_at=record.started_at.isoformat(timespec="seconds"),
            finished_at=record.finished_at.isoformat(timespec="seconds"),
        )
        if record.plan is not None:
            out["plan_id"] = record.plan.plan_id
        out.update(_counts(record))
        if record.error is not None:
            out["error"] = record.error
    out.update(extra)
    return out


def _counts(record: RunRecord) -> dict[str, Any]:
    total, counts = tally(record)
    if record.kind in (RunKind.SCAN, RunKind.PLAN):
        found: dict[str, Any] = {"voices": total, "verdicts": counts}
        if record.cost is not None:
            found["cost"] = dict(record.cost)
        return found
    found = {"voices": total, "outcomes": counts}
    retired = record.changes.get("retire")
    if isinstance(retired, Mapping):
        found["retire"] = {key: _size(retired.get(key)) for key in
                           ("deleted", "for_dashboard", "awaiting_review", "still_called", "disputed")}
    review = record.changes.get("review")
    if isinstance(review, Mapping):
        found["review"] = {key: _size(review.get(key)) for key in ("accepted", "rejected")}
    cutover = record.changes.get("cutover")
    if isinstance(cutover, Mapping):
        found["cutover"] = _cutover(cutover)
    return found


def _cutover(sections: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers of a cutover or usage run's sections (not their items)."""
    out: dict[str, Any] = {}
    keep = {
        "scan": ("files_scanned", "occurrences", "ready", "not_ready", "remaining", "unchecked_count",
                 "gitignored", "gitignored_env"),
        "write": ("files", "replacements", "rollback_file", "refused"),
        "rollback": ("rollback_file", "restored", "already", "refused"),
        "usage": ("since", "complete", "old_ids", "still_called"),
        "agents": ("agents_read", "found", "ready", "not_ready", "remaining", "unchecked_count"),
        "agent_write": ("record_file", "branches"),
        "agent_rollback": ("record_file", "branches"),
    }
    for name, keys in keep.items():
        section = sections.get(name)
        if isinstance(section, Mapping):
            out[name] = {k: (_size(section[k]) if isinstance(section[k], list) and k != "gitignored_env"
                             else section[k]) for k in keys if k in section}
    return out


def _size(value: Any) -> int:
    return len(value) if isinstance(value, list | tuple) else 0
