"""Which voices an apply run works on, from plain ledger rows and a listing (no database, no
server): --only, --limit, --retry-failed, an expired plan, held voices and replacements to
adopt; and the scheduler that keeps [apply] max_in_progress voices going, with a plain
runner in place of the executor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from audit.core.config import Settings
from audit.core.errors import UsageError
from audit.core.models import Action, Clone, CloneStatus, marker_tag
from audit.core.provenance import Provenance
from audit.core.secrets import Secret
from audit.migrate.decide import DecisionOptions, Listing
from audit.migrate.document import Plan, PlanEntry
from audit.migrate.selection import ApplyOptions, adoptable, decision_options, select
from audit.migrate.state import Migration, State
from audit.migrate.workers import run_entries

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
PROVENANCE = Provenance(Secret("sk_test_selection"))
WINDOW = timedelta(seconds=10)
NEW, FRESH, DONE, BROKEN, KEPT = "voice_new0000001", "voice_fresh00001", "voice_done000001", "voice_broken0001", "voice_kept000001"


def entry(voice_id: str, action: Action = Action.RECLONE) -> PlanEntry:
    return PlanEntry(voice_id=voice_id, display_name=voice_id.title(), verdict="legacy", probe_verdict="short_wav",
                     action=action, reason="", fingerprint="f" * 16)


def plan_of(*entries: PlanEntry) -> Plan:
    return Plan(plan_id="p1", created_at=NOW, expires_at=NOW + timedelta(hours=24), base_url="http://127.0.0.1:1",
                inventory_fingerprint="i" * 16, entries=entries, forecast={})


def row(voice_id: str, state: State, new_voice_id: str | None = None) -> Migration:
    return Migration(old_voice_id=voice_id, plan_id="p1", state=state, new_voice_id=new_voice_id,
                     display_name=None, language="en", source_sha256=None, probe_verdict=None, verified_at=None,
                     retired_at=None, detail="", creates=1, updated_at=NOW.isoformat(timespec="milliseconds"))


def listing(*clones: Clone) -> Listing:
    return Listing.of(clones, PROVENANCE.markers(clones), NOW)


def ours(old_voice_id: str, new_voice_id: str, status: CloneStatus = CloneStatus.COMPLETED) -> Clone:
    """A replacement as apply makes it: the old voice's marker and a proof made with the key."""
    return Clone(voice_id=new_voice_id, status=status, raw_status=status.value,
                 tags=(marker_tag(old_voice_id), PROVENANCE.proof_tag(old_voice_id)))


def options(retry: bool = False, expired: bool = False) -> DecisionOptions:
    return DecisionOptions(retry_failed=retry, expired=expired, unknown_create_window=WINDOW)


PLAN = plan_of(entry(FRESH), entry(DONE), entry(BROKEN), entry(KEPT, Action.KEEP))
ROWS = (row(DONE, State.VERIFIED, NEW), row(BROKEN, State.FAILED))


def test_each_voice_is_sorted_by_where_its_row_stands() -> None:
    chosen = select(PLAN, ROWS, listing(ours(DONE, NEW)), ApplyOptions(), options())
    assert [e.voice_id for e in chosen.todo] == [FRESH]  # no row yet: it is created
    assert (chosen.verified, chosen.failed, chosen.expired, chosen.beyond_limit, chosen.held) == (
        [DONE], [BROKEN], [], 0, {})


def test_retry_failed_takes_the_failed_voices_again() -> None:
    chosen = select(PLAN, ROWS, listing(ours(DONE, NEW)), ApplyOptions(retry_failed=True), options(retry=True))
    assert [e.voice_id for e in chosen.todo] == [FRESH, BROKEN] and chosen.failed == []


def test_an_expired_plan_starts_no_new_voice_but_finishes_one_it_started() -> None:
    rows = (*ROWS, row(FRESH, State.CREATED, "voice_made000001"))
    the_plan = plan_of(entry(FRESH), entry("voice_never00001"))
    chosen = select(the_plan, rows, listing(ours(FRESH, "voice_made000001", CloneStatus.PROCESSING)),
                    ApplyOptions(), options(expired=True))
    assert [e.voice_id for e in chosen.todo] == [FRESH]
    assert chosen.expired == ["voice_never00001"]


def test_limit_keeps_the_first_voices_and_counts_the_rest() -> None:
    the_plan = plan_of(*(entry(f"voice_limit0000{i}") for i in range(5)))
    chosen = select(the_plan, (), listing(), ApplyOptions(limit=2), options())
    assert [e.voice_id for e in chosen.todo] == ["voice_limit00000", "voice_limit00001"]
    assert chosen.beyond_limit == 3


