"""The composition root: sequences the stages of each command, and nothing else.

    scan:  client → list + classify (scan) → probe → verdicts → report files
    plan:  scan → archive + source checks → plan (pure) → plan files + report
    apply: plan file → fresh list → staleness check → ledger → apply → mapping + report

Stages do not import each other; this module is the one place that knows their
order. The CLI builds the objects, calls a function here, and maps the outcome (or a
CloneAuditError) to an exit code.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import __version__, plan, scan, sourcing
from .client import WavesClient
from .config import Settings, as_dict
from .errors import CloneAuditError, ExitCode
from .models import NoProgress, ProbeResult, ProbeVerdict, Progress, VoiceResult
from .planfile import Plan
from .probe import probe_clone
from .report import files
from .report.tables import voice_frame


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
    compat = [scan.classify(c) for c in clones]
    targets = [
        i for i, (c, k) in enumerate(zip(clones, compat, strict=True))
        if scan.should_probe(c, k, settings.probe.policy)
    ]
    probes = dict.fromkeys(range(len(clones)), ProbeResult(ProbeVerdict.NOT_PROBED))
    progress.start(len(targets), "Probing on lightning-v3.1")

    async def probe_one(index: int) -> None:
        probes[index] = await probe_clone(client, clones[index], settings.probe)
        progress.advance()

    try:
        async with asyncio.TaskGroup() as group:
            for index in targets:
                group.create_task(probe_one(index))
    except* CloneAuditError as failures:  # e.g. the key was revoked mid-run: stop everything
        raise failures.exceptions[0] from None
    results = scan.mark_migrated(
        [scan.decide(c, k, probes[i]) for i, (c, k) in enumerate(zip(clones, compat, strict=True))]
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
    client: WavesClient, settings: Settings, out_root: Path, progress: Progress | None = None
) -> PlanRun:
    """Scan, find and check each legacy voice's recording, decide, write the plan.

    Makes no create or delete call: only the list and the probes a scan makes.
    """
    run = await scan_organisation(client, settings, progress)
    folder = out_root / run.run_id
    existing = plan.replacements([r.clone for r in run.results])
    wanted = [r.clone for r in run.results if plan.needs_source(r, existing)]
    sources, uploads = sourcing.gather(wanted, settings.archive, folder / "fitted", progress or NoProgress())
    the_plan = plan.build_plan(
        run.results, sources, uploads, settings, plan_id=run.run_id, now=run.finished_at,
        base_url=run.base_url, parameters=as_dict(settings),
    )
    frame = voice_frame(run.results, run.finished_at)
    files.write_scan_files(folder, run.metadata(), frame)
    plan_path = files.write_plan_files(folder, the_plan)
    files.write_html(folder, run.metadata(), frame, plan=the_plan)
    return PlanRun(run, the_plan, folder, plan_path)


def plan_exit_code(the_plan: Plan) -> ExitCode:
    """1 when some voice that needs re-cloning is blocked, else 0."""
    blocked = the_plan.totals()["BLOCKED"]
    return ExitCode.FINDINGS if blocked else ExitCode.OK
