"""The concurrency limiter's decisions, driven by a fake clock and a simulated account."""

from __future__ import annotations

import asyncio
import time

import pytest

from audit.api.limiter import Limiter, Ticket, start_and_ceiling


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def simulate(limiter: Limiter, clock: Clock, account: int, n: int, latency: float = 0.2,
             retry_after: float = 1.0) -> dict[str, int]:
    """Run `n` requests through the limiter against an account allowing `account` at once,
    in discrete time: each round sends what the limiter allows (a refused request once its own
    wait is over, ahead of fresh ones), then the answers come back."""
    fresh, done, refused_after_found, refused = n, 0, 0, 0
    held: list[float] = []  # refused requests: when each may go again
    server_in_flight = 0
    while done < n:
        sent: list[tuple[Ticket, bool]] = []
        while limiter.may_send():
            due = next((i for i, at in enumerate(held) if at <= clock.now), None)
            if due is not None:
                held.pop(due)
            elif fresh:
                fresh -= 1
            else:
                break
            ticket = limiter.grant()
            admitted = server_in_flight < account
            server_in_flight += admitted
            sent.append((ticket, admitted))
        if not sent:
            clock.now = max(clock.now + 0.01, limiter.not_before)
            continue
        clock.now += latency
        for ticket, admitted in sent:
            if admitted:
                server_in_flight -= 1
                limiter.ok(ticket)
                done += 1
            else:
                refused += 1
                refused_after_found += limiter.known is not None and ticket.in_flight <= limiter.known
                outcome = limiter.refused(ticket, retry_after, 0.5)
                held.append(clock.now + (outcome.wait_s if outcome.self_inflicted else 0.0))
    return {"refused": refused, "refused_after_found": refused_after_found}


@pytest.mark.parametrize("account", [1, 2, 4, 10, 33])
def test_discovery_finds_the_account_limit_and_holds_it(account: int) -> None:
    clock = Clock()
    limiter = Limiter(start=1, ceiling=64, discover=True, clock=clock)
    outcome = simulate(limiter, clock, account, n=2000)
    assert limiter.known == account and limiter.limit == account
    assert outcome["refused_after_found"] == 0  # once found, never over it again
    assert outcome["refused"] <= account + 1  # one overshoot burst, at most one round's worth
    assert limiter.peak_in_flight <= 2 * account


def test_a_given_concurrency_is_a_ceiling_and_a_429_lowers_it() -> None:
    clock = Clock()
    start, ceiling, discover = start_and_ceiling(8, 64)
    assert (start, ceiling, discover) == (8, 8, False)
    limiter = Limiter(start=start, ceiling=ceiling, discover=discover, clock=clock)
    outcome = simulate(limiter, clock, account=2, n=2000)
    assert limiter.known == 2 and limiter.limit == 2
    # the first round at 8 (6 refused), then at most one on the climb that proves 2 exactly
    assert outcome["refused"] <= 7


def test_a_given_concurrency_is_never_exceeded_even_when_the_account_allows_more() -> None:
    clock = Clock()
    limiter = Limiter(start=3, ceiling=3, discover=False, clock=clock)
    simulate(limiter, clock, account=10, n=300)
    assert limiter.peak_in_flight == 3 and limiter.known is None


def test_only_a_429_sent_alongside_our_own_requests_is_self_inflicted() -> None:
    clock = Clock()
    limiter = Limiter(start=4, ceiling=4, discover=False, clock=clock)
    alone = limiter.grant()
    outcome = limiter.refused(alone, retry_after=None, fallback_s=0.5)
    assert not outcome.self_inflicted and limiter.known is None  # someone else's load: counts
    tickets = [limiter.grant() for _ in range(3)]
    outcome = limiter.refused(tickets[-1], retry_after=2.0, fallback_s=0.5)
    assert outcome.self_inflicted and limiter.known == 2 and limiter.limit == 2


def test_an_account_429_closes_the_window_for_everyone() -> None:
    """A 429 with nothing else of ours in flight is another client's or the account's own
    throttling: nobody sends until its Retry-After is over."""
    clock = Clock()
    limiter = Limiter(start=2, ceiling=2, discover=False, clock=clock)
    alone = limiter.grant()
    outcome = limiter.refused(alone, retry_after=1.5, fallback_s=0.5)
    assert not outcome.self_inflicted and outcome.wait_s == 1.5
    assert limiter.in_flight == 0 and not limiter.may_send() and limiter.rate_limited  # slots free, window shut
    assert limiter.status() == "waiting on rate limits (2 at once)"
    clock.now += 1.5
    assert limiter.may_send() and not limiter.rate_limited


