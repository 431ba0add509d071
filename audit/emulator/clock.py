"""The emulator's sense of time: one clock object that every timed behaviour reads.

This module owns `Clock` (the protocol: `now()` wall-clock seconds since the epoch, for
timestamps such as a clone's `createdAt` and the TTS analytics log; `monotonic()` seconds, which
clone lifecycles, the list lag and latencies are measured on; `sleep(seconds)`, the emulator's
waits for configured latency and slow answers), `SystemClock` (the real one, the default), and
`ManualClock`, a clock that tests move with `advance(seconds)`: a new clone stays `pending` /
`processing` until the test advances past `pending_s` / `processing_s`, and log timestamps are
the clock's. A frozen `ManualClock` stands still between advances (its sleeps last until an
advance reaches their end); a ticking one (`ticking=True`) follows real time as well, so a
pipeline run against the server proceeds as usual while a test skips ahead instead of sleeping.

The wire's own pacing (a trickled body, bytes per second) is not a clock behaviour: it stays real.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the emulator asks of time."""

    def now(self) -> float:
        """Wall-clock seconds since the epoch (timestamps a client sees)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (durations: lifecycle, lag, latency)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock."""
        ...


class SystemClock:
    """Real time: `time.time`, `time.monotonic`, `asyncio.sleep`."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


_Sleeper = tuple[float, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class ManualClock:
    """A clock a test moves: `clock.advance(2.0)` makes two seconds pass for the emulator.

    `start` is its wall-clock reading at creation (default: the real time then, so timestamps
    stay plausible to a client comparing them with today). Thread-safe: the server reads and
    sleeps on it in its own thread while the test advances it.
    """

    def __init__(self, start: float | None = None, *, ticking: bool = False) -> None:
        self._lock = threading.Lock()
        self._wall = time.time() if start is None else start
        self._offset = 0.0  # how far tests have advanced it
        self._ticking = ticking
        self._real_start = time.monotonic()
        self._sleepers: list[_Sleeper] = []

    def _elapsed(self) -> float:
        real = time.monotonic() - self._real_start if self._ticking else 0.0
        return real + self._offset

    def now(self) -> float:
        with self._lock:
            return self._wall + self._elapsed()

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed()

    def advance(self, seconds: float) -> None:
        """Move the clock forward; sleeps whose end it reaches return."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward, got {seconds}")
        with self._lock:
            self._offset += seconds
            now = self._elapsed()
            due = [s for s in self._sleepers if s[0] <= now]
            self._sleepers = [s for s in self._sleepers if s[0] > now]
        for _, loop, future in due:
            with contextlib.suppress(RuntimeError):  # that server's loop has closed meanwhile
                loop.call_soon_threadsafe(_wake, future)

    async def sleep(self, seconds: float) -> None:
        """Return once the clock has moved `seconds` on (by advances, or real time if ticking)."""
        deadline = self.monotonic() + seconds
        loop = asyncio.get_running_loop()
        while (left := deadline - self.monotonic()) > 0:
            future: asyncio.Future[None] = loop.create_future()
            sleeper = (deadline, loop, future)
            with self._lock:
                self._sleepers.append(sleeper)
            try:
                await asyncio.wait_for(future, timeout=left if self._ticking else None)
            except TimeoutError:
                pass  # real time ran out: the loop condition decides
            finally:
                with self._lock:
                    if sleeper in self._sleepers:
                        self._sleepers.remove(sleeper)
        await asyncio.sleep(0)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
