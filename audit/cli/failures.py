"""Recording a run that failed after its arguments were parsed.

A failed or interrupted scan, plan, apply, review, retire, cutover or usage run is filed in
its output folder's history (kind, times, the exit code the process returns, and what
stopped it), so `clone-audit history` shows every run that was tried, not only those that
finished. Nothing is created for it: when the output folder does not exist yet, the failure
is only printed. Recording never turns one failure into another: any error here is logged
at debug level and dropped.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from pathlib import Path

from audit.core.errors import CloneAuditError, ExitCode
from audit.core.runfolder import PLAN_JSON, new_run_id
from audit.runs import store
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord

log = logging.getLogger(__name__)


def record(args: argparse.Namespace, started: datetime, code: int, error: str) -> None:
    kind = RunKind.parse(getattr(args, "command", None))
    if kind is None:
        return  # report, history, demo, emulator: not runs of their own
    try:
        base_url, out_root = _where(kind, args)
        if out_root is None or not out_root.is_dir():
            return
        run = RunRecord(kind=kind, run_id=new_run_id(started), started_at=started, finished_at=datetime.now(UTC),
                        base_url=base_url, exit_code=_exit_code(code), error=error or "failed")
        store.record(out_root, run)
    except Exception:  # noqa: BLE001 - the failure being reported matters more than its record
        log.debug("could not record the failed run", exc_info=True)


def _exit_code(code: int) -> ExitCode:
    try:
        return ExitCode(code)
    except ValueError:
        return ExitCode.RUN_FAILED


def _where(kind: RunKind, args: argparse.Namespace) -> tuple[str, Path | None]:
    """The base URL (when the settings load) and the output folder a run of `kind` files into."""
    base_url = ""
    try:
        from audit.cli.session import settings

        loaded = settings(args)
        base_url = loaded.api.base_url
        out_dir: Path | None = Path(loaded.report.out_dir)
    except CloneAuditError:
        out_dir = Path(args.out) if getattr(args, "out", None) else None
    if kind in (RunKind.SCAN, RunKind.PLAN):
        return base_url, out_dir
    if kind in (RunKind.APPLY, RunKind.REVIEW, RunKind.RETIRE):
        return base_url, _plan_root(args.plan_file.parent)
    rollback = getattr(args, "rollback", None)
    if rollback is not None:  # <plan folder>/cutover/rollback-*.json
        return base_url, _plan_root(Path(rollback).parent.parent)
    mapping = getattr(args, "mapping", None)
    return base_url, None if mapping is None else _plan_root(Path(mapping).parent)


def _plan_root(plan_folder: Path) -> Path | None:
    """The output folder holding `plan_folder`, when it is a plan's folder."""
    return plan_folder.parent if (plan_folder / PLAN_JSON).is_file() else None