async def test_a_self_inflicted_429_holds_only_its_own_call_while_a_freed_slot_goes_to_the_next() -> None:
    """The API limits requests in flight: a 429 the tool caused lowers the limit, its
    Retry-After holds the refused call alone, and a slot our own answer frees goes on at once."""
    limiter = Limiter(start=2, ceiling=2, discover=False)
    a, b = await limiter.acquire(), await limiter.acquire()
    outcome = limiter.refused(b, retry_after=0.4, fallback_s=0.0)  # sent with `a` out: ours
    assert outcome.self_inflicted and outcome.wait_s == pytest.approx(0.4) and limiter.limit == 1
    limiter.ok(a)  # a slot our own answer frees is a slot the account frees
    assert limiter.may_send() and not limiter.rate_limited and limiter.status() == "1 at once"
    started = time.monotonic()
    retry = asyncio.create_task(limiter.acquire(retry=True, hold_s=outcome.wait_s))
    await asyncio.sleep(0)
    c = await asyncio.wait_for(limiter.acquire(), 0.3)  # the held retry's wait is not over: fresh work goes
    assert time.monotonic() - started < 0.3 and not retry.done()
    limiter.ok(c)
    d = await asyncio.wait_for(limiter.acquire(), 0.3)
    assert not retry.done()
    later = asyncio.create_task(limiter.acquire())  # queued while `d` holds the one slot
    await asyncio.sleep(0.45)
    assert not retry.done() and not later.done()  # the limit (1), not the window, holds them back
    limiter.ok(d)  # the retry's wait is over: it goes before the fresh call queued ahead of it
    e = await asyncio.wait_for(retry, 1)
    assert time.monotonic() - started >= 0.4 and not later.done()
    limiter.ok(e)
    limiter.ok(await asyncio.wait_for(later, 1))
    report = limiter.report()
    assert report.waited_s == 0.0 and report.held_s == pytest.approx(0.4)
    assert report.as_dict()["waited_for_rate_limit_s"] == 0.0
    assert report.as_dict()["calls_held_for_retry_after_s"] == pytest.approx(0.4)


def test_the_limit_only_grows_when_it_was_reached() -> None:
    clock = Clock()
    limiter = Limiter(start=1, ceiling=64, discover=True, clock=clock)
    for _ in range(3):  # slow start: the limit doubles every round trip that fills it
        batch = [limiter.grant() for _ in range(limiter.limit)]
        assert not limiter.may_send()  # more work waits: the limit holds it back
        for t in batch:
            limiter.ok(t)
    assert limiter.limit == 8
    t = limiter.grant()  # 1 in flight, limit 8: the work, not the limit, keeps the pipe short
    limiter.ok(t)
    assert limiter.limit == 8


def test_after_a_drop_the_limit_climbs_back_to_the_found_level_and_no_further() -> None:
    clock = Clock()
    limiter = Limiter(start=4, ceiling=4, discover=False, clock=clock)
    tickets = [limiter.grant() for _ in range(4)]
    limiter.refused(tickets[3], None, 0.0)  # proves at most 3
    limiter.ok(tickets[0])
    limiter.ok(tickets[1])
    limiter.ok(tickets[2])
    assert limiter.known == 3
    for _ in range(200):
        batch = [limiter.grant() for _ in range(limiter.limit)]
        for t in batch:
            limiter.ok(t)
    assert limiter.limit == 3


async def test_waiters_are_served_retries_first_then_in_order() -> None:
    limiter = Limiter(start=1, ceiling=1, discover=False)
    first = await limiter.acquire()
    order: list[str] = []

    async def take(name: str, retry: bool) -> None:
        ticket = await limiter.acquire(retry=retry)
        order.append(name)
        limiter.ok(ticket)

    tasks = [asyncio.create_task(take("fresh-1", False)), asyncio.create_task(take("fresh-2", False))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(take("retry", True)))
    await asyncio.sleep(0)
    limiter.ok(first)
    await asyncio.gather(*tasks)
    assert order == ["retry", "fresh-1", "fresh-2"]
    assert limiter.in_flight == 0


async def test_a_cancelled_waiter_gives_nothing_away() -> None:
    limiter = Limiter(start=1, ceiling=1, discover=False)
    held = await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.ok(held)
    assert limiter.in_flight == 0 and limiter.waiting == 0
    again = await asyncio.wait_for(limiter.acquire(), 1)
    limiter.ok(again)


