"""The circuit breaker: when the API goes away mid-run, stop within seconds instead of retrying
every call for a minute; and the latest retry, for a progress bar's note.

Owns `Breaker`. Every attempt that could not even connect (refused, the name gone, a connect
timeout) is told (`refused`); every answer's arrival (its status line, before its body is read),
whatever its status, closes the streak (`answered`), so a slow but working API never opens it.
Once no attempt has connected for `window_s` since the first refusal of the streak, the breaker
opens: that attempt and every later one raise `ApiWentAway` at once, never retried, so the
run stops and says what it did. The retry note ("connection refused, retry 3/8") is what a
progress bar shows while a call waits to try again. The clock is injected (tests). Pure: no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from audit.core.errors import ApiWentAway

#: How long a retry note stays on the progress bar after the retry was scheduled.
NOTE_S = 15.0


class Breaker:
    def __init__(self, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._since: float | None = None  # first refused attempt since the last answer
        self._open: str | None = None  # why it opened
        self._note: tuple[float, str] | None = None
        self.refusals = 0  # attempts refused in the current streak

    def answered(self) -> None:
        self._since, self.refusals = None, 0

    def refused(self, where: str) -> None:
        """An attempt could not connect; raises ApiWentAway once the streak is `window_s` long."""
        now = self._clock()
        if self._since is None:
            self._since = now
        self.refusals += 1
        if self._open is None and now - self._since >= self.window_s:
            self._open = (f"no call could connect to {where} for {now - self._since:.0f} s "
                          f"({self.refusals} attempt(s) refused in a row)")
        self.check()

    def check(self) -> None:
        """Raise ApiWentAway when the breaker is open (before an attempt goes out)."""
        if self._open is not None:
            raise ApiWentAway(f"the API went away: {self._open}")

    def remaining(self) -> float | None:
        """Seconds until a refusal would open the breaker, while attempts are being refused."""
        return None if self._since is None else max(0.0, self._since + self.window_s - self._clock())

    @property
    def is_open(self) -> bool:
        return self._open is not None

    def retrying(self, why: str, retry: int, of: int) -> None:
        """A call will try again: the note a progress bar shows for a while."""
        self._note = (self._clock(), f"{why}, retry {retry}/{of}")

    def note(self) -> str:
        """The latest retry note while it is recent (and how long nothing connected), else ""."""
        now = self._clock()
        parts = []
        if self._note is not None and now - self._note[0] <= NOTE_S:
            parts.append(self._note[1])
        if self._since is not None and now - self._since >= 1:
            parts.append(f"nothing connects for {now - self._since:.0f} s (stops at {self.window_s:g} s)")
        return "; ".join(parts)
