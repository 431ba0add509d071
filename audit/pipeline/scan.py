"""The composition root: sequences the stages of each command, and nothing else.

    scan:  client → list + classify (scan) → probe → verdicts → report files
    plan:  list + an earlier scan's probes → archive + source checks → plan (pure) → plan files
    apply: plan file → fresh list → staleness check → ledger → apply → mapping + report

Stages do not import each other; this module is the one place that knows their
order. The CLI builds the objects, calls a function here, and maps the outcome (or a
CloneAuditError) to an exit code.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit import __version__
from audit.archive import gather as sourcing
from audit.migrate import planner as plan
from audit.scan import rules as scan
from audit.api.client import WavesClient
from audit.core.config import Settings, as_dict
from audit.core.errors import CloneAuditError, ExitCode, UsageError
from audit.core.models import Clone, NoProgress, ProbeResult, ProbeVerdict, Progress, VoiceResult
from audit.migrate.document import Plan
from audit.scan.probe import probe_clone
from audit.report import files
from audit.report.tables import probe_from_row, records, voice_frame


@dataclass(frozen=True)
class ScanRun:
    run_id: str
    started_at: datetime
    finished_at: datetime
    base_url: str
    settings: Settings
    results: tuple[VoiceResult, ...]
    exit_code: ExitCode

    def metadata(self) -> dict[str, object]:
        """What run.json says about the run itself. Never holds the key."""
        return {
            "tool": "clone-audit",
            "version": __version__,
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": self.finished_at.isoformat(timespec="seconds"),
            "base_url": self.base_url,
            "parameters": as_dict(self.settings),
            "exit_code": int(self.exit_code),
        }


@dataclass(frozen=True)
class PlanRun:
    scan: ScanRun
    plan: Plan
    folder: Path
    plan_path: Path


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


async def scan_organisation(
    client: WavesClient, settings: Settings, progress: Progress | None = None
) -> ScanRun:
    """List every clone, probe those the policy asks for, and decide each verdict."""
    progress = progress or NoProgress()
    started = datetime.now(UTC)
    clones = await client.list_clones()
    targets = [
        c for c in clones if scan.should_probe(c, scan.classify(c), settings.probe.policy)
    ]
    probes: dict[str, ProbeResult] = {}
    progress.start(len(targets), "Probing on lightning-v3.1")

    async def probe_one(clone: Clone) -> None:
        probes[clone.voice_id] = await probe_clone(client, clone, settings.probe)
        progress.advance()

    try:
        async with asyncio.TaskGroup() as group:
            for clone in targets:
                group.create_task(probe_one(clone))
    except* CloneAuditError as failures:  # e.g. the key was revoked mid-run: stop everything
        raise failures.exceptions[0] from None
    return _assess(clones, probes, settings, started)


def _assess(
    clones: Sequence[Clone], probes: Mapping[str, ProbeResult], settings: Settings, started: datetime
) -> ScanRun:
    """Verdicts for `clones` from their metadata and whatever probe results there are."""
    not_probed = ProbeResult(ProbeVerdict.NOT_PROBED)
    results = scan.mark_migrated(
        [scan.decide(c, scan.classify(c), probes.get(c.voice_id, not_probed)) for c in clones]
    )
    return ScanRun(
        run_id=new_run_id(started),
        started_at=started,
        finished_at=datetime.now(UTC),
        base_url=settings.api.base_url,
        settings=settings,
        results=results,
        exit_code=scan.exit_code(results, settings.report.fail_on),
    )


def write_scan_reports(run: ScanRun, out_root: Path) -> Path:
    """Write clones.csv, run.json and report.html; returns the run's folder."""
    folder = out_root / run.run_id
    frame = voice_frame(run.results, run.finished_at)
    files.write_scan_files(folder, run.metadata(), frame)
    files.write_html(folder, run.metadata(), frame)
    return folder


async def plan_migration(
    client: WavesClient, settings: Settings, out_root: Path, progress: Progress | None = None,
    scan_folder: Path | None = None,
) -> PlanRun:
    """List the clones, take probe verdicts from an earlier scan, check each legacy voice's
    recording, decide, write the plan.

    Makes one list call and nothing else: no TTS, no create, no delete. Probe evidence
    comes from `scan_folder` (a scan's run.json); without one, verdicts rest on metadata.
    """
    started = datetime.now(UTC)
    clones = await client.list_clones()
    probes = _prior_probes(scan_folder, settings.api.base_url, clones) if scan_folder else {}
    run = _assess(clones, probes, settings, started)
    folder = out_root / run.run_id
    existing = plan.replacements([r.clone for r in run.results])
    wanted = [r.clone for r in run.results if plan.needs_source(r, existing)]
    sourced = sourcing.gather(wanted, settings.archive, folder / "fitted", progress or NoProgress())
    parameters = {**as_dict(settings), "probe_evidence": str(scan_folder) if scan_folder else "metadata only"}
    the_plan = plan.build_plan(
        run.results, sourced.checks, sourced.uploads, settings, plan_id=run.run_id, now=run.finished_at,
        base_url=run.base_url, parameters=parameters, manifest=sourced.manifest,
    )
    frame = voice_frame(run.results, run.finished_at)
    planned = PlanRun(run, the_plan, folder, folder / "plan.json")
    meta = {**run.metadata(), "exit_code": int(plan_exit_code(planned))}
    files.write_scan_files(folder, meta, frame)
    files.write_plan_files(folder, the_plan)
    files.write_html(folder, meta, frame, plan=the_plan)
    return planned


def latest_scan(out_root: Path, base_url: str, max_age: timedelta) -> Path | None:
    """The newest scan folder under `out_root` for this account, if one is recent enough."""
    newest: tuple[datetime, Path] | None = None
    for run_json in out_root.glob("*/run.json"):
        folder = run_json.parent
        if (folder / "plan.json").exists():
            continue  # a plan's own folder: its verdicts came from an earlier scan
        try:
            meta = json.loads(run_json.read_text(encoding="utf-8"))
            finished = datetime.fromisoformat(meta["finished_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        same = str(meta.get("base_url", "")).rstrip("/") == base_url.rstrip("/")
        if same and datetime.now(UTC) - finished <= max_age and (newest is None or finished > newest[0]):
            newest = (finished, folder)
    return newest[1] if newest else None


def _prior_probes(folder: Path, base_url: str, clones: Sequence[Clone]) -> dict[str, ProbeResult]:
    """The probe results a scan stored in `folder`, for the same account."""
    meta, frame = files.read_run(folder)
    probes = {row["voice_id"]: probe_from_row(row) for row in records(frame)}
    same_url = str(meta.get("base_url", "")).rstrip("/") == base_url.rstrip("/")
    if not same_url or (probes and clones and not probes.keys() & {c.voice_id for c in clones}):
        raise UsageError(
            f"the scan in {folder} is of another account ({meta.get('base_url')}, no voice in common).",
            hint="Pass --scan with a scan of the account you are planning for (check SMALLEST_API_KEY).",
        )
    return probes


def plan_exit_code(planned: PlanRun) -> ExitCode:
    """4 when some voice could not be checked, else 1 when some voice is blocked, else 0."""
    if planned.scan.exit_code is ExitCode.PARTIAL:
        return ExitCode.PARTIAL
    return ExitCode.FINDINGS if planned.plan.totals()["BLOCKED"] else ExitCode.OK
