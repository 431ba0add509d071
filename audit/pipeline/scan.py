"""The scan pipeline: list every clone, probe those the policy asks for, decide verdicts.

    client → list + classify (scan.rules) → probe (scan.probe) → verdicts → report files

A composition root: it sequences the stages and hands their results to the writers;
the rules live in `audit.scan`, the files' names in `audit.core.runfolder`.

Probes run in a pool of workers fed from one queue (never a task per clone): as many
workers as the limiter could ever allow, each taking the next clone when its probe is done,
so memory does not grow with the organisation and the limiter alone paces the calls. With
`[probe] reuse`, a voice unchanged since a recent conclusive probe keeps that result
(`audit.scan.reuse`) and costs no request. run.json records what the run cost (TTS characters,
probes made and reused) and the account's concurrency as found (`audit.api.limiter`).

The report set is written only once the scan is complete, and as a whole (staged, then
renamed into place): an interrupted scan writes no report. Given the output folder,
`scan_organisation` checks it can be written before the first call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from audit import __version__
from audit.api.client import WavesClient
from audit.core.config import Settings, as_dict, parse_duration
from audit.core.errors import CloneAuditError, ExitCode
from audit.core.models import Clone, NoProgress, ProbeResult, ProbeVerdict, Progress, VoiceResult
from audit.core.provenance import Markers, Provenance
from audit.core.runfolder import check_writable, new_run_id, staged
from audit.report import files
from audit.report.tables import voice_frame
from audit.scan import rules as scan
from audit.scan.probe import probe_clone
from audit.scan.reuse import earlier_probes, reusable


@dataclass(frozen=True)
class ScanRun:
    run_id: str
    started_at: datetime
    finished_at: datetime
    base_url: str
    settings: Settings
    results: tuple[VoiceResult, ...]
    exit_code: ExitCode
    cost: Mapping[str, int] | None = None  # tts_characters, tts_probes, probes_reused
    concurrency: Mapping[str, object] | None = None  # LimiterReport.as_dict()

    def metadata(self) -> dict[str, object]:
        """What run.json says about the run itself. Never holds the key."""
        extra: dict[str, object] = {}
        if self.cost is not None:
            extra["cost"] = dict(self.cost)
        if self.concurrency is not None:
            extra["concurrency"] = dict(self.concurrency)
        return {
            "tool": "clone-audit",
            "version": __version__,
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": self.finished_at.isoformat(timespec="seconds"),
            "base_url": self.base_url,
            "parameters": as_dict(self.settings),
            "exit_code": int(self.exit_code),
            **extra,
        }


async def scan_organisation(
    client: WavesClient, settings: Settings, progress: Progress | None = None, *,
    out_root: Path | None = None,
) -> ScanRun:
    """List every clone, probe those the policy asks for, and decide each verdict.
    With `out_root`, first make sure the report can be written there (before any probe)."""
    if out_root is not None:
        check_writable(out_root)
    progress = progress or NoProgress()
    started = datetime.now(UTC)
    progress.start(0, "Listing clones")
    clones = await client.list_clones()
    targets = [
        c for c in clones if scan.should_probe(c, scan.classify(c), settings.probe.policy)
    ]
    probes: dict[str, ProbeResult] = {}
    reused = _reuse(targets, settings, out_root, probes)
    todo = [c for c in targets if c.voice_id not in probes]
    progress.start(len(todo), "Probing on lightning-v3.1")
    progress.watch(lambda: _status(client))
    await _probe_all(client, todo, settings, probes, progress)
    progress.watch(None)
    run = assess(clones, probes, settings, started, Provenance(client.api_key).markers(clones))
    cost = {"tts_characters": client.tts_characters, "tts_probes": len(todo), "probes_reused": reused}
    return replace(run, cost=cost, concurrency=client.concurrency().as_dict())


def _reuse(targets: Sequence[Clone], settings: Settings, out_root: Path | None,
           probes: dict[str, ProbeResult]) -> int:
    """Fill `probes` with the earlier results `[probe] reuse` allows; how many."""
    if not settings.probe.reuse or out_root is None:
        return 0
    window = parse_duration(settings.probe.reuse, "[probe] reuse")
    earlier = earlier_probes(out_root, settings.api.base_url, settings.probe.model, window)
    now = datetime.now(UTC)
    for clone in targets:
        kept = reusable(clone, earlier.get(clone.voice_id), window, now)
        if kept is not None:
            probes[clone.voice_id] = kept
    return len(probes)


async def _probe_all(client: WavesClient, todo: Sequence[Clone], settings: Settings,
                     probes: dict[str, ProbeResult], progress: Progress) -> None:
    """Probe `todo` with a pool of workers sharing one queue (an iterator: asyncio runs one
    worker at a time, so taking the next item needs no lock)."""
    queue: Iterator[Clone] = iter(todo)

    async def worker() -> None:
        for clone in queue:
            result = await probe_clone(client, clone, settings.probe)
            probes[clone.voice_id] = replace(result, probed_at=datetime.now(UTC).isoformat(timespec="seconds"))
            progress.advance(result.verdict.value)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(len(todo), client.limiter.ceiling)):
                group.create_task(worker())
    except* CloneAuditError as failures:  # e.g. the key was revoked mid-run: stop everything
        raise failures.exceptions[0] from None


def _status(client: WavesClient) -> str:
    """The bar's note: the concurrency in use, and whether the line waits on a 429's window."""
    limiter = client.limiter
    if limiter.rate_limited:
        return f"waiting on rate limits ({limiter.limit} at once)"
    return f"{limiter.limit} at once"


def assess(
    clones: Sequence[Clone], probes: Mapping[str, ProbeResult], settings: Settings, started: datetime,
    markers: Markers | None = None,
) -> ScanRun:
    """Verdicts for `clones` from their metadata and whatever probe results there are.
    `markers`: which clones are proven replacements (none by default)."""
    not_probed = ProbeResult(ProbeVerdict.NOT_PROBED)
    results = scan.mark_migrated(
        [scan.decide(c, scan.classify(c), probes.get(c.voice_id, not_probed)) for c in clones], markers
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
    """Write clones.csv, run.json and report.html, all or none; returns the run's folder."""
    frame = voice_frame(run.results, run.finished_at)
    with staged(out_root, run.run_id) as folder:
        files.write_scan_files(folder, run.metadata(), frame)
        files.write_html(folder, run.metadata(), frame)
    assert folder.home is not None
    return folder.home
