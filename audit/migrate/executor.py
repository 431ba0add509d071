"""The apply stage's executor: take one RECLONE voice as far as it goes, recording every step.

What to do with each voice is decided by `audit.migrate.decide` (pure); the `Migrator`
gathers its inputs (the ledger row, the latest listing of the account) and carries the
decision out. Per voice: check the upload is the planned bytes, record `creating`, create
the clone (with its marker and proof tags), record its new id, wait (one shared poller,
`audit.migrate.watcher`, lists the account for every waiting voice) until it is completed
or failed, probe it on the TTS model of the pool it was made on, compare its voice with the sample
(audit.fidelity: `match` → verified, `mismatch` → the `mismatch` state, which is not ready
until a person accepts it with `clone-audit review`), record the verdict and similarity.
Every step is committed to the ledger before the next call, so a rerun resumes where the
last run stopped. No duplicate, ever: a create whose outcome is unknown (timeout, dropped
connection, 5xx) is followed by look-ups of the clone by its proven marker until a listing
asked for `create_timeout_s + settle_s` after it was sent, before it is sent again; the
same holds for a create cut off by a crash. Creates go out one at a time, so a create refused
for the clone quota (in any wording, `is_quota_refusal`) stops the run before another is sent:
the voices not sent stay queued. Other per-voice failures (a refused sample) are recorded and
the other voices go on. Also records the replacements found on the
account that the ledger does not know (`adopt_marked`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import assert_never

from audit.api.client import UploadFile, WavesClient
from audit.api.failures import means_clone_quota
from audit.core.config import Settings
from audit.core.errors import ApiError, AuthError, CreateOutcomeUnknown, TransportError
from audit.core.models import Clone, CloneStatus, Fidelity, ProbeVerdict
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
from audit.migrate.selection import adoptable
from audit.migrate.state import State
from audit.migrate.trust import upload_bytes_problem
from audit.migrate.watcher import StatusWatcher

log = logging.getLogger(__name__)

#: Creates of one voice in one run, counting the first, when each outcome stays unknown.
MAX_CREATES = 3

#: The probe of a new clone: its verdict, the reason, and the audio it judged (None when none came).
Verifier = Callable[[Clone], Awaitable[tuple[ProbeVerdict, str, bytes | None]]]
#: Told every fidelity check: the entry, the verdict, the source's and the probe's audio
#: (for listening clips). Called in a worker thread.
Heard = Callable[[PlanEntry, FidelityVerdict, bytes, bytes], None]


def adopt_marked(plan: Plan, ledger: Ledger, listing: Listing, options: DecisionOptions) -> int:
    """Record replacements found on the account that the ledger does not know (lost ledger,
    or a crash between create and record), for every voice of the plan. Returns how many."""
    found = adoptable(plan, ledger.all(), listing, options)
    for entry, new_id in found:
        _record_new(ledger, plan, entry, new_id, "found on the account by its marker and proof tags")
    return len(found)


def is_quota_refusal(exc: ApiError) -> bool:
    """A create refused because the account's clone quota is full, in any wording the API has
    used ("clone limit exceeded, consider upgrading", "Voice clone limit reached", "quota ...")."""
    return means_clone_quota(exc.status, exc.message, exc.error_code)


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
        self.holding: dict[str, datetime] = {}  # cut-off creates held back now, until when they may go out
        self.quota_reached: str | None = None  # the refusal that stopped the run, once the quota is full
        self.waiting = 0  # voices waiting for their new clone to finish processing: they hold no request
        # Creates go out one at a time: when one is refused for the quota, no other is in flight
        # (the refusal stops apply before another doomed create is sent, whatever the wording).
        self._one_create = asyncio.Lock()

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
        try:
            while True:
                asked = datetime.now(UTC)
                self._saw(await self._client.list_clones(), asked)
                row = self._ledger.get(entry.voice_id)
                action = decide(row, self._listing.view(entry.voice_id, row), self._decisions)
                if not isinstance(action, AwaitUnknownCreate):
                    return action
                self._holding_back(entry, action.until)
                remaining = (action.until - datetime.now(UTC)).total_seconds()
                log.info("%s: a create may still finish; looking again for up to %.0f s", entry.voice_id, remaining)
                await asyncio.sleep(min(max(remaining, 0.0), step))
        finally:
            self.holding.pop(entry.voice_id, None)

    def _holding_back(self, entry: PlanEntry, until: datetime) -> None:
        """Say once per voice that a create cut off earlier is held back, and until when."""
        if self.holding.get(entry.voice_id) == until:
            return
        self.holding[entry.voice_id] = until
        s = self._settings
        log.warning("%s: holding back a create that was cut off (it may still finish on the server) until %s UTC, "
                    "%.0f s after it was sent ([api] create_timeout_s %.0f s + [apply] settle_s %.0f s), so the "
                    "clone is never made twice; it is sent again then unless the clone appears first",
                    entry.voice_id, until.strftime("%H:%M:%S"), s.api.create_timeout_s + s.apply.settle_s,
                    s.api.create_timeout_s, s.apply.settle_s)

    def hold_remaining(self) -> float | None:
        """Seconds until the last held-back create may go out again (None when none is held)."""
        if not self.holding:
            return None
        return max(0.0, (max(self.holding.values()) - datetime.now(UTC)).total_seconds())

    def note(self) -> str:
        """A progress bar's note while a cut-off create is held back: how many, and until when."""
        if not self.holding:
            return ""
        until = max(self.holding.values())
        return (f"holding back {len(self.holding)} cut-off create(s) until {until.strftime('%H:%M:%S')} UTC "
                "(no duplicate clone)")

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
        pool = (entry.new_clone.model,) if entry.new_clone else None  # heard on the pool it was made on
        verdict, reason, audio = await self._verify(Clone(voice_id=new_id, language=language, model_ids=pool))
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
            try:
                async with self._one_create:
                    if self.quota_reached and not maybe_sent:  # another voice's create was refused: this one would be
                        self._record(entry, State.QUEUED, f"not sent: {self.quota_reached}")
                        return None
                    sending()
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
