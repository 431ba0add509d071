"""The circuit breaker: once the API has answered, calls that cannot even connect for
`[api] unreachable_s` stop the run at once (ApiWentAway, never retried) instead of retrying
every call for a minute; and each retry is named on the progress bar's note with its cause."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import respx

from audit.api.breaker import Breaker
from audit.api.client import WavesClient
from audit.api.failures import Backoff
from audit.core.config import ApiSettings
from audit.core.errors import ApiWentAway, TransportError
from audit.core.secrets import Secret

KEY = "sk_test_breaker_0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_only_after_a_whole_window_of_refusals() -> None:
    clock = Clock()
    breaker = Breaker(10.0, clock)
    breaker.refused("http://api")
    clock.now += 9.0
    breaker.refused("http://api")  # 9 s: not yet
    breaker.answered()  # one answer closes the streak
    clock.now += 5.0
    breaker.refused("http://api")
    clock.now += 9.9
    breaker.check()
    clock.now += 0.2
    with pytest.raises(ApiWentAway, match=r"for 10 s"):
        breaker.refused("http://api")
    with pytest.raises(ApiWentAway):  # and every later attempt, before it goes out
        breaker.check()


def test_a_went_away_error_is_never_retried() -> None:
    backoff = Backoff(ApiSettings(), create=False)
    assert backoff(ApiWentAway("gone")) is False
    assert backoff(TransportError("refused", request_sent=False)) is not False


def test_a_retry_is_named_with_its_cause_on_the_note() -> None:
    clock = Clock()
    breaker = Breaker(10.0, clock)
    backoff = Backoff(ApiSettings(max_attempts=8), create=False, on_retry=breaker.retrying)
    for _ in range(3):
        backoff(TransportError("cannot connect", request_sent=False))
    assert "connection refused, retry 3/7" in breaker.note()
    clock.now += 60
    assert breaker.note() == ""  # an old retry is not shown forever


@respx.mock
async def test_the_api_going_away_stops_a_call_within_the_window_not_after_every_attempt() -> None:
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        if len(sent) == 1:
            return httpx.Response(200, json={"status": "ok"})
        raise httpx.ConnectError("Connection refused", request=request)

    respx.get("https://api.test/waves/v1/health").mock(side_effect=handler)

    settings = ApiSettings(base_url="https://api.test", max_attempts=100, backoff_initial_s=0.01,
                           backoff_max_s=0.05, unreachable_s=0.5)
    notes: list[str] = []
    async with WavesClient(settings, Secret(KEY)) as client:
        await client.health()
        started = time.monotonic()
        with pytest.raises(ApiWentAway, match="went away"):
            original = client._transport.breaker.retrying

            def noted(why: str, retry: int, of: int) -> None:
                original(why, retry, of)
                notes.append(client.status())

            client._transport.breaker.retrying = noted  # type: ignore[method-assign]
            await client.health()
        took = time.monotonic() - started
    assert took < 2.0  # the window (0.5 s) and a retry, not 99 attempts of backoff
    assert len(sent) < 40
    assert any("connection refused, retry" in note for note in notes)


class _SlowBody(httpx.AsyncByteStream):
    """An answer whose status line comes at once and whose body takes `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        yield b'{"status": '
        await asyncio.sleep(self.seconds)
        yield b'"ok"}'


@respx.mock
async def test_a_slow_answer_that_connected_keeps_the_breaker_closed() -> None:
    """A call that connected and is still reading its (slow) body proves the API is there:
    refusals around it, further apart than the window, never open the breaker."""
    modes = iter(["ok", "refused", "slow", "refused"])

    def handler(request: httpx.Request) -> httpx.Response:
        mode = next(modes)
        if mode == "refused":
            raise httpx.ConnectError("Connection refused", request=request)
        if mode == "slow":
            return httpx.Response(200, headers={"Content-Type": "application/json"}, stream=_SlowBody(1.0))
        return httpx.Response(200, json={"status": "ok"})

    respx.get("https://api.test/waves/v1/health").mock(side_effect=handler)
    settings = ApiSettings(base_url="https://api.test", max_attempts=1, unreachable_s=0.5)
    async with WavesClient(settings, Secret(KEY)) as client:
        await client.health()
        with pytest.raises(TransportError):
            await client.health()  # refused: the streak starts
        slow = asyncio.create_task(client.health())  # connects, then reads for a second
        await asyncio.sleep(0.7)
        with pytest.raises(TransportError) as refused:  # 0.7 s after the first refusal
            await client.health()
        assert not isinstance(refused.value, ApiWentAway)
        await slow
