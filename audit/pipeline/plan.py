"""The plan pipeline: a dry run that decides what a migration would do, touching nothing.

    list + an earlier scan's probes and usage → verdicts ─┐
    archive → source checks → fitted copies ──────────────┴→ planner (pure) → plan.json + plan.seal, plan.csv, report

Makes one list call and nothing else (no TTS, no create, no delete). A composition
root: the decisions live in `audit.migrate.planner`, the archive work in `audit.archive`.
The plan's folder (fitted copies, plan, reports) is written as a whole: staged, then
renamed into place, so an interrupted plan leaves no folder behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.api.client import WavesClient
from audit.archive.gather import gather
from audit.compliance.history import check_history
from audit.core.config import Settings, as_dict
from audit.core.errors import ExitCode, UsageError
from audit.core.models import Clone, NoProgress, ProbeResult, Progress
from audit.core.provenance import Provenance
from audit.core.runfolder import RunFolder, check_writable, staged
from audit.core.usage import VoiceUsage, parse_timestamp
from audit.migrate import planner as plan
from audit.migrate.document import Plan
from audit.migrate.trust import seal_plan
from audit.pipeline import history
from audit.pipeline.scan import ScanRun, assess
from audit.report import files
from audit.report.tables import probe_from_row, records, voice_frame


@dataclass(frozen=True)
class PlanRun:
    scan: ScanRun
    plan: Plan
    folder: Path
    plan_path: Path


async def plan_migration(
    client: WavesClient, settings: Settings, out_root: Path, progress: Progress | None = None,
    scan_folder: Path | None = None,
) -> PlanRun:
    """List the clones, take probe verdicts from an earlier scan, check each legacy voice's
    recording, decide, write the plan.

    Makes one list call and nothing else: no TTS, no create, no delete. Probe evidence
    comes from `scan_folder` (a scan's run.json); without one, verdicts rest on metadata.
    """
    check_writable(out_root)
    check_history(out_root)
    started = datetime.now(UTC)
    clones = await client.list_clones()
    probes, usage, window = _prior_scan(scan_folder, settings.api.base_url, clones) if scan_folder else ({}, None, None)
    markers = Provenance(client.api_key).markers(clones)
    run = replace(assess(clones, probes, settings, started, markers), account=client.account,
                  usage=usage, usage_window=None)
    existing = plan.replacements([r.clone for r in run.results], markers)
    wanted = [r.clone for r in run.results if plan.needs_source(r, existing, markers)]
    archive = str(Path(settings.archive.folder).resolve()) if settings.archive.folder else None
    with staged(out_root, run.run_id) as folder:
        sourced = gather(wanted, settings.archive, folder, progress or NoProgress())
        parameters = {**as_dict(settings), "probe_evidence": str(scan_folder) if scan_folder else "metadata only",
                      **({"usage": window} if window else {})}
        the_plan = plan.build_plan(
            run.results, sourced.checks, sourced.uploads, settings, plan_id=run.run_id, now=run.finished_at,
            base_url=run.base_url, parameters=parameters, manifest=sourced.manifest, markers=markers,
            archive_folder=archive,
            usage=None if usage is None else {v: u.calls for v, u in usage.items()},
        )
        frame = voice_frame(run.results, run.finished_at, usage)
        final = RunFolder(folder.published(folder.path))
        planned = PlanRun(run, the_plan, final.path, final.plan_json)
        meta = {**run.metadata(), "kind": "plan", "exit_code": int(plan_exit_code(planned)),
                **({"usage": window} if window else {})}
        files.write_scan_files(folder, meta, frame, bom=settings.report.csv_bom)
        files.write_plan_files(folder, the_plan)
        seal_plan(folder)  # binds plan.json, as written, to this user's plan-sealing key
        files.write_html(folder, meta, frame, plan=the_plan)
    history.record_scan(out_root, meta, frame, final.path, kind="plan", counts=the_plan.totals())
    return planned


def _prior_scan(
    folder: Path, base_url: str, clones: Sequence[Clone]
) -> tuple[dict[str, ProbeResult], dict[str, VoiceUsage] | None, dict[str, Any] | None]:
    """The probe results a scan stored in `folder`, for the same account, and its usage
    numbers with their window when it had them (`scan --usage`)."""
    meta, frame = files.read_run(RunFolder(folder))
    rows = records(frame)
    probes = {row["voice_id"]: probe_from_row(row) for row in rows}
    same_url = str(meta.get("base_url", "")).rstrip("/") == base_url.rstrip("/")
    if not same_url or (probes and clones and not probes.keys() & {c.voice_id for c in clones}):
        raise UsageError(
            f"the scan in {folder} is of another account ({meta.get('base_url')}, no voice in common).",
            hint="Pass --scan with a scan of the account you are planning for (check SMALLEST_API_KEY).",
        )
    window = meta.get("usage")
    if not isinstance(window, dict) or window.get("error"):
        return probes, None, None
    return probes, usage_from_rows(rows), window


def usage_from_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, VoiceUsage]:
    """The usage numbers a scan stored in its rows (voices without a count are left out)."""
    usage: dict[str, VoiceUsage] = {}
    for row in rows:
        calls = row.get("usage_calls")
        if calls is None:
            continue
        last = row.get("usage_last_call")
        usage[row["voice_id"]] = VoiceUsage(
            row["voice_id"], int(calls), int(row.get("usage_chars") or 0),
            parse_timestamp(last) if isinstance(last, str) and last else None,
        )
    return usage


def plan_exit_code(planned: PlanRun) -> ExitCode:
    """4 when some voice could not be checked, else 1 when some voice is blocked, else 0."""
    if planned.scan.exit_code is ExitCode.PARTIAL:
        return ExitCode.PARTIAL
    return ExitCode.FINDINGS if planned.plan.totals()["BLOCKED"] else ExitCode.OK
