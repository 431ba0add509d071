"""The account's concurrency limit, found while working and shared by every call.

Owns `Limiter`: how many requests the client may have in flight, and when the next may go.
The account's limit (one TTS request on the default plan, ten or more on paid ones) is not
published, so unless the user gives one the limiter discovers it:

- **Slow start.** It starts at `start` (1 when discovering) and, while answers come back
  clean, raises the limit by one per clean answer while the limit is what holds callers back
  (a caller found every slot taken): the limit doubles every round trip, and never grows
  while the work itself is what keeps fewer requests in flight.
- **What a 429 proves.** The server frees a slot before its answer leaves, so it never holds
  more of ours than we have out. A 429 for a request granted with `k` of ours in flight (itself
  included) that came back with `a` in flight proves the account allows at most
  `max(k, a) - 1` at once: requests granted after it may have overtaken it on the way, but
  they were still out when its answer came. The lowest such bound is `known`, and the limit
  never goes above it again for the run ("hold the found level").
- **Decrease.** The limit drops at once to `k - 1`, the exact bound when nothing overtook
  (no halving): one drop per overshoot, as TCP does once per window (a 429 for a request
  granted before the latest drop belongs to the overshoot already answered). Since `k - 1`
  may undershoot when a request was overtaken, the limit then climbs back by `1/limit` per
  clean answer (additive increase) up to `known`; a 429 on that climb tightens `known`.
- **Who pays for a 429.** A 429 sent with others of ours in flight (`k > 1`) is the tool's own
  pressure: the call is retried without spending its attempt budget (`Outcome.self_inflicted`).
  Each such 429 lowers `known` below the in-flight count it was sent at, so they are finite.
  A 429 with nothing else of ours in flight is the account's doing (another client, a quota):
  it counts against the call's attempts like any other error.
- **Whose Retry-After.** The API limits how many requests are in flight, not how many are sent
  per second: a slot is free again once a request's answer comes back. So a self-inflicted
  429's wait (`retry-after-ms` / `Retry-After`, else the fallback) holds that call only: it
  waits at least that long, then takes the next free slot ahead of fresh work, while the other
  callers go on at the lowered limit (a slot our own answer frees is a slot the account frees).
  A 429 that is the account's doing (nothing else of ours in flight: another client, the
  account's own throttling) sets `not_before` for every caller: nobody sends into a window the
  server said is closed. In a 429 storm (every request refused for a while) each round of
  self-inflicted 429s drops the limit by one, so within about `limit` round trips the tool has
  one request in flight, and the next 429 is the account's and closes the window for everyone.
- **Fair requeueing.** A refused call gives its slot back at once (the limit just dropped, so
  the slot may no longer exist) and waits again at the head of the line: once its own wait is
  over, retries go before fresh work, in the order they were refused, so no voice starves.
  Fresh callers are served first come, first served.

A discovering run starts where the account's last discovering run ended (`level_to_remember`,
kept per account in the user's state folder by the CLI), so a weekly job pays for slow start
once, not every week; run.json says which start it took. Above a remembered level the limit
grows additively, as after a drop: the account is probed for growth without a burst of 429s.

With `--concurrency N` the limiter starts at N and treats N as the ceiling: a 429 drops it
below N exactly as above, instead of retrying blindly at N.

The limiter counts every authenticated call: the API does not say whether list and create
count against the TTS limit, and counting them is right either way (if they do not, the
only cost is that a list waits for a TTS slot). The decision logic (`grant`, `ok`, `refused`)
is plain code over an injected clock, unit-tested without a server; `acquire` / `slot` are
the asyncio wrapper around it: the caller takes a `Ticket` with `acquire` and settles it with
exactly one of `ok`, `refused` or `cancelled`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ticket:
    """One granted slot: how many of ours were in flight when it was taken, itself included."""

    in_flight: int
    limit: int
    epoch: int = 0  # how many times the limit had been lowered when this slot was granted


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a 429 meant: whether the tool caused it, and how long the refused call waits at least
    (its own Retry-After when self-inflicted, the window every caller waits out when not)."""

    self_inflicted: bool
    wait_s: float


