"""The scan pipeline: list every clone, probe those the policy asks for, decide verdicts.

    client → list + classify (scan.rules) → [usage: TTS analytics log] → probe (scan.probe)
           → verdicts → report files

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
`scan_organisation` checks it can be written and its history read before the first call.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from audit.compliance.gate import Baseline, Gate, judge
from audit.compliance.waivers import WaiverOutcome, apply_waivers, read_exceptions
from audit.core.config import Settings, as_dict
from audit.core.errors import ApiWentAway, CloneAuditError, ExitCode, RunError, UsageError
from audit.core.loading import parse_duration
from audit.core.owncalls import SentCalls, leave_out_own, sent_calls
from audit.core.models import Clone, FailOn, NoProgress, ProbeResult, ProbeVerdict, Progress, Verdict, VoiceResult, Waiver
from audit.core.provenance import Markers, Provenance
from audit.core.runfolder import check_writable, new_run_id, staged
from audit.core.usage import UsageWindow, VoiceUsage, unread_window, window_usage
from audit.pipeline import history
from audit.report import files, unchecked
from audit.report.rows import scan_rows
from audit.report.tables import ordered_rows
from audit.report.text import traffic, usage_banner
from audit.runs import document, store
from audit.runs.kind import RunKind
from audit.runs.owncalls import own_runs
from audit.runs.record import RunRecord
from audit.runs.store import check_history
from audit.scan import rules as scan
from audit.scan.reuse import CARRY_WINDOW, EarlierProbe, carried, earlier_probes, reusable, same_model

if TYPE_CHECKING:  # the client is handed in: its module (httpx) loads when one is made
    from audit.api.client import WavesClient


@dataclass(frozen=True)
class ScanRun:
    run_id: str
    started_at: datetime
    finished_at: datetime
    base_url: str
    settings: Settings
    results: tuple[VoiceResult, ...]
    exit_code: ExitCode
    account: str = ""  # the account's fingerprint (WavesClient.account), never the key
    waivers: WaiverOutcome | None = None  # what the exceptions file did, when there was one
    usage: Mapping[str, VoiceUsage] | None = None  # calls per voice id (`scan --usage DAYS`)
    usage_window: UsageWindow | None = None  # what those numbers cover, and whether the read was complete
    cost: Mapping[str, int] | None = None  # tts_characters, tts_probes, probes_reused
    concurrency: Mapping[str, object] | None = None  # LimiterReport.as_dict()
    tts_calls: tuple[SentCalls, ...] | None = None  # the TTS calls its probes made, per voice
    gate: Gate | None = None  # `--fail-on new`: the baseline, and which voices are newly non-compliant

    def lines(self) -> list[str]:
        """What the scan command prints after the verdict table: usage, and what to do next."""
        lines: list[str] = []
        if self.usage_window is not None:
            window = self.usage_window.as_dict()
            rows = ordered_rows(self.results, self.finished_at, self.usage)
            lines += [f"Usage: {line}" for line in (usage_banner(window), traffic(rows, window)) if line]
            if self.usage_window.zoneless:
                lines.append(f"Usage: {self.usage_window.zone}.")
            if self.usage_window.own_calls:
                lines.append(f"Usage: left out {self.usage_window.own_calls:,} call(s) made by clone-audit's own earlier "
                             "probes and verifications recorded in this output folder.")
        if self.gate is not None:
            lines += self.gate.lines()
        if self.exit_code is not ExitCode.PARTIAL and any(r.verdict is Verdict.NON_COMPLIANT for r in self.results):
            lines.append("Next: `clone-audit plan --archive DIR` plans re-cloning them from their original recordings.")
        return lines

    def warnings(self) -> list[str]:
        """What the scan says on stderr at its end: how many voices could not be checked, by cause
        with the advice for each, and what the verdicts rest on when probes were off or partial.
        (No `Next:` follows an incomplete scan: it is scanned again first.)"""
        rows = ordered_rows(self.results, self.finished_at, self.usage)
        lines = unchecked.terminal_lines(unchecked.incomplete(rows))
        if self.exit_code is ExitCode.PARTIAL:
            lines.append("Scan again before planning: an incomplete scan is not a basis for a plan (exit 4).")
        basis = unchecked.evidence(rows, self.settings.probe.policy.value)
        return [*lines, *([f"Evidence: {basis}"] if basis else [])]

    def record(self, kind: RunKind = RunKind.SCAN, exit_code: ExitCode | None = None,
               parameters: Mapping[str, object] | None = None) -> RunRecord:
        """The run's record (its voices are added when the report set is written). Never holds the key."""
        return RunRecord(
            kind=kind, run_id=self.run_id, started_at=self.started_at, finished_at=self.finished_at,
            base_url=self.base_url, exit_code=self.exit_code if exit_code is None else exit_code,
            account=self.account, parameters=dict(parameters) if parameters is not None else as_dict(self.settings),
            usage=None if self.usage_window is None else self.usage_window.as_dict(),
            cost=None if self.cost is None else dict(self.cost),
            concurrency=None if self.concurrency is None else dict(self.concurrency),
            exceptions=None if self.waivers is None else self.waivers.as_dict(),
            tts_calls=self.tts_calls, changes={"gate": self.gate.as_dict()} if self.gate is not None else {},
        )


