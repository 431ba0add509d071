"""The apply stage: execute a reviewed plan, one voice at a time per worker, resumably.

What to do with each voice is decided by `audit.migrate.decide` (pure); this module
gathers its inputs (the ledger row, the latest listing of the account) and carries the
decision out. Per RECLONE entry: check the upload is the planned bytes, record
`creating`, create the clone (with its marker and proof tags), record its new id, wait
(one shared poller lists the account for every waiting voice) until it is completed or
failed, probe it on v3.1, compare the probe's voice with the uploaded sample
(audit.fidelity: `match` → verified, `mismatch` → the `mismatch` state, which is not ready
until a person accepts it with `clone-audit review`), record the verdict and similarity. Every step is committed to the ledger
before the next call, so a rerun resumes where the last run stopped. No duplicate, ever:
a create whose outcome is unknown (timeout, dropped connection, 5xx) is followed by
look-ups of the clone by its proven marker until a listing asked for
`create_timeout_s + settle_s` after it was sent, before it is sent again; the same holds
for a create cut off by a crash. Per-voice failures (a refused sample, a quota) are
recorded and the other voices go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import assert_never

from audit.api.client import UploadFile, WavesClient
from audit.core.config import Settings
from audit.core.errors import ApiError, AuthError, CreateOutcomeUnknown, RunError, TransportError, UsageError
from audit.core.models import Action, Clone, CloneStatus, Fidelity, ProbeVerdict
from audit.core.provenance import Provenance
from audit.fidelity import check as fidelity
from audit.fidelity.verdict import FidelityVerdict, unchecked
from audit.migrate.decide import (
    Adopt,
    AwaitUnknownCreate,
    Create,
    DecisionOptions,
    Hold,
    Listing,
    Recreate,
    RefuseExpired,
    SkipDone,
    SkipFailed,
    Step,
    Verify,
    WaitForCompletion,
    decide,
)
from audit.migrate.document import Plan, PlanEntry
from audit.migrate.ledger import Ledger
from audit.migrate.state import State
from audit.migrate.trust import upload_bytes_problem

log = logging.getLogger(__name__)

#: Creates of one voice in one run, counting the first, when each outcome stays unknown.
MAX_CREATES = 3

#: The probe of a new clone: its verdict, the reason, and the audio it judged (None when none came).
Verifier = Callable[[Clone], Awaitable[tuple[ProbeVerdict, str, bytes | None]]]
#: Told every fidelity check: the entry, the verdict, the source's and the probe's audio
#: (for listening clips). Called in a worker thread.
Heard = Callable[[PlanEntry, FidelityVerdict, bytes, bytes], None]


@dataclass(frozen=True)
class ApplyOptions:
    only: frozenset[str] = frozenset()
    limit: int | None = None
    fail_fast: bool = False
    retry_failed: bool = False
    trust_plan_edits: bool = False  # apply a plan whose seal is missing or made with another key
    listen_all: bool = False  # keep listening clips of every voice, not only flagged and sampled ones


@dataclass(frozen=True)
class Selection:
    """Which RECLONE voices a run works on, and why the others are left alone."""

    todo: list[PlanEntry]
    verified: list[str]  # done
    failed: list[str]  # failed or unverified earlier; --retry-failed takes them
    expired: list[str]  # never started, and the plan has expired: re-plan for them
    beyond_limit: int  # left for a later run by --limit
    held: dict[str, str] = field(default_factory=dict)  # voice → why (an unverifiable marker)


def decision_options(settings: Settings, options: ApplyOptions, *, expired: bool) -> DecisionOptions:
    window = timedelta(seconds=settings.api.create_timeout_s + settings.apply.settle_s)
    return DecisionOptions(retry_failed=options.retry_failed, expired=expired, unknown_create_window=window)


def reclone_entries(plan: Plan) -> list[PlanEntry]:
    return [e for e in plan.entries if e.action is Action.RECLONE]


def adopt_marked(plan: Plan, ledger: Ledger, listing: Listing, options: DecisionOptions) -> int:
    """Record replacements found on the account that the ledger does not know (lost ledger,
    or a crash between create and record), for every voice of the plan. Returns how many."""
    adopted = 0
    for entry in reclone_entries(plan):
        row = ledger.get(entry.voice_id)
        action = decide(row, listing.view(entry.voice_id, row), options)
        if isinstance(action, Adopt):
            _record_new(ledger, plan, entry, action.new_voice_id, "found on the account by its marker and proof tags")
            adopted += 1
    return adopted


def select(
    plan: Plan, ledger: Ledger, listing: Listing, options: ApplyOptions, decisions: DecisionOptions
) -> Selection:
    """The RECLONE entries this run works on. An expired plan may still finish voices it
    started (verify, wait, look up), but starts no new one."""
    chosen = reclone_entries(plan)
    if options.only:
        unknown = sorted(options.only - {e.voice_id for e in chosen})
        if unknown:
            actions = {e.voice_id: e.action.value for e in plan.entries}
            named = ", ".join(f"{v} ({actions[v]})" if v in actions else f"{v} (not in the plan)" for v in unknown)
            raise UsageError(f"--only names voices this plan does not re-clone: {named}.",
                             hint="Use old voice ids of RECLONE rows in plan.csv.")
        chosen = [e for e in chosen if e.voice_id in options.only]
    todo: list[PlanEntry] = []
    verified: list[str] = []
    failed: list[str] = []
    too_late: list[str] = []
    held: dict[str, str] = {}
    for entry in chosen:
        row = ledger.get(entry.voice_id)
        action = decide(row, listing.view(entry.voice_id, row), decisions)
        match action:
            case SkipDone():
                verified.append(entry.voice_id)
            case SkipFailed():
                failed.append(entry.voice_id)
            case RefuseExpired():
                too_late.append(entry.voice_id)
            case Hold():
                held[entry.voice_id] = action.reason
            case Create() | Recreate() | Adopt() | AwaitUnknownCreate() | WaitForCompletion() | Verify():
                todo.append(entry)
            case _ as unreachable:
                assert_never(unreachable)
    limit = len(todo) if options.limit is None else options.limit
    return Selection(todo[:limit], verified, failed, too_late, max(0, len(todo) - limit), held)


class StatusWatcher:
    """One list call per interval answers every voice waiting for its clone to finish."""

    def __init__(self, client: WavesClient, interval_s: float,
                 on_list: Callable[[list[Clone], datetime], None] | None = None) -> None:
        """`on_list`: told every listing the poller gets, and when it was asked for."""
        self._client = client
        self._interval = interval_s
        self._on_list = on_list
        self._waiting: dict[str, asyncio.Future[Clone]] = {}
        self._task: asyncio.Task[None] | None = None

    async def final_state(self, voice_id: str, timeout_s: float) -> Clone | None:
        future: asyncio.Future[Clone] = asyncio.get_running_loop().create_future()
        self._waiting[voice_id] = future
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(voice_id, None)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while self._waiting:
            await asyncio.sleep(self._interval)
            if not self._waiting:  # the last waiter left while this slept
                return
            try:
                asked = datetime.now(UTC)
                clones = await self._client.list_clones()
            except AuthError as exc:
                for future in self._waiting.values():
                    if not future.done():
                        future.set_exception(exc)
                return
            except RunError as exc:
                log.warning("status poll failed, will try again: %s", exc.message)
                continue
            if self._on_list is not None:
                self._on_list(clones, asked)
            by_id = {c.voice_id: c for c in clones}
            for voice_id, future in list(self._waiting.items()):
                clone = by_id.get(voice_id)
                finished = (CloneStatus.COMPLETED, CloneStatus.FAILED, CloneStatus.MISSING)
                if clone and clone.status in finished and not future.done():
                    future.set_result(clone)


class Migrator:
    """Carries out RECLONE entries against one account, recording every step.

    Each voice's next step is `decide`d from its ledger row and the latest listing of the
    account (the one taken at start, refreshed by every later list call of this run); this
    class only gathers those inputs and carries the decision out.
    """

    def __init__(
        self, client: WavesClient, plan: Plan, ledger: Ledger, settings: Settings, verify: Verifier,
        listing: Listing, provenance: Provenance, decisions: DecisionOptions, uploads: Mapping[str, Path],
        heard: Heard | None = None,
    ) -> None:
        """`listing`: the account as listed when this run started. `uploads`: each voice's
        upload file, resolved and checked to lie where the plan may upload from. `heard`: told
        every fidelity check with both clips."""
        self._client = client
        self._plan = plan
        self._ledger = ledger
        self._settings = settings
        self._verify = verify
        self._listing = listing
        self._provenance = provenance
        self._decisions = decisions
        self._uploads = uploads
        self._heard = heard
        self._watcher = StatusWatcher(client, settings.apply.poll_interval_s, on_list=self._saw)
        self.held: dict[str, str] = {}  # voices held during the run, and why
        self.quota_reached: str | None = None  # the refusal that stopped the run, once the quota is full
        self.waiting = 0  # voices waiting for their new clone to finish processing: they hold no request

    async def aclose(self) -> None:
        await self._watcher.aclose()

    async def migrate(self, entry: PlanEntry) -> State:
        """Take one voice as far as it goes; returns the state the ledger holds for it then."""
        row = self._ledger.get(entry.voice_id)
        await self._carry_out(entry, decide(row, self._listing.view(entry.voice_id, row), self._decisions))
        row = self._ledger.get(entry.voice_id)
        return row.state if row else State.QUEUED

    async def _carry_out(self, entry: PlanEntry, action: Step) -> None:
        new_id: str | None = None
        match action:
            case SkipDone() | SkipFailed() | RefuseExpired():
                return
            case Hold():
                self._hold(entry, action)
                return
            case Create():
                new_id = await self._create(entry)
            case Recreate(gone):
                self._record(entry, State.QUEUED, f"{gone} is no longer on the account")
                new_id = await self._create(entry)
            case Adopt(found):
                _record_new(self._ledger, self._plan, entry, found, "found by its marker and proof tags")
                new_id = found
            case AwaitUnknownCreate():
                await self._carry_out(entry, await self._settle(entry))
                return
            case WaitForCompletion(waiting, reopen):
                if reopen:
                    _record_new(self._ledger, self._plan, entry, waiting, "still on the account")
                new_id = waiting
            case Verify(completed):
                await self._check(entry, completed)
                return
            case _ as unreachable:
                assert_never(unreachable)
        if new_id is not None:
            await self._finish(entry, new_id)

    async def _settle(self, entry: PlanEntry) -> Step:
        """A create whose outcome is unknown may still finish on the server for up to
        create_timeout_s after it was sent, and show in the list settle_s later: list the
        account until a listing asked for after then, so that none is ever made twice.
        Returns the decision once the voice no longer waits."""
        step = max(self._settings.apply.settle_s, self._settings.apply.poll_interval_s)
        while True:
            asked = datetime.now(UTC)
            self._saw(await self._client.list_clones(), asked)
            row = self._ledger.get(entry.voice_id)
            action = decide(row, self._listing.view(entry.voice_id, row), self._decisions)
            if not isinstance(action, AwaitUnknownCreate):
                return action
            remaining = (action.until - datetime.now(UTC)).total_seconds()
            log.info("%s: a create may still finish; looking again for up to %.0f s", entry.voice_id, remaining)
            await asyncio.sleep(min(max(remaining, 0.0), step))

    def _saw(self, clones: list[Clone], asked: datetime) -> None:
        if asked >= self._listing.listed_at:
            self._listing = Listing.of(clones, self._provenance.markers(clones), asked)

    async def _finish(self, entry: PlanEntry, new_id: str) -> None:
        """Wait for the new clone to complete, then check that it speaks."""
        self.waiting += 1
        try:
            clone = await self._watcher.final_state(new_id, self._settings.apply.poll_timeout_s)
        finally:
            self.waiting -= 1
        if clone is None:
            self._fail(entry, f"{new_id} not completed after {self._settings.apply.poll_timeout_s:.0f} s; "
                       "run apply again with --retry-failed to keep waiting for it", new_voice_id=new_id)
            return
        if clone.status is CloneStatus.FAILED:
            self._fail(entry, f"{new_id} ended failed on the account", new_voice_id=new_id)
            return
        self._record(entry, State.COMPLETED, new_voice_id=new_id)  # or no status: the probe decides
        await self._check(entry, new_id)

    async def _check(self, entry: PlanEntry, new_id: str) -> None:
        """Probe the new clone and compare its voice with the upload: it speaks as its source
        or could not be compared (verified), speaks as someone else (mismatch), does not speak
        (unverified), or the probe itself failed (stays completed, so the next run checks again)."""
        language = entry.new_clone.language if entry.new_clone else None
        verdict, reason, audio = await self._verify(Clone(voice_id=new_id, language=language))
        if verdict is ProbeVerdict.ERROR:
            self._record(entry, State.COMPLETED, f"verification could not run ({reason}); run apply again",
                         new_voice_id=new_id)
            return
        checked: FidelityVerdict | None = None
        if verdict is ProbeVerdict.SPEAKS:
            checked = await asyncio.to_thread(self._fidelity, entry, audio)
            state = State.MISMATCH if checked.fidelity is Fidelity.MISMATCH else State.VERIFIED
            reason = f"{reason}; {checked.reason}"
        else:
            state = State.UNVERIFIED
        self._record(
            entry, state, reason, new_voice_id=new_id, probe_verdict=verdict.value,
            verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
            similarity=checked.similarity if checked else None,
            fidelity=checked.fidelity.value if checked else None,
            review=None, reviewed_by=None, reviewed_at=None,  # a new verdict needs a new review
        )

    def _fidelity(self, entry: PlanEntry, audio: bytes | None) -> FidelityVerdict:
        """The probe's voice against the uploaded sample (never raises for bad audio)."""
        path = self._uploads.get(entry.voice_id)
        try:
            source = path.read_bytes() if path is not None else None
        except OSError as exc:
            return unchecked(f"the uploaded sample {path} cannot be read: {exc.strerror}")
        result = fidelity.compare(source, audio)
        if self._heard is not None and source is not None and audio is not None:
            try:
                self._heard(entry, result, source, audio)
            except Exception as exc:  # listening clips are a convenience: never fail a voice for one
                log.warning("%s: no listening clip: %s", entry.voice_id, exc)
        return result

    async def _create(self, entry: PlanEntry) -> str | None:
        """Create the voice's clone; returns its id, or None when there is none to go on with."""
        if entry.upload is None or entry.new_clone is None or entry.voice_id not in self._uploads:
            self._fail(entry, "the plan entry has no upload or new clone fields; re-plan")
            return None
        path = self._uploads[entry.voice_id]
        try:
            data = path.read_bytes()
        except OSError as exc:
            self._fail(entry, f"cannot read {path}: {exc.strerror}; re-plan")
            return None
        if (problem := upload_bytes_problem(entry.upload, data)) is not None:
            self._fail(entry, f"{path} {problem}; re-plan")
            return None
        fields = entry.new_clone
        tags = (*fields.tags, self._provenance.proof_tag(entry.voice_id))
        maybe_sent = False  # once a create may have reached the server, the row stays `creating`

        def sending() -> None:  # the unknown-outcome window starts as the create goes out, not
            self._record(entry, State.CREATING, new_voice_id=None)  # while it waits for a slot

        for _ in range(MAX_CREATES):
            sending()
            try:
                created = await self._client.create_clone(
                    display_name=fields.display_name,
                    file=UploadFile(entry.upload.filename, data, entry.upload.mime),
                    language=fields.language, description=fields.description,
                    accent=fields.accent, tags=tags, model=fields.model, on_send=sending,
                )
            except CreateOutcomeUnknown as exc:
                log.info("%s: create outcome unknown (%s); looking it up", entry.voice_id, exc.message)
                maybe_sent = True
            except (TransportError, AuthError) as exc:  # the run cannot go on
                if not maybe_sent:
                    self._record(entry, State.QUEUED, exc.message)
                raise
            except ApiError as exc:  # refused (quota, language, bad sample, 410, 429 storm): this voice only
                if is_quota_refusal(exc) and not maybe_sent:  # every later create would be refused too
                    self._record(entry, State.QUEUED, f"not created: {exc.message}")
                    self.quota_reached = self.quota_reached or exc.message
                    return None
                detail = exc.message + (f" ({exc.hint})" if exc.hint else "")
                if maybe_sent:  # an earlier create may still appear: the next run looks for it first
                    self._record(entry, State.CREATING, f"{detail}; an earlier create may still appear")
                else:
                    self._fail(entry, detail)
                return None
            else:
                _record_new(self._ledger, self._plan, entry, created.voice_id, "created")
                return created.voice_id
            match after := await self._settle(entry):  # the outcome is unknown: look before sending again
                case Adopt(found):
                    _record_new(self._ledger, self._plan, entry, found, "found by its marker and proof tags")
                    return found
                case Create():
                    continue
                case Hold():  # the row stays `creating`: the next run looks for this create again
                    self._hold(entry, after)
                    return None
                case _:
                    raise AssertionError(f"a voice whose create is in flight cannot turn to {after}")
        self._fail(entry, f"{MAX_CREATES} creates ended without an answer and no clone appeared")
        return None

    def _hold(self, entry: PlanEntry, hold: Hold) -> None:
        log.warning("%s: %s", entry.voice_id, hold.reason)
        self.held[entry.voice_id] = hold.reason

    def _record(self, entry: PlanEntry, state: State, detail: str = "", **values: object) -> None:
        names = {
            "display_name": entry.display_name,
            "language": entry.new_clone.language if entry.new_clone else None,
            "source_sha256": entry.upload.sha256 if entry.upload else None,
        }
        self._ledger.record(
            entry.voice_id, state, plan_id=self._plan.plan_id, detail=detail, **{**names, **values}
        )

    def _fail(self, entry: PlanEntry, detail: str, **values: object) -> None:
        log.warning("%s: %s", entry.voice_id, detail)
        self._record(entry, State.FAILED, detail, **values)


