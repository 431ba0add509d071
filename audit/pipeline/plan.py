"""The plan pipeline: a dry run that decides what a migration would do, touching nothing.

    list + an earlier scan's probes and usage → verdicts ─┐
    archive → source checks → fitted copies ──────────────┴→ planner (pure) → plan.json + plan.seal, plan.csv, report

Makes one list call and nothing else (no TTS, no create, no delete). A composition
root: the decisions live in `audit.migrate.planner`, the archive work in `audit.archive`.
The plan's folder (fitted copies, plan, reports) is written as a whole: staged, then
renamed into place, so an interrupted plan leaves no folder behind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.archive.gather import gather
from audit.core.config import Settings, as_dict
from audit.core.errors import ExitCode, UsageError
from audit.core.models import Clone, NoProgress, ProbeResult, Progress
from audit.core.pools import Pool, pool_of, probe_model
from audit.core.provenance import Provenance
from audit.core.runfolder import RunFolder, check_writable, staged
from audit.core.usage import VoiceUsage, parse_timestamp
from audit.migrate import planner as plan
from audit.migrate.document import Plan
from audit.migrate.trust import seal_plan
from audit.pipeline import history
from audit.pipeline.scan import ScanRun, assess
from audit.report import files
from audit.report.tables import voice_frame
from audit.runs import document
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord, VoiceRow
from audit.runs.store import check_history

if TYPE_CHECKING:  # the client is handed in: its module (httpx) loads when one is made
    from audit.api.client import WavesClient


@dataclass(frozen=True)
class PlanRun:
    scan: ScanRun
    plan: Plan
    folder: Path
    plan_path: Path
    record: RunRecord  # the plan run as run.json and the history keep it, its exit code in it

    @property
    def exit_code(self) -> ExitCode:
        return self.record.exit_code

    def lines(self) -> list[str]:
        """What the plan command prints after the verdict table: actions, forecast, where the plan is."""
        forecast = self.plan.forecast
        return [
            " · ".join(f"{k} {v}" for k, v in self.plan.totals().items()),
            f"Would create {forecast['reclones']} clone(s) on {self.plan.forecast.get('target_model', 'lightning-v3.1')} "
            f"(~{forecast['estimated_seconds']} s); nothing was changed.",
            f"Plan: {self.plan_path}   review it, then: clone-audit apply {self.plan_path}",
        ]

    def warnings(self) -> list[str]:
        """What the plan command warns about on stderr: a plan over the account's clone quota."""
        forecast = self.plan.forecast
        if forecast.get("within_quota") is not False:
            return []
        return [f"warning: {forecast['clones_now']} clone(s) now + {forecast['reclones']} new = "
                f"{forecast['clones_after']}, over the account's clone quota of {forecast['clone_quota']} "
                "([plan] clone_quota): apply would stop when the quota is full. Retire the replaced voices in "
                "batches (apply --limit N, then clone-audit retire) or delete unused clones first."]


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
    if wanted and not settings.archive.folder:
        raise UsageError(f"{len(wanted)} voice(s) need their original recording to be re-cloned, and no archive "
                         "of recordings is configured: no plan was written.",
                         hint="Pass --archive DIR (the folder of the original recordings), or set folder under "
                         "[archive] in the config file (--config FILE; see config.example.toml).")
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
        record = dataclasses.replace(run.record(RunKind.PLAN, plan_exit_code(run.exit_code, the_plan)),
                                     usage=window or None)
        record = files.write_scan_files(folder, record, frame, bom=settings.report.csv_bom)
        files.write_plan_files(folder, the_plan)
        seal_plan(folder)  # binds plan.json, as written, to this user's plan-sealing key
        files.write_html(folder, record, frame, plan=the_plan)
    record = history.record_published(out_root, record, final.path, counts=the_plan.totals())
    return PlanRun(run, the_plan, final.path, final.plan_json, record)


def _prior_scan(
    folder: Path, base_url: str, clones: Sequence[Clone]
) -> tuple[dict[str, ProbeResult], dict[str, VoiceUsage] | None, dict[str, Any] | None]:
    """The probe results a scan stored in `folder`, for the same account, and its usage
    numbers with their window when it had them (`scan --usage`)."""
    scan = document.load(folder)
    if scan.kind is not RunKind.SCAN:
        raise UsageError(f"{folder} holds a {scan.kind.value} run, not a scan.",
                         hint="Pass --scan with the folder of a `clone-audit scan` run.")
    probes = _on_their_pools(scan, clones)
    same_url = scan.base_url.rstrip("/") == base_url.rstrip("/")
    if not same_url or (probes and clones and not probes.keys() & {c.voice_id for c in clones}):
        raise UsageError(
            f"the scan in {folder} is of another account ({scan.base_url}, no voice in common).",
            hint="Pass --scan with a scan of the account you are planning for (check SMALLEST_API_KEY).",
        )
    window = scan.usage
    if not isinstance(window, Mapping) or window.get("error"):
        return probes, None, None
    return probes, usage_from_rows(scan.voices), dict(window)


def _on_their_pools(scan: RunRecord, clones: Sequence[Clone]) -> dict[str, ProbeResult]:
    """The scan's probe results, but those made on another pool's model than the voice's now
    (a scan from before pools heard a Pro clone on the standard model): no evidence, so the
    voice rests on its metadata instead of being called broken."""
    setting = scan.parameters.get("probe")
    configured = setting.get("model") if isinstance(setting, Mapping) else None
    pools = {c.voice_id: c.model_ids for c in clones if pool_of(c.model_ids) is not Pool.UNKNOWN}
    probes: dict[str, ProbeResult] = {}
    for row in scan.voices:
        heard_on = row.probe_model or configured
        if row.voice_id in pools and heard_on != probe_model(pools[row.voice_id], ""):
            continue
        probes[row.voice_id] = row.probe_result
    return probes


def usage_from_rows(rows: Sequence[VoiceRow]) -> dict[str, VoiceUsage]:
    """The usage numbers a scan stored in its rows (voices without a count are left out)."""
    usage: dict[str, VoiceUsage] = {}
    for row in rows:
        if row.usage_calls is None:
            continue
        last = row.usage_last_call
        usage[row.voice_id] = VoiceUsage(row.voice_id, row.usage_calls, row.usage_chars or 0,
                                         parse_timestamp(last) if last else None)
    return usage


def plan_exit_code(scanned: ExitCode, the_plan: Plan) -> ExitCode:
    """4 when some voice could not be checked, else 1 when some voice is blocked, else 0."""
    if scanned is ExitCode.PARTIAL:
        return ExitCode.PARTIAL
    return ExitCode.FINDINGS if the_plan.totals()["BLOCKED"] else ExitCode.OK