@dataclass(frozen=True, slots=True)
class LimiterReport:
    """What run.json and the report say about the run's concurrency."""

    mode: str  # "discovered" (no --concurrency) or "given"
    start: int
    ceiling: int
    limit: int  # the level held at the end
    known: int | None  # the account's limit as proved by 429s; None: never refused
    peak_in_flight: int
    requests: int
    refused: int  # answered 429
    self_inflicted: int  # of those, caused by the tool's own pressure (retried for free)
    waited_s: float  # time the line stood still honouring an account's 429 (its Retry-After)
    remembered: bool = False  # discovery started at the level an earlier run on the account held
    held_s: float = 0.0  # self-inflicted 429s: their own Retry-After waits, summed over the calls held

    @property
    def found(self) -> str:
        """The account's limit in words: exact once a 429 proved it, else a lower bound."""
        if self.known is not None:
            return str(self.known)
        if self.remembered and self.peak_in_flight < self.start:  # this run never needed the level it started at
            return f"{self.start} (the account's last run; not needed this run)"
        return f"at least {self.peak_in_flight}" if self.peak_in_flight else "not measured"

    @property
    def started_from(self) -> str:
        if self.mode == "given":
            return "--concurrency"
        return "the level the account's last run held" if self.remembered else "1 (slow start)"

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode, "start": self.start, "started_from": self.started_from,
            "ceiling": self.ceiling, "limit": self.limit,
            "account_limit": self.known, "account_limit_found": self.found,
            "peak_in_flight": self.peak_in_flight, "requests": self.requests, "answered_429": self.refused,
            "self_inflicted_429": self.self_inflicted, "waited_for_rate_limit_s": round(self.waited_s, 3),
            "calls_held_for_retry_after_s": round(self.held_s, 3),
        }


