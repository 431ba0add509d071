"""Apply's decisions, as one pure function: what to do next with one voice of a plan.

`decide` takes everything the decision rests on, and nothing else: the voice's ledger
row (or None), what the account listing says about it (`AccountView`: its proven
replacements, clones whose marker cannot be verified, the ledger's new clone as listed,
and when that listing was asked for), and the run's options (--retry-failed, whether the
plan has expired, how long an unknown create may take to show up). It returns one
`Step`: the action to take. The apply stage gathers the inputs, calls this, and sorts
(`audit.migrate.selection`) or carries out (`audit.migrate.executor`) the step; a table
of every combination tests it.

The rules, in order:
1. a verified voice is done, and so is a fidelity mismatch a person accepted (`review`);
2. a proven replacement the ledger does not know as live (no row, no new id, a new id
   that failed or is gone) is adopted, whatever the options: it exists, so it is never
   made twice (the ledger's own new clone first, when it is listed again);
3. a failed or unverified voice, or a mismatch not accepted, waits for --retry-failed (which
   checks a mismatch's clone again while it is listed, and makes it again once a person
   deleted it in the dashboard);
4. an expired plan starts nothing new (a voice with no clone and no create in flight);
5. otherwise the voice goes on from where its row stands: create; look for a create whose
   outcome is unknown until its window (create_timeout_s + settle_s after it was sent) has
   passed in a listing; wait for a new clone to complete; verify it; make again one deleted
   in the dashboard. Before any new create, a clone carrying an unverifiable marker for the
   voice holds it for a person (it might be a replacement made with another key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import assert_never

from audit.core.models import Clone, CloneStatus
from audit.core.provenance import Markers
from audit.core.untrusted import shown
from audit.migrate.state import Migration, State, is_ready

# -- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountView:
    """What one listing of the account says about one voice."""

    listed_at: datetime  # when the listing was asked for (it shows the account at or after this)
    marked: tuple[Clone, ...] = ()  # clones whose marker for this voice carries a valid proof
    unproven: tuple[str, ...] = ()  # clones (not failed) whose marker for it cannot be verified
    new_clone: Clone | None = None  # the ledger row's new clone, when the listing holds it


@dataclass(frozen=True)
class DecisionOptions:
    retry_failed: bool
    expired: bool
    unknown_create_window: timedelta  # create_timeout_s + settle_s


@dataclass(frozen=True)
class Listing:
    """One list answer, indexed once, from which each voice's `AccountView` is read."""

    listed_at: datetime
    clones: Mapping[str, Clone] = field(default_factory=lambda: MappingProxyType({}))
    marked: Mapping[str, tuple[Clone, ...]] = field(default_factory=lambda: MappingProxyType({}))
    unproven: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, clones: Iterable[Clone], markers: Markers, listed_at: datetime) -> Listing:
        by_id: dict[str, Clone] = {}
        marked: dict[str, list[Clone]] = {}
        unproven: dict[str, list[str]] = {}
        for clone in clones:
            by_id[clone.voice_id] = clone
            if (origin := markers.origin(clone)) is not None:
                marked.setdefault(origin, []).append(clone)
            elif (claimed := markers.claimed(clone)) is not None and clone.status is not CloneStatus.FAILED:
                unproven.setdefault(claimed, []).append(clone.voice_id)
        return cls(
            listed_at, MappingProxyType(by_id),
            MappingProxyType({k: tuple(v) for k, v in marked.items()}),
            MappingProxyType({k: tuple(v) for k, v in unproven.items()}),
        )

    def view(self, voice_id: str, row: Migration | None) -> AccountView:
        new_id = row.new_voice_id if row else None
        return AccountView(
            listed_at=self.listed_at,
            marked=self.marked.get(voice_id, ()),
            unproven=self.unproven.get(voice_id, ()),
            new_clone=self.clones.get(new_id) if new_id else None,
        )


# -- steps (the actions decide returns) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Create:
    """Send a create (nothing of ours exists, or what existed failed or vanished)."""

    why: str


@dataclass(frozen=True)
class Recreate:
    """The completed new clone was deleted since (it is no longer listed): record that, create again."""

    gone_voice_id: str


