"""The apply stage: execute a reviewed plan, one voice at a time per worker, resumably.

Per RECLONE entry: check the upload is the planned bytes, record `creating`, create
the clone, record its new id, wait (one shared poller lists the account for every
waiting voice) until it is completed or failed, probe it on v3.1, record the verdict.
Every step is committed to the ledger before the next call, so a rerun resumes where
the last run stopped. No duplicate, ever: a create whose outcome is unknown (timeout,
dropped connection, 5xx) is followed by a look-up of the clone by its marker tag, at once
and again after `settle_s`, before it is sent again; a create cut off by a crash is first
given `create_timeout_s + settle_s` from when it was sent to show up. Per-voice failures
(a refused sample, a quota) are recorded and the other voices go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.api.client import UploadFile, WavesClient
from audit.core.config import Settings
from audit.core.errors import ApiError, AuthError, CreateOutcomeUnknown, RunError, TransportError, UsageError
from audit.migrate.ledger import Ledger
from audit.migrate.state import Migration, State
from audit.core.models import Action, Clone, CloneStatus, ProbeVerdict, marked_origin
from audit.migrate.document import Plan, PlanEntry

log = logging.getLogger(__name__)

#: Creates of one voice in one run, counting the first, when each outcome stays unknown.
MAX_CREATES = 3

Verifier = Callable[[Clone], Awaitable[tuple[ProbeVerdict, str]]]


@dataclass(frozen=True)
class ApplyOptions:
    only: frozenset[str] = frozenset()
    limit: int | None = None
    fail_fast: bool = False
    retry_failed: bool = False


@dataclass(frozen=True)
class Selection:
    """Which RECLONE voices a run works on, and why the others are left alone."""

    todo: list[PlanEntry]
    verified: list[str]  # done
    failed: list[str]  # failed or unverified earlier; --retry-failed takes them
    expired: list[str]  # never started, and the plan has expired: re-plan for them
    beyond_limit: int  # left for a later run by --limit


def select(plan: Plan, ledger: Ledger, options: ApplyOptions, *, expired: bool) -> Selection:
    """The RECLONE entries this run works on. An expired plan may still finish voices it
    started (verify, wait, look up), but starts no new one."""
    chosen = [e for e in plan.entries if e.action is Action.RECLONE]
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
    for entry in chosen:
        row = ledger.get(entry.voice_id)
        state = row.state if row else None
        if state is State.VERIFIED:
            verified.append(entry.voice_id)
        elif state in (State.FAILED, State.UNVERIFIED) and not options.retry_failed:
            failed.append(entry.voice_id)
        elif expired and (row is None or (row.new_voice_id is None and state is not State.CREATING)):
            too_late.append(entry.voice_id)
        else:
            todo.append(entry)
    limit = len(todo) if options.limit is None else options.limit
    return Selection(todo[:limit], verified, failed, too_late, max(0, len(todo) - limit))


def adopt_marked(plan: Plan, ledger: Ledger, clones: Sequence[Clone]) -> int:
    """Record replacements found on the account that the ledger does not know (lost ledger,
    or a crash between create and record). Returns how many were adopted."""
    planned = {e.voice_id: e for e in plan.entries if e.action is Action.RECLONE}
    adopted = 0
    for clone in clones:
        origin = marked_origin(clone)
        if origin not in planned or clone.status is CloneStatus.FAILED:
            continue
        row = ledger.get(origin)
        stale = row is not None and row.state is State.FAILED and row.new_voice_id != clone.voice_id
        if row is None or row.new_voice_id is None or stale:
            _record_new(ledger, plan, planned[origin], clone.voice_id, "found on the account by its marker tag")
            adopted += 1
    return adopted


class StatusWatcher:
    """One list call per interval answers every voice waiting for its clone to finish."""

    def __init__(self, client: WavesClient, interval_s: float) -> None:
        self._client = client
        self._interval = interval_s
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
                clones = await self._client.list_clones()
            except AuthError as exc:
                for future in self._waiting.values():
                    if not future.done():
                        future.set_exception(exc)
                return
            except RunError as exc:
                log.warning("status poll failed, will try again: %s", exc.message)
                continue
            by_id = {c.voice_id: c for c in clones}
            for voice_id, future in list(self._waiting.items()):
                clone = by_id.get(voice_id)
                finished = (CloneStatus.COMPLETED, CloneStatus.FAILED, CloneStatus.MISSING)
                if clone and clone.status in finished and not future.done():
                    future.set_result(clone)


class Migrator:
    """Carries out RECLONE entries against one account, recording every step."""

    def __init__(
        self, client: WavesClient, plan: Plan, ledger: Ledger, settings: Settings,
        verify: Verifier, listed: Collection[str],
    ) -> None:
        """`listed`: the voice ids the account listed when this run started."""
        self._client = client
        self._plan = plan
        self._ledger = ledger
        self._settings = settings
        self._verify = verify
        self._listed = frozenset(listed)
        self._watcher = StatusWatcher(client, settings.apply.poll_interval_s)

    async def aclose(self) -> None:
        await self._watcher.aclose()

    async def migrate(self, entry: PlanEntry) -> State:
        """Take one voice as far as it goes; returns the state the ledger holds for it then."""
        new_id = await self._resume(entry, self._ledger.get(entry.voice_id))
        if new_id is None:
            new_id = await self._create(entry)
        if new_id is not None:
            await self._finish(entry, new_id)
        row = self._ledger.get(entry.voice_id)
        return row.state if row else State.QUEUED

    async def _finish(self, entry: PlanEntry, new_id: str) -> None:
        """Wait for the new clone to complete, then check that it speaks."""
        row = self._ledger.get(entry.voice_id)
        if row is None or row.state not in (State.COMPLETED, State.UNVERIFIED):
            clone = await self._watcher.final_state(new_id, self._settings.apply.poll_timeout_s)
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
        """Probe the new clone: it speaks (verified), it does not (unverified), or the probe
        itself failed (stays completed, so the next run checks again)."""
        language = entry.new_clone.language if entry.new_clone else None
        verdict, reason = await self._verify(Clone(voice_id=new_id, language=language))
        if verdict is ProbeVerdict.ERROR:
            self._record(entry, State.COMPLETED, f"verification could not run ({reason}); run apply again",
                         new_voice_id=new_id)
            return
        state = State.VERIFIED if verdict is ProbeVerdict.SPEAKS else State.UNVERIFIED
        self._record(
            entry, state, reason, new_voice_id=new_id, probe_verdict=verdict.value,
            verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    async def _resume(self, entry: PlanEntry, row: Migration | None) -> str | None:
        """The new clone an earlier run left for this voice, if there is one to go on with."""
        if row is None or row.state is State.QUEUED:
            return None  # nothing was ever sent (apply adopted any marked clone at start)
        if row.state is State.CREATING:  # sent, outcome never recorded: a crash
            return await self._await_unknown_create(entry, datetime.fromisoformat(row.updated_at))
        if row.new_voice_id is None:
            return None  # failed before any clone existed (--retry-failed)
        if row.state is State.FAILED:  # --retry-failed: its clone may have finished since
            for clone in await self._client.list_clones():
                if clone.voice_id == row.new_voice_id and clone.status is not CloneStatus.FAILED:
                    _record_new(self._ledger, self._plan, entry, clone.voice_id, "still on the account")
                    return clone.voice_id
            return None
        if row.state in (State.COMPLETED, State.UNVERIFIED) and row.new_voice_id not in self._listed:
            # It was listed once (it completed), so it was deleted since: make a new one.
            self._record(entry, State.QUEUED, f"{row.new_voice_id} is no longer on the account")
            return None
        return row.new_voice_id

    async def _await_unknown_create(self, entry: PlanEntry, sent: datetime) -> str | None:
        """A create whose outcome is unknown may still finish on the server for up to
        create_timeout_s after it was sent, and show in the list settle_s later: look for
        it until then, so that none is ever made twice."""
        deadline = sent.timestamp() + self._settings.api.create_timeout_s + self._settings.apply.settle_s
        while True:
            if (found := await self._look_up(entry)) is not None:
                return found
            remaining = deadline - datetime.now(UTC).timestamp()
            if remaining <= 0:
                return None
            log.info("%s: a create may still finish; looking again for up to %.0f s", entry.voice_id, remaining)
            await asyncio.sleep(min(remaining, max(self._settings.apply.settle_s, self._settings.apply.poll_interval_s)))

    async def _create(self, entry: PlanEntry) -> str | None:
        if entry.upload is None or entry.new_clone is None:
            self._fail(entry, "the plan entry has no upload or new clone fields; re-plan")
            return None
        try:
            data = Path(entry.upload.path).read_bytes()
        except OSError as exc:
            self._fail(entry, f"cannot read {entry.upload.path}: {exc.strerror}; re-plan")
            return None
        if hashlib.sha256(data).hexdigest() != entry.upload.sha256:
            self._fail(entry, f"{entry.upload.path} changed since planning (sha256 differs); re-plan")
            return None
        fields = entry.new_clone
        maybe_sent = False  # once a create may have reached the server, the row stays `creating`
        for _ in range(MAX_CREATES):
            self._record(entry, State.CREATING, new_voice_id=None)
            sent = datetime.now(UTC)
            try:
                created = await self._client.create_clone(
                    display_name=fields.display_name,
                    file=UploadFile(entry.upload.filename, data, entry.upload.mime),
                    language=fields.language, description=fields.description,
                    accent=fields.accent, tags=fields.tags, model=fields.model,
                )
            except CreateOutcomeUnknown as exc:
                log.info("%s: create outcome unknown (%s); looking it up", entry.voice_id, exc.message)
                maybe_sent = True
                if (found := await self._await_unknown_create(entry, sent)) is not None:
                    return found
                continue
            except (TransportError, AuthError) as exc:  # the run cannot go on
                if not maybe_sent:
                    self._record(entry, State.QUEUED, exc.message)
                raise
            except ApiError as exc:  # refused (quota, language, bad sample, 410, 429 storm): this voice only
                detail = exc.message + (f" ({exc.hint})" if exc.hint else "")
                if maybe_sent:  # an earlier create may still appear: the next run looks for it first
                    self._record(entry, State.CREATING, f"{detail}; an earlier create may still appear")
                else:
                    self._fail(entry, detail)
                return None
            _record_new(self._ledger, self._plan, entry, created.voice_id, "created")
            return created.voice_id
        self._fail(entry, f"{MAX_CREATES} creates ended without an answer and no clone appeared")
        return None

    async def _look_up(self, entry: PlanEntry) -> str | None:
        """Find the voice's replacement by its marker tag in a fresh list; adopt it."""
        for clone in await self._client.list_clones():
            if marked_origin(clone) == entry.voice_id and clone.status is not CloneStatus.FAILED:
                _record_new(self._ledger, self._plan, entry, clone.voice_id, "found by its marker tag")
                return clone.voice_id
        return None

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


async def run_entries(
    migrator: Migrator, entries: Collection[PlanEntry], concurrency: int, fail_fast: bool,
    on_done: Callable[[PlanEntry, State], None],
) -> bool:
    """Work through `entries` with `concurrency` workers. Returns True if stopped early."""
    queue: asyncio.Queue[PlanEntry] = asyncio.Queue()
    for entry in entries:
        queue.put_nowait(entry)
    stop = asyncio.Event()

    async def worker() -> None:
        while not stop.is_set():
            try:
                entry = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            state = await migrator.migrate(entry)
            on_done(entry, state)
            if fail_fast and state is not State.VERIFIED:
                stop.set()

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(entries)))):
                group.create_task(worker())
    finally:
        await migrator.aclose()
    return stop.is_set() and not queue.empty()
