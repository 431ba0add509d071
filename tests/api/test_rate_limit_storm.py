"""A server in a rate-limit window (a "429 storm": every request refused for a while): the
client sends only a few, bounded, requests into it, then waits the window out, whatever the
Retry-After says (against a fake account over httpx's mock transport, no server)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from audit.api.client import WavesClient
from audit.core.config import ApiSettings
from audit.core.secrets import Secret

BASE = "https://api.test"
KEY = "sk_test_0123456789abcdef"


class StormyAccount:
    """An account allowing `slots` TTS calls at once, each taking `latency_s`, that refuses every
    request for `storm_s` seconds once `calm` calls were answered (a 429 takes no slot)."""

    def __init__(self, slots: int, latency_s: float, calm: int, storm_s: float, retry_after: str | None) -> None:
        self.slots, self.latency_s, self.calm, self.storm_s = slots, latency_s, calm, storm_s
        self.retry_after = retry_after
        self.in_flight = self.answered = 0
        self.storm: tuple[float, float] | None = None
        self.into_storm = 0  # requests that arrived while the storm lasted
        self.refused = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        now = time.monotonic()
        if self.storm is None and self.answered >= self.calm:
            self.storm = (now, now + self.storm_s)
        if self.storm is not None and self.storm[0] <= now < self.storm[1]:
            self.into_storm += 1
        if (self.storm is not None and now < self.storm[1]) or self.in_flight >= self.slots:
            self.refused += 1
            headers = {"content-type": "application/json"}
            if self.retry_after is not None:
                headers["Retry-After"] = self.retry_after
            return httpx.Response(429, headers=headers, stream=httpx.ByteStream(b'{"error": "Too many requests"}'))
        self.in_flight += 1
        try:
            await asyncio.sleep(self.latency_s)
        finally:
            self.in_flight -= 1
        self.answered += 1
        # A stream, as a real server's answer is: the client reads every body as one.
        return httpx.Response(200, headers={"content-type": "audio/wav"}, stream=httpx.ByteStream(b"RIFF audio"))


@pytest.mark.parametrize("retry_after", ["0.2", None], ids=["retry-after", "no-retry-after"])
@pytest.mark.parametrize("concurrency", [0, 6], ids=["discovered", "given-6"])
async def test_a_429_storm_gets_a_few_bounded_requests_then_the_window_closes_for_everyone(
        retry_after: str | None, concurrency: int) -> None:
    slots, storm_s, wait_s = 6, 1.0, 0.2  # no Retry-After: the client waits backoff_initial_s
    account = StormyAccount(slots, latency_s=0.02, calm=60, storm_s=storm_s, retry_after=retry_after)
    settings = ApiSettings(base_url=BASE, concurrency=concurrency, max_concurrency=8, max_attempts=20,
                           backoff_initial_s=wait_s, backoff_max_s=wait_s)
    async with WavesClient(settings, Secret(KEY), transport=httpx.MockTransport(account)) as client:
        level = client.limiter.limit
        await asyncio.gather(*(client.tts(f"voice_{i:010d}", "Hi", model="lightning_v3.1", sample_rate=24000)
                               for i in range(200)))
        report = client.limiter.report()
    assert account.storm is not None and account.answered == 200  # every call got through in the end
    # Each round of self-inflicted 429s drops the limit by one (at most `level` rounds of at most
    # `level` requests) until one is in flight; from then on each 429 is the account's and shuts
    # the window for every caller: about one request per wait while the storm lasts.
    level = max(level, slots)
    assert account.into_storm <= level * (level + 1) // 2 + storm_s / wait_s + 2, account.into_storm
    assert report.waited_s > 0.5 * storm_s  # the line stood still for most of the storm
    assert report.refused == account.refused