def test_one_overshoot_is_answered_by_one_decrease() -> None:
    """A request granted during the burst, before the drop, may reach the server after later
    ones of the same burst: its 429 is free but does not drop the limit again."""
    clock = Clock()
    limiter = Limiter(start=8, ceiling=8, discover=False, clock=clock)
    burst = [limiter.grant() for _ in range(8)]
    limiter.refused(burst[4], None, 0.0)  # granted 5th, came back with 8 out
    assert limiter.limit == 4 and limiter.known == 7  # estimate 4; proven only: at most 7
    outcome = limiter.refused(burst[3], None, 0.0)  # granted at 4, but before the drop to 4
    assert outcome.self_inflicted and limiter.limit == 4
    for t in burst[:3] + burst[5:]:
        limiter.ok(t)
    fresh = [limiter.grant() for _ in range(limiter.limit)]
    assert limiter.in_flight == 4
    outcome = limiter.refused(fresh[-1], None, 0.0)  # sent after the drop with 4 out: at most 3
    assert outcome.self_inflicted and limiter.known == 3 and limiter.limit == 3


def test_an_overtaken_request_does_not_pin_the_limit_below_the_account() -> None:
    """Granted 4th, overtaken by the 5th: the 429 proves at most 4, not 3, and the limit
    climbs back to what is proven."""
    clock = Clock()
    limiter = Limiter(start=5, ceiling=5, discover=False, clock=clock)
    tickets = [limiter.grant() for _ in range(5)]
    limiter.refused(tickets[3], None, 0.0)  # came back with 5 out
    assert limiter.known == 4 and limiter.limit == 3
    for t in tickets[:3] + tickets[4:]:
        limiter.ok(t)
    for _ in range(100):
        batch = [limiter.grant() for _ in range(limiter.limit)]
        limiter.may_send()
        for t in batch:
            limiter.ok(t)
    assert limiter.limit == 4


def test_discovery_starts_at_the_remembered_level_and_still_adapts_both_ways() -> None:
    from audit.api.limiter import LimiterReport, level_to_remember

    assert start_and_ceiling(0, 64, remembered=10) == (10, 64, True)
    assert start_and_ceiling(0, 8, remembered=10) == (8, 8, True)  # the ceiling still rules
    assert start_and_ceiling(3, 64, remembered=10) == (3, 3, False)  # a given level wins
    for account in (2, 10, 16):  # the account shrank, stayed, or grew since
        clock = Clock()
        limiter = Limiter(start=10, ceiling=64, discover=True, remembered=True, clock=clock)
        simulate(limiter, clock, account=account, n=400)
        assert limiter.limit == account and limiter.report().started_from.startswith("the level")

    def report(**kw: object) -> LimiterReport:
        base: dict = dict(mode="discovered", start=1, ceiling=64, limit=1, known=None, peak_in_flight=0,
                          requests=0, refused=0, self_inflicted=0, waited_s=0.0)
        return LimiterReport(**{**base, **kw})

    assert level_to_remember(report(known=4, limit=4, peak_in_flight=5)) == 4  # proved by a 429
    assert level_to_remember(report(limit=9, peak_in_flight=9)) == 9  # never refused: what it held
    assert level_to_remember(report(start=10, limit=10, peak_in_flight=3)) is None  # too little work to learn
    assert level_to_remember(report(mode="given", known=4, peak_in_flight=5)) is None


def test_a_run_that_never_needed_its_remembered_level_does_not_claim_a_lower_limit() -> None:
    limiter = Limiter(start=10, ceiling=64, discover=True, remembered=True, clock=Clock())
    limiter.ok(limiter.grant())  # one request: a rerun that reused every probe
    assert limiter.report().found == "10 (the account's last run; not needed this run)"
    fresh = Limiter(start=1, ceiling=64, discover=True, clock=Clock())
    fresh.ok(fresh.grant())
    assert fresh.report().found == "at least 1"


def test_the_progress_note_says_the_level_and_when_the_line_waits_on_a_429() -> None:
    clock = Clock()
    limiter = Limiter(start=2, ceiling=2, discover=False, clock=clock)
    assert limiter.status() == "2 at once"
    first, second = limiter.grant(), limiter.grant()
    limiter.refused(second, 3.0, 0.5)  # sent alongside `first`: the limit drops to 1, the others go on
    assert limiter.status() == "1 at once"
    limiter.ok(first)
    limiter.refused(limiter.grant(), 3.0, 0.5)  # sent alone: the account's, everyone waits 3 s
    assert limiter.status() == "waiting on rate limits (1 at once)"
    clock.now += 3.1
    assert limiter.status() == "1 at once"