def test_only_narrows_the_run_to_the_named_voices() -> None:
    chosen = select(PLAN, ROWS, listing(ours(DONE, NEW)), ApplyOptions(only=frozenset({FRESH})), options())
    assert [e.voice_id for e in chosen.todo] == [FRESH] and chosen.verified == chosen.failed == []


def test_only_naming_a_voice_the_plan_does_not_reclone_is_refused_with_each_named() -> None:
    with pytest.raises(UsageError) as raised:
        select(PLAN, ROWS, listing(), ApplyOptions(only=frozenset({KEPT, "voice_elsewhere1"})), options())
    assert f"{KEPT} (KEEP)" in raised.value.message and "voice_elsewhere1 (not in the plan)" in raised.value.message


def test_a_clone_with_an_unverifiable_marker_holds_its_voice() -> None:
    foreign = Clone(voice_id="voice_foreign001", status=CloneStatus.COMPLETED, raw_status="completed",
                    tags=(marker_tag(FRESH), "clone-audit-proof:" + "0" * 32))
    chosen = select(plan_of(entry(FRESH)), (), listing(foreign), ApplyOptions(), options())
    assert chosen.todo == [] and list(chosen.held) == [FRESH] and "voice_foreign001" in chosen.held[FRESH]


def test_rows_are_read_as_given_whatever_their_order_or_extra_voices() -> None:
    rows = [row("voice_other00001", State.VERIFIED, "voice_x"), *reversed(ROWS)]
    chosen = select(PLAN, iter(rows), listing(ours(DONE, NEW)), ApplyOptions(), options())
    assert (chosen.verified, chosen.failed) == ([DONE], [BROKEN])


def test_a_proven_replacement_the_rows_do_not_know_is_adoptable() -> None:
    account = listing(ours(FRESH, "voice_lost000001"), ours(DONE, NEW))
    assert [(e.voice_id, new) for e, new in adoptable(PLAN, ROWS, account, options())] == [(FRESH, "voice_lost000001")]
    known = (*ROWS, row(FRESH, State.CREATED, "voice_lost000001"))
    assert adoptable(PLAN, known, account, options()) == []


def test_the_unknown_create_window_is_the_create_timeout_plus_the_settle_time() -> None:
    settings = Settings()
    made = decision_options(settings, ApplyOptions(retry_failed=True), expired=True)
    assert made.unknown_create_window == timedelta(seconds=settings.api.create_timeout_s + settings.apply.settle_s)
    assert made.retry_failed and made.expired


# -- the scheduler, with a plain runner ------------------------------------------------------------------------


class Runner:
    """Ends each voice in the state given for it, after a short wait, counting voices in progress."""

    def __init__(self, ends: dict[str, State], quota_after: str | None = None) -> None:
        self.ends = ends
        self.quota_after = quota_after
        self.quota_reached: str | None = None
        self.started: list[str] = []
        self.now = self.most = 0
        self.closed = False

    async def migrate(self, entry: PlanEntry) -> State:
        self.started.append(entry.voice_id)
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(0.01)
        self.now -= 1
        if entry.voice_id == self.quota_after:
            self.quota_reached = "Voice clone limit reached"
        return self.ends.get(entry.voice_id, State.VERIFIED)

    async def aclose(self) -> None:
        self.closed = True


ENTRIES = [entry(f"voice_work0000{i}") for i in range(6)]


def test_the_scheduler_keeps_at_most_width_voices_going_and_does_every_one() -> None:
    runner, done = Runner({}), []
    stopped = asyncio.run(run_entries(runner, ENTRIES, lambda: 2, 4, False, lambda e, s: done.append((e.voice_id, s))))
    assert not stopped and runner.closed and runner.most == 2
    assert sorted(done) == [(e.voice_id, State.VERIFIED) for e in ENTRIES]


def test_fail_fast_stops_after_a_voice_that_is_not_verified() -> None:
    runner = Runner({"voice_work00001": State.FAILED})
    stopped = asyncio.run(run_entries(runner, ENTRIES, lambda: 1, 1, True, lambda e, s: None))
    assert stopped and runner.started == ["voice_work00000", "voice_work00001"] and runner.closed


def test_a_full_clone_quota_stops_the_run() -> None:
    runner = Runner({}, quota_after="voice_work00000")
    stopped = asyncio.run(run_entries(runner, ENTRIES, lambda: 1, 1, False, lambda e, s: None))
    assert stopped and runner.started == ["voice_work00000"]