async def scan_organisation(
    client: WavesClient, settings: Settings, progress: Progress | None = None, *,
    out_root: Path | None = None, baseline: str | None = None,
) -> ScanRun:
    """List every clone, probe those the policy asks for, and decide each verdict.
    With `out_root`, first make sure the report can be written there and its history read (before any probe).
    With `[report] fail_on` new, judge it against `baseline` (a run), else the account's previous scan."""
    if out_root is not None:
        check_writable(out_root)
        check_history(out_root)  # a damaged history fails before any probe, not after them all
    gate_against = _baseline(client, settings, out_root, baseline)  # a bad --baseline fails before any call
    exceptions = _exceptions(settings)  # a bad exceptions file fails before any call
    progress = progress or NoProgress()
    started = datetime.now(UTC)
    sent_before = Counter(client.tts_sent)
    progress.start(0, "Listing clones")
    clones = await client.list_clones()
    usage = await read_usage(client, settings, started, clones, out_root) if settings.report.usage_days else None
    targets = [
        c for c in clones if scan.should_probe(c, scan.classify(c), settings.probe.policy)
    ]
    probes: dict[str, ProbeResult] = {}
    reused = _reuse(targets, settings, out_root, probes)
    todo = [c for c in targets if c.voice_id not in probes]
    chosen = {c.voice_id for c in targets}
    _carry([c for c in clones if c.voice_id not in chosen], settings, out_root, probes)
    progress.start(len(todo), "Probing each clone on its pool")
    progress.watch(client.status)
    try:
        await _probe_all(client, todo, settings, probes, progress)
    except ApiWentAway as exc:  # no half report passed off as whole: say what was done, write nothing
        raise went_away(exc, len(clones), len(todo), sum(1 for c in todo if c.voice_id in probes)) from None
    progress.watch(None)
    markers = Provenance(client.api_key).markers(clones)
    cost = {"tts_characters": client.tts_characters, "tts_probes": len(todo), "probes_reused": reused}
    mismatched = files.mismatched_replacements(out_root) if out_root is not None else {}
    run = replace(assess(clones, probes, settings, started, markers, mismatched), account=client.account, cost=cost,
                  concurrency=client.concurrency().as_dict(), tts_calls=sent_calls(client.tts_sent, sent_before))
    if usage is not None:
        run = replace(run, usage=usage[0], usage_window=usage[1])
    return gated(waive(run, exceptions, settings), gate_against, settings)


def _baseline(client: WavesClient, settings: Settings, out_root: Path | None,
              ref: str | None) -> tuple[Baseline | None, str] | None:
    """What `--fail-on new` compares with: (the baseline or None, why none); None when not gating."""
    if settings.report.fail_on is not FailOn.NEW:
        if ref is not None:
            raise UsageError("--baseline RUN goes with --fail-on new.", hint="Pass --fail-on new, or leave --baseline out.")
        return None
    if out_root is None:
        return None, "no output folder to find an earlier scan in"
    return history.baseline(out_root, client.account, settings.api.base_url, ref)


def gated(run: ScanRun, against: tuple[Baseline | None, str] | None, settings: Settings) -> ScanRun:
    """The run judged by the baseline gate (`--fail-on new`): its exit code counts only the voices
    newly non-compliant (every non-compliant one when there is no baseline, as the gate says)."""
    if against is None:
        return run
    found, missing = against
    now = [(r.clone.voice_id, r.clone.display_name or "") for r in run.results if r.verdict is Verdict.NON_COMPLIANT]
    gate = judge(now, found, missing)
    return replace(run, gate=gate, exit_code=scan.exit_code(run.results, settings.report.fail_on, gate.known))


def went_away(exc: ApiWentAway, voices: int, todo: int, done: int) -> ApiWentAway:
    """The breaker's error with what the scan did before the API went away, and what it did not."""
    return ApiWentAway(
        f"{exc.message}. The scan stopped: {done:,} of {todo:,} probes were made ({voices:,} voices listed), "
        f"{todo - done:,} voices were not checked; no report was written (it would be incomplete).",
        hint="Check the network and the API's status page, then run `clone-audit scan` again.")


def _earlier(settings: Settings, out_root: Path, window: timedelta) -> dict[str, EarlierProbe]:
    """The probes of the newest scan of this account under `out_root` within `window`, by voice."""
    folder = store.latest_scan(out_root, settings.api.base_url, window)
    if folder is None:
        return {}
    try:
        last = document.load(folder)
    except UsageError:
        return {}  # an unreadable earlier scan only means probing again
    return earlier_probes([v.as_dict() for v in last.voices], last.parameters)


def _carry(unprobed: Sequence[Clone], settings: Settings, out_root: Path | None,
           probes: dict[str, ProbeResult]) -> None:
    """Voices this scan's policy does not probe keep the last conclusive probe evidence of the
    account's newest scan (with its date), so metadata alone never calls compliant (or fixed)
    a voice a probe heard fail; one that changed since is unknown until probed again."""
    if not unprobed or out_root is None:
        return
    earlier = _earlier(settings, out_root, CARRY_WINDOW)
    for clone in unprobed:
        kept = carried(clone, same_model(clone, earlier.get(clone.voice_id), settings.probe.model))
        if kept is not None:
            probes[clone.voice_id] = kept


