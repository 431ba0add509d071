"""The transport's cheap paths keep every rule: a first attempt that fails is still judged and
retried as before, and requests go to the base URL's paths, sub-path included (respx, no server)."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx
import stamina

from audit.api.client import WavesClient
from audit.api.transport import MAX_JOINED_PATHS, Transport
from audit.core.config import ApiSettings
from audit.core.errors import AuthError, RequestRejected
from audit.core.secrets import Secret

BASE = "https://api.test"
KEY = "sk_test_0123456789abcdef"
FAST = ApiSettings(base_url=BASE, max_attempts=3, backoff_initial_s=0.0, backoff_max_s=0.01)


@pytest.fixture
def retries_seen():
    """Every retry stamina schedules, as its instrumentation hooks are told."""
    seen: list[tuple[int, str]] = []
    before = stamina.instrumentation.get_on_retry_hooks()
    stamina.instrumentation.set_on_retry_hooks(
        [lambda details: seen.append((details.retry_num, type(details.caused_by).__name__))])
    yield seen
    stamina.instrumentation.set_on_retry_hooks(before)


@respx.mock
async def test_a_failed_first_attempt_is_retried_with_its_note_log_and_hook(retries_seen, caplog) -> None:
    route = respx.post(f"{BASE}/waves/v1/tts").mock(side_effect=[
        httpx.Response(503, json={"error": "busy"}),
        httpx.Response(200, content=b"audio"),
    ])
    caplog.set_level(logging.INFO, logger="audit.api")
    async with WavesClient(FAST, Secret(KEY)) as client:
        answer = await client.tts("voice_x", "Hi", model="lightning_v3.1", sample_rate=24000)
        note = client.status()
    assert answer.content == b"audio" and route.call_count == 2
    assert retries_seen == [(1, "ServerError")]
    assert "HTTP 503, retry 1/2" in note
    assert [r.getMessage() for r in caplog.records if "retry 1/2" in r.getMessage()]


@respx.mock
async def test_every_attempt_fails_the_same_way_and_the_last_error_is_raised(retries_seen) -> None:
    route = respx.get(f"{BASE}/waves/v1/voice-cloning").mock(side_effect=[
        httpx.Response(502, json={"error": "one"}), httpx.Response(503, json={"error": "two"}),
        httpx.Response(500, json={"error": "three"}),
    ])
    async with WavesClient(FAST, Secret(KEY)) as client:
        with pytest.raises(Exception, match="three"):
            await client.list_clones()
    assert route.call_count == 3 and [n for n, _ in retries_seen] == [1, 2]


@pytest.mark.parametrize("status, error", [(400, RequestRejected), (401, AuthError)])
@respx.mock
async def test_a_first_error_that_is_final_is_raised_at_once(retries_seen, status, error) -> None:
    route = respx.post(f"{BASE}/waves/v1/tts").respond(status, json={"error": "no"})
    async with WavesClient(FAST, Secret(KEY)) as client:
        with pytest.raises(error):
            await client.tts("voice_x", "Hi", model="lightning_v3.1", sample_rate=24000)
        assert client.limiter.in_flight == 0
    assert route.call_count == 1 and retries_seen == []


@pytest.mark.parametrize("base", ["https://api.test/proxy", "https://api.test/proxy/"])
@respx.mock
async def test_a_base_url_with_a_sub_path_keeps_it_on_every_call(base) -> None:
    tts = respx.post("https://api.test/proxy/waves/v1/tts").respond(200, content=b"audio")
    logs = respx.get("https://api.test/proxy/waves/v1/analytics/tts/logs").respond(
        200, json={"data": [], "totalCount": 0, "totalPages": 1})
    async with WavesClient(ApiSettings(base_url=base, max_attempts=1), Secret(KEY)) as client:
        for _ in range(3):
            await client.tts("voice_x", "Hi", model="lightning_v3.1", sample_rate=24000)
        await client.tts_logs(max_pages=1)
    assert tts.call_count == 3 and logs.call_count == 1
    assert dict(logs.calls[0].request.url.params) == {"page": "1", "pageSize": "100"}


@respx.mock
async def test_paths_past_the_joined_ones_still_go_to_their_own_urls() -> None:
    route = respx.get(url__regex=rf"{BASE}/things/\d+$").respond(200, json={})
    transport = Transport(ApiSettings(base_url=BASE, max_attempts=1), Secret(KEY))
    try:
        for i in range(MAX_JOINED_PATHS + 5):
            await transport.call("GET", f"/things/{i}", max_bytes=1024)
    finally:
        await transport.aclose()
    assert [c.request.url.path for c in route.calls] == [f"/things/{i}" for i in range(MAX_JOINED_PATHS + 5)]