@dataclass(frozen=True)
class Adopt:
    """A proven replacement the ledger does not know: record it, then wait for it and verify it."""

    new_voice_id: str


@dataclass(frozen=True)
class AwaitUnknownCreate:
    """A create was sent and its outcome never recorded: look for it in listings until `until`."""

    until: datetime


@dataclass(frozen=True)
class WaitForCompletion:
    """Wait for the new clone to complete or fail, then verify it. `reopen`: the ledger says it
    failed (say, it was only slow), so record it as created again first."""

    new_voice_id: str
    reopen: bool = False


@dataclass(frozen=True)
class Verify:
    """The new clone is completed: probe it."""

    new_voice_id: str


@dataclass(frozen=True)
class SkipDone:
    """Verified already (or a mismatch a person accepted)."""


@dataclass(frozen=True)
class SkipFailed:
    """Failed, unverified or a fidelity mismatch earlier; --retry-failed takes it."""


@dataclass(frozen=True)
class RefuseExpired:
    """Never started, and the plan has expired: re-plan for it."""


@dataclass(frozen=True)
class Hold:
    """Would create, but clones carry a marker for this voice that the tool cannot verify."""

    clones: tuple[str, ...]

    @property
    def reason(self) -> str:
        return (f"{', '.join(map(shown, self.clones))} carries a migrated-from marker for this voice that clone-audit cannot "
                "verify (made by someone else, or with another API key); nothing was created. Check it: if it "
                "is not this voice's replacement, delete it and run apply again")


Step = (
    Create | Recreate | Adopt | AwaitUnknownCreate | WaitForCompletion | Verify
    | SkipDone | SkipFailed | RefuseExpired | Hold
)  # fmt: skip


# -- the decision -----------------------------------------------------------------------


def decide(row: Migration | None, account: AccountView, options: DecisionOptions) -> Step:
    """What to do next with one voice (see the module docstring for the rules)."""
    state = row.state if row else None
    new_id = row.new_voice_id if row else None
    listed = account.new_clone
    if row is not None and is_ready(row):
        return SkipDone()
    alive = [c.voice_id for c in account.marked if c.status is not CloneStatus.FAILED]
    ledger_has_live_clone = new_id is not None and (
        state is State.CREATED  # made moments ago: a lagging list may not show it yet
        or (state in (State.COMPLETED, State.UNVERIFIED, State.MISMATCH) and listed is not None)
    )
    if alive and not ledger_has_live_clone and not (state is State.FAILED and new_id in alive):
        return Adopt(new_id if new_id is not None and new_id in alive else alive[0])
    if state in (State.FAILED, State.UNVERIFIED, State.MISMATCH) and not options.retry_failed:
        return SkipFailed()
    if options.expired and new_id is None and state is not State.CREATING:
        return RefuseExpired()

    def create(why: str) -> Create | Hold:
        return Hold(account.unproven) if account.unproven else Create(why)

    match state:
        case None | State.QUEUED:
            return create("nothing was sent yet")
        case State.CREATING:
            assert row is not None
            until = datetime.fromisoformat(row.updated_at) + options.unknown_create_window
            if account.listed_at < until:  # it may still appear
                return AwaitUnknownCreate(until)
            return create("a create whose outcome was unknown never appeared")
        case (State.CREATED | State.COMPLETED | State.UNVERIFIED | State.MISMATCH | State.FAILED
              | State.VERIFIED) if new_id is None:
            return create("it failed before any clone existed")
        case State.FAILED:
            assert new_id is not None
            if listed is not None and listed.status is not CloneStatus.FAILED:
                return WaitForCompletion(new_id, reopen=True)  # it was only slow
            return create(f"{new_id} failed or is gone")
        case State.COMPLETED | State.UNVERIFIED | State.MISMATCH:
            assert new_id is not None
            if listed is None:  # it was listed once (it completed), so it was deleted since
                return Hold(account.unproven) if account.unproven else Recreate(new_id)
            return Verify(new_id)
        case State.CREATED:
            assert new_id is not None
            return WaitForCompletion(new_id)
        case State.VERIFIED:
            return SkipDone()
        case _ as unreachable:
            assert_never(unreachable)