class Limiter:
    """Adaptive concurrency limit for one account (see the module docstring)."""

    def __init__(self, *, start: int, ceiling: int, discover: bool, remembered: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 1 <= start <= ceiling:
            raise ValueError(f"need 1 <= start <= ceiling, got start={start}, ceiling={ceiling}")
        self._clock = clock
        self._limit = float(start)
        self.start, self.ceiling, self.discover = start, ceiling, discover
        self.remembered = remembered and discover
        # A remembered level is a good estimate: above it, probe additively (one 429 at most to
        # find the account has not grown), as TCP does above its slow-start threshold.
        self._slow_start_below = float(start) if self.remembered else math.inf
        self.known: int | None = None
        self.in_flight = 0
        self.not_before = 0.0
        self.peak_in_flight = 0
        self.requests = 0
        self.limited = 0
        self.self_inflicted = 0
        self.waited_s = 0.0
        self.held_s = 0.0
        self._stalled_since: float | None = None
        self._saturated = False  # a caller found every slot taken since the last spare room
        self._epoch = 0  # bumped by every decrease
        # Refused calls, in the order refused: (when its own wait is over, its future).
        self._retries: collections.deque[tuple[float, asyncio.Future[Ticket]]] = collections.deque()
        self._fresh: collections.deque[asyncio.Future[Ticket]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    # -- the decisions (pure, clock injected) -------------------------------------------

    @property
    def limit(self) -> int:
        return max(1, int(self._limit))

    def may_send(self) -> bool:
        return not self._full() and self._clock() >= self.not_before

    def _full(self) -> bool:
        """No slot free; remembers that demand met the limit (so answers may raise it)."""
        if self.in_flight >= self.limit:
            self._saturated = True
            return True
        return False

    def grant(self) -> Ticket:
        """Take a slot (the caller checked `may_send`)."""
        if self.in_flight + 1 < self.limit:
            self._saturated = False  # room to spare: the work, not the limit, sets the pace
        self.in_flight += 1
        self.requests += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return Ticket(self.in_flight, self.limit, self._epoch)

    def ok(self, ticket: Ticket) -> None:
        """A clean answer (anything but 429): free the slot; raise the limit if it was reached."""
        self._free()
        if not self._saturated and ticket.in_flight < ticket.limit:  # the work kept the pipe short
            return
        top = self.ceiling if self.known is None else min(self.ceiling, self.known)
        slow = self.known is None and self._limit < self._slow_start_below
        step = 1.0 if slow else 1.0 / max(self._limit, 1.0)
        self._limit = min(float(top), self._limit + step)
        self._wake()

    def refused(self, ticket: Ticket, retry_after: float | None, fallback_s: float) -> Outcome:
        """A 429: free the slot and learn the bound it proves. Its wait holds the refused call
        alone when the tool caused it (`acquire(hold_s=outcome.wait_s)`), and closes the window
        for everyone when the account did."""
        self._free()
        self.limited += 1
        stale = ticket.epoch < self._epoch  # sent during an overshoot a decrease already answered
        at_answer = self.in_flight + 1  # ours in flight as it came back, itself included
        mine = ticket.in_flight > 1 or at_answer > 1 or stale
        if mine:
            self.self_inflicted += 1
            # Guaranteed: when it reached the server, at most this many others of ours were there.
            proved = max(ticket.in_flight, at_answer) - 1
            if proved >= 1 and (self.known is None or proved < self.known):
                self.known = proved
            estimate = max(1, ticket.in_flight - 1)  # exact unless later requests overtook it
            if not stale and estimate < self._limit:
                self._limit = float(estimate)
                self._epoch += 1
            self._limit = min(self._limit, float(self.known or self._limit))
        wait = max(0.0, fallback_s if retry_after is None else retry_after)
        now = self._clock()
        if mine:  # the account frees a slot as each answer of ours comes back: the others go on
            self.held_s += wait
        elif now + wait > self.not_before:
            self.not_before = now + wait
        self._wake()
        return Outcome(self_inflicted=mine, wait_s=max(wait, self.not_before - now))

    def cancelled(self) -> None:
        """The call ended without an answer that says anything about the limit."""
        self._free()
        self._wake()

    @property
    def waiting(self) -> int:
        return len(self._retries) + len(self._fresh)

    @property
    def rate_limited(self) -> bool:
        """True while the line stands still honouring an account's 429 (its Retry-After)."""
        return self._clock() < self.not_before

    def status(self) -> str:
        """A progress bar's note: the level in use, and whether the line waits on an account's 429."""
        if self.rate_limited:
            return f"waiting on rate limits ({self.limit} at once)"
        return f"{self.limit} at once"

    def report(self) -> LimiterReport:
        return LimiterReport(
            mode="discovered" if self.discover else "given", start=self.start, ceiling=self.ceiling,
            limit=self.limit, known=self.known, peak_in_flight=self.peak_in_flight, requests=self.requests,
            refused=self.limited, self_inflicted=self.self_inflicted, waited_s=self.waited_s,
            remembered=self.remembered, held_s=self.held_s,
        )

    def _free(self) -> None:
        self.in_flight -= 1
        assert self.in_flight >= 0, "a slot was freed twice"

    # -- the asyncio wrapper -------------------------------------------------------------

    async def acquire(self, *, retry: bool = False, hold_s: float = 0.0) -> Ticket:
        """Wait for a slot: retries first (in the order refused, each once its own `hold_s` is
        over), then fresh calls in order."""
        if not self._retries and not self._fresh and hold_s <= 0 and self.may_send():
            return self.grant()
        future: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        entry = (self._clock() + max(0.0, hold_s), future)
        if retry:
            self._retries.append(entry)
        else:
            self._fresh.append(future)
        self._wake()
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # granted, but we are gone: give it back
                self.cancelled()
            else:
                with contextlib.suppress(ValueError):
                    if retry:
                        self._retries.remove(entry)
                    else:
                        self._fresh.remove(future)
            raise

    def _wake(self) -> None:
        """Hand free slots to the waiters, or set a timer for when the window opens or the first
        held retry's wait is over."""
        while self._retries or self._fresh:
            now = self._clock()
            if now < self.not_before:
                if self._stalled_since is None:
                    self._stalled_since = now
                self._arm(self.not_before - now)
                return
            if self._stalled_since is not None:
                self.waited_s += now - self._stalled_since
                self._stalled_since = None
            ready = next((i for i, (at, _) in enumerate(self._retries) if at <= now), None)
            if ready is None and not self._fresh:  # only held retries: wake when the first is due
                self._arm(min(at for at, _ in self._retries) - now)
                return
            if self._full():
                return
            if ready is not None:
                future = self._retries[ready][1]
                del self._retries[ready]
            else:
                future = self._fresh.popleft()
            if not future.done():
                future.set_result(self.grant())

    def _arm(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + max(delay, 0.0) + 1e-3
        if self._timer is not None and not self._timer.cancelled():
            if self._timer.when() <= due:
                return
            self._timer.cancel()  # a held retry is due before the wake already set

        def fire() -> None:
            self._timer = None
            self._wake()

        self._timer = loop.call_at(due, fire)


def start_and_ceiling(concurrency: int, max_concurrency: int, remembered: int | None = None) -> tuple[int, int, bool]:
    """(start, ceiling, discover) from `[api] concurrency` (0: discover), `max_concurrency`, and
    the level an earlier discovering run on the account held (`remembered`: where discovery
    starts instead of 1; a 429 still lowers it, clean answers still raise it)."""
    if concurrency <= 0:
        ceiling = max(1, max_concurrency)
        return min(max(1, remembered or 1), ceiling), ceiling, True
    return concurrency, concurrency, False


def level_to_remember(report: LimiterReport) -> int | None:
    """What a discovering run learned for the next one: the proved limit, else the level it held
    (None when it sent too little to learn anything, or did not discover)."""
    if report.mode != "discovered" or report.peak_in_flight == 0:
        return None
    if report.known is not None:
        return report.known
    return report.limit if report.limit > report.start else None  # never refused: it never dropped


def bound_seconds(n: int, latency_s: float, limit: int, list_s: float = 0.0) -> float:
    """The physical floor of a scan: the list, then `n` probes `limit` at a time."""
    return list_s + math.ceil(n / max(limit, 1)) * latency_s