def _reuse(targets: Sequence[Clone], settings: Settings, out_root: Path | None,
           probes: dict[str, ProbeResult]) -> int:
    """Fill `probes` with the earlier results `[probe] reuse` allows; how many."""
    if not settings.probe.reuse or out_root is None:
        return 0
    window = parse_duration(settings.probe.reuse, "[probe] reuse")
    earlier = _earlier(settings, out_root, window)
    now = datetime.now(UTC)
    for clone in targets:
        kept = reusable(clone, same_model(clone, earlier.get(clone.voice_id), settings.probe.model), window, now)
        if kept is not None:
            probes[clone.voice_id] = kept
    return len(probes)


async def _probe_all(client: WavesClient, todo: Sequence[Clone], settings: Settings,
                     probes: dict[str, ProbeResult], progress: Progress) -> None:
    """Probe `todo` with a pool of workers sharing one queue (an iterator: asyncio runs one
    worker at a time, so taking the next item needs no lock). The probe and its audio stack
    (numpy, the decoders, the speech detector) are imported here: a scan without probes,
    and a run that stops before them, never loads them."""
    from audit.scan.probe import judging_beside_the_loop, probe_clone

    queue: Iterator[Clone] = iter(todo)

    async def worker() -> None:
        for clone in queue:
            result = probes[clone.voice_id] = await probe_clone(client, clone, settings.probe, stamp=True)
            progress.advance(result.verdict.value)

    try:
        with judging_beside_the_loop():
            async with asyncio.TaskGroup() as group:
                for _ in range(min(len(todo), client.limiter.ceiling)):
                    group.create_task(worker())
    except* CloneAuditError as failures:  # e.g. the key was revoked mid-run: stop everything
        raise failures.exceptions[0] from None


async def read_usage(
    client: WavesClient, settings: Settings, started: datetime, clones: Sequence[Clone], out_root: Path | None = None,
) -> tuple[dict[str, VoiceUsage], UsageWindow]:
    """Calls per voice over the `[report] usage_days` before the run started (its own probes
    come later and are not counted, nor are those of the runs `out_root` recorded). A log that
    cannot be read is said, not fatal."""
    days = settings.report.usage_days
    try:
        logs = await client.tts_logs(since=started - timedelta(days=days), max_pages=settings.report.usage_max_pages)
    except RunError as exc:  # the compliance scan goes on; its report says usage is unknown
        return {}, unread_window(days, started, exc.message)
    earlier = own_runs(out_root, settings.api.base_url, client.account) if out_root is not None else []
    own = leave_out_own(logs.calls, earlier, started - timedelta(days=days))
    usage, window = window_usage(replace(logs, calls=own.calls), days, started, [c.voice_id for c in clones])
    return usage, replace(window, own_calls=own.left_out)


def _exceptions(settings: Settings) -> tuple[Waiver, ...] | None:
    path = settings.report.exceptions
    return read_exceptions(Path(path)) if path else None


def waive(run: ScanRun, exceptions: Sequence[Waiver] | None, settings: Settings) -> ScanRun:
    """The run with the exceptions file applied: waived voices `excepted`, the exit code again."""
    if exceptions is None:
        return run
    results, outcome = apply_waivers(run.results, exceptions, run.finished_at.date(), settings.report.exceptions)
    return replace(run, results=results, waivers=outcome,
                   exit_code=scan.exit_code(results, settings.report.fail_on))


def assess(
    clones: Sequence[Clone], probes: Mapping[str, ProbeResult], settings: Settings, started: datetime,
    markers: Markers | None = None, mismatched: Mapping[str, str] | None = None,
) -> ScanRun:
    """Verdicts for `clones` from their metadata and whatever probe results there are.
    `markers`: which clones are proven replacements (none by default); `mismatched`: which
    of those a migration found to speak as someone else (old id → new id)."""
    not_probed = ProbeResult(ProbeVerdict.NOT_PROBED)
    results = scan.mark_migrated(
        [scan.decide(c, scan.classify(c), probes.get(c.voice_id, not_probed)) for c in clones], markers, mismatched
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


def write_scan_reports(run: ScanRun, out_root: Path) -> RunRecord:
    """Write clones.csv, run.json and report.html, all or none, with what changed since the
    previous scan of the account; record the run in the history. Returns the run's record,
    its folder in it."""
    record = run.record()
    rows = scan_rows(run.results, run.finished_at, run.usage)  # no frame: a scan never loads pandas
    context, rows = history.scan_context_rows(out_root, record, rows)
    with staged(out_root, run.run_id) as folder:
        record = files.write_scan_rows(folder, record, rows, context, bom=run.settings.report.csv_bom)
        files.write_html(folder, record, None, context=context)
    assert folder.home is not None
    return history.record_published(out_root, record, folder.home)