def _record_new(ledger: Ledger, plan: Plan, entry: PlanEntry, new_id: str, detail: str) -> None:
    ledger.record(
        entry.voice_id, State.CREATED, plan_id=plan.plan_id, detail=detail, new_voice_id=new_id,
        display_name=entry.display_name,
        language=entry.new_clone.language if entry.new_clone else None,
        source_sha256=entry.upload.sha256 if entry.upload else None,
    )


#: How often an idle worker looks whether the limit has grown enough for it to start a voice.
WIDEN_POLL_S = 0.1


def is_quota_refusal(exc: ApiError) -> bool:
    """A create refused because the account's clone quota is full ("Voice clone limit reached")."""
    text = exc.message.lower()
    return exc.status in (400, 402, 403, 422) and (
        "limit reached" in text or "quota" in text or (exc.error_code or "").lower() in ("quota_exceeded", "clone_limit")
    )


async def run_entries(
    migrator: Migrator, entries: Collection[PlanEntry], width: Callable[[], int], workers: int, fail_fast: bool,
    on_done: Callable[[PlanEntry, State], None],
) -> bool:
    """Work through `entries` with up to `workers` workers. Returns True if stopped early.

    `width()` is how many voices may be in progress now (the pipeline passes the limiter's
    current level plus the voices waiting on processing): worker i takes a voice only while i
    is below it. A create that then still waits for a slot is stamped again as it goes out
    (`Migrator._create`), so its unknown-outcome window starts at the send."""
    queue: asyncio.Queue[PlanEntry] = asyncio.Queue()
    for entry in entries:
        queue.put_nowait(entry)
    stop = asyncio.Event()

    async def worker(index: int) -> None:
        while not stop.is_set():
            if index > 0 and index >= width():
                if queue.empty():
                    return
                await asyncio.sleep(WIDEN_POLL_S)
                continue
            try:
                entry = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            state = await migrator.migrate(entry)
            on_done(entry, state)
            if (fail_fast and state is not State.VERIFIED) or migrator.quota_reached:
                stop.set()

    try:
        async with asyncio.TaskGroup() as group:
            for index in range(max(1, min(workers, len(entries)))):
                group.create_task(worker(index))
    finally:
        await migrator.aclose()
    return stop.is_set() and not queue.empty()
