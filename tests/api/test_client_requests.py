"""Request shapes and error mapping of the client, against respx (no server)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import respx

from audit.api.client import UploadFile, WavesClient
from audit.api.failures import Backoff
from audit.core.config import ApiSettings
from audit.core.secrets import Secret
from audit.core.errors import (
    AuthError,
    CreateOutcomeUnknown,
    Gone,
    RateLimited,
    RequestRejected,
    ServerError,
    TransportError,
)

BASE = "https://api.test"
KEY = "sk_test_0123456789abcdef"
FAST = ApiSettings(base_url=BASE, max_attempts=3, backoff_initial_s=0.0, backoff_max_s=0.05)
CLONE = {"voiceId": "voice_abcdefghij", "displayName": "Emma", "modelIds": ["lightning-large"], "status": "completed"}
CREATED = {"message": "Voice clone created successfully", "data": {
    "voiceId": "voice_newnewnew1", "displayName": "Emma", "model": "lightning-v3.1", "status": "pending"}}


@pytest.fixture
async def client():
    async with WavesClient(FAST, Secret(KEY)) as c:
        yield c


@respx.mock
async def test_list_sends_the_bearer_key_and_parses_clones(client: WavesClient) -> None:
    route = respx.get(f"{BASE}/waves/v1/voice-cloning").respond(200, json={"data": [CLONE, {"no": "id"}]})
    clones = await client.list_clones()
    assert [c.voice_id for c in clones] == ["voice_abcdefghij", "<unparseable entry 1>"]  # counted, not skipped
    assert clones[1].unreadable == "data[1]: it has no voiceId"
    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


@respx.mock
async def test_tts_asks_for_wav_in_the_underscore_model_form(client: WavesClient) -> None:
    route = respx.post(f"{BASE}/waves/v1/tts").respond(
        200, content=b"RIFF....", headers={"X-Request-Id": "req-1", "Content-Type": "audio/wav"})
    answer = await client.tts("voice_abcdefghij", "Hola.", model="lightning_v3.1", sample_rate=24000, language="es")
    request = route.calls.last.request
    assert request.headers["accept"] == "audio/wav"
    assert json.loads(request.content) == {
        "text": "Hola.", "voice_id": "voice_abcdefghij", "model": "lightning_v3.1",
        "sample_rate": 24000, "output_format": "wav", "language": "es"}
    assert answer.content == b"RIFF...." and answer.request_id == "req-1"


@respx.mock
async def test_create_is_multipart_with_comma_separated_tags(client: WavesClient) -> None:
    route = respx.post(f"{BASE}/waves/v1/voice-cloning").respond(200, json=CREATED)
    created = await client.create_clone(
        display_name="Emma", file=UploadFile("emma.wav", b"RIFFdata", "audio/wav"), language="en",
        tags=["en", "migrated-from:voice_abcdefghij"])
    request = route.calls.last.request
    body = request.content.decode("latin-1")
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert 'name="tags"\r\n\r\nen,migrated-from:voice_abcdefghij\r\n' in body
    assert 'name="model"\r\n\r\nlightning-v3.1\r\n' in body
    assert 'name="file"; filename="emma.wav"\r\nContent-Type: audio/wav' in body
    assert created.voice_id == "voice_newnewnew1"


@respx.mock
async def test_401_maps_to_auth_error_with_a_hint_and_no_key(client: WavesClient) -> None:
    respx.get(f"{BASE}/waves/v1/voice-cloning").respond(401, json={"error": "Unauthorized"})
    with pytest.raises(AuthError) as caught:
        await client.list_clones()
    assert "SMALLEST_API_KEY" in caught.value.hint
    assert caught.value.exit_code == 3
    assert KEY not in str(caught.value) + repr(caught.value) + caught.value.hint + repr(client)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"error": [{"code": "custom", "path": ["voice_id"], "message": "Invalid Voice ID"}]}, "voice_id: Invalid Voice ID"),
        ({"error": "ValidationError", "message": "text is required"}, "ValidationError; text is required"),
    ],
)
@respx.mock
async def test_400_bodies_of_both_shapes_become_readable_messages(client: WavesClient, body, text) -> None:
    route = respx.post(f"{BASE}/waves/v1/tts").respond(400, json=body)
    with pytest.raises(RequestRejected) as caught:
        await client.tts("voice_x", "Hi", model="lightning_v3.1", sample_rate=24000)
    assert text in caught.value.message
    assert route.call_count == 1  # a 400 is not retried


@respx.mock
async def test_429_is_retried_honouring_retry_after(client: WavesClient) -> None:
    route = respx.post(f"{BASE}/waves/v1/tts").mock(side_effect=[
        httpx.Response(429, json={"error": "Too many"}, headers={"Retry-After": "0"}),
        httpx.Response(429, json={"error": "Too many"}, headers={"retry-after-ms": "10"}),
        httpx.Response(200, content=b"audio"),
    ])
    answer = await client.tts("voice_x", "Hi", model="lightning_v3.1", sample_rate=24000)
    assert answer.content == b"audio" and route.call_count == 3


@respx.mock
async def test_the_wait_is_at_least_what_retry_after_asks() -> None:
    settings = ApiSettings(base_url=BASE, max_attempts=3, backoff_initial_s=0.0, backoff_max_s=5.0)
    respx.post(f"{BASE}/waves/v1/tts").mock(side_effect=[
        httpx.Response(429, json={"error": "Too many"}, headers={"Retry-After": "0.3"}),
        httpx.Response(429, json={"error": "Too many"}, headers={"retry-after-ms": "200"}),
        httpx.Response(200, content=b"audio"),
    ])
    async with WavesClient(settings, Secret(KEY)) as c:
        started = time.monotonic()
        await c.tts("voice_x", "Hi", model="lightning_v3.1", sample_rate=24000)
    assert time.monotonic() - started >= 0.5


def test_backoff_doubles_up_to_the_cap_and_never_undercuts_retry_after() -> None:
    settings = ApiSettings(base_url=BASE, backoff_initial_s=0.5, backoff_max_s=30.0)
    hook = Backoff(settings, create=False)
    waits = [hook(ServerError("boom", status=500)) for _ in range(8)]
    assert [int(w) for w in waits] == [0, 1, 2, 4, 8, 16, 30, 30]  # jitter adds < 0.5 s
    assert Backoff(settings, create=False)(RateLimited("slow down", retry_after=12.0)) >= 12.0
    assert Backoff(settings, create=True)(ServerError("boom", status=500)) is False


@respx.mock
async def test_idempotent_calls_give_up_after_max_attempts(client: WavesClient) -> None:
    route = respx.get(f"{BASE}/waves/v1/voice-cloning").respond(500, json={"error": "boom"})
    with pytest.raises(ServerError, match="answered 500: boom"):
        await client.list_clones()
    assert route.call_count == FAST.max_attempts


@respx.mock
async def test_a_rate_limit_that_never_ends_surfaces_as_rate_limited(client: WavesClient) -> None:
    respx.post(f"{BASE}/waves/v1/tts").respond(429, json={"error": "Too many"})
    with pytest.raises(RateLimited):
        await client.tts("voice_x", "Hi", model="lightning_v3.1", sample_rate=24000)


@respx.mock
async def test_dropped_connections_are_retried_then_reported(client: WavesClient) -> None:
    route = respx.get(f"{BASE}/waves/v1/voice-cloning").mock(side_effect=httpx.RemoteProtocolError("dropped"))
    with pytest.raises(TransportError, match="RemoteProtocolError"):
        await client.list_clones()
    assert route.call_count == FAST.max_attempts


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"error": "timed out", "error_code": "voice_clone_timeout"}),
        httpx.Response(502, text="bad gateway"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
    ],
)
@respx.mock
async def test_create_is_never_retried_when_it_may_have_happened(client: WavesClient, failure) -> None:
    route = respx.post(f"{BASE}/waves/v1/voice-cloning").mock(side_effect=[failure])
    with pytest.raises(CreateOutcomeUnknown) as caught:
        await client.create_clone(display_name="Emma", file=UploadFile("e.wav", b"x", "audio/wav"))
    assert route.call_count == 1
    assert "Look the clone up" in caught.value.hint


@respx.mock
async def test_create_clone_error_is_final_with_its_hint(client: WavesClient) -> None:
    route = respx.post(f"{BASE}/waves/v1/voice-cloning").respond(
        500, json={"error": "could not clone", "error_code": "voice_clone_error"})
    with pytest.raises(ServerError) as caught:
        await client.create_clone(display_name="Emma", file=UploadFile("e.wav", b"x", "audio/wav"))
    assert not isinstance(caught.value, CreateOutcomeUnknown)
    assert "cleaner" in caught.value.hint and route.call_count == 1


@respx.mock
async def test_create_is_retried_when_it_certainly_did_not_happen(client: WavesClient) -> None:
    route = respx.post(f"{BASE}/waves/v1/voice-cloning").mock(side_effect=[
        httpx.ConnectError("refused"), httpx.Response(429, json={"error": "busy"}), httpx.Response(200, json=CREATED)])
    created = await client.create_clone(display_name="Emma", file=UploadFile("e.wav", b"x", "audio/wav"))
    assert created.voice_id == "voice_newnewnew1" and route.call_count == 3


@respx.mock
async def test_retired_routes_map_to_gone(client: WavesClient) -> None:
    respx.post(f"{BASE}/waves/v1/voice-cloning/delete").respond(401, json={"error": "Unauthorized"})
    respx.delete(f"{BASE}/waves/v1/lightning-large").respond(410, json={
        "status": "error", "error_code": "MODEL_DEPRECATED", "message": "This model is retired."})
    with pytest.raises(Gone) as caught:
        await client.delete_clone("voice_abcdefghij")
    assert caught.value.error_code == "MODEL_DEPRECATED" and caught.value.status == 410


@respx.mock
async def test_delete_tries_the_announced_post_route_first_with_the_voice_id(client: WavesClient) -> None:
    post = respx.post(f"{BASE}/waves/v1/voice-cloning/delete").respond(200, json={"success": True})
    old = respx.delete(f"{BASE}/waves/v1/lightning-large").respond(200, json={"success": True})
    assert await client.delete_clone("voice_abcdefghij") == "/waves/v1/voice-cloning/delete"
    assert json.loads(post.calls.last.request.content) == {"voiceId": "voice_abcdefghij"}
    assert post.calls.last.request.headers["authorization"].startswith("Bearer ")
    assert old.call_count == 0


@respx.mock
async def test_a_post_delete_refused_to_the_key_falls_back_once_and_is_not_asked_again(client: WavesClient) -> None:
    post = respx.post(f"{BASE}/waves/v1/voice-cloning/delete").respond(401, json={"error": "Unauthorized"})
    old = respx.delete(f"{BASE}/waves/v1/lightning-large").respond(200, json={"success": True})
    assert await client.delete_clone("voice_aaaaaaaaaa") == "/waves/v1/lightning-large"
    assert await client.delete_clone("voice_bbbbbbbbbb") == "/waves/v1/lightning-large"
    assert (post.call_count, old.call_count, client.delete_post_refused) == (1, 2, 401)
    assert json.loads(old.calls.last.request.content) == {"voiceId": "voice_bbbbbbbbbb"}


@respx.mock
async def test_health_needs_no_key(client: WavesClient) -> None:
    route = respx.get(f"{BASE}/waves/v1/health").respond(200, json={"status": "ok"})
    assert (await client.health())["status"] == "ok"
    assert "authorization" not in route.calls.last.request.headers


@respx.mock
async def test_a_post_delete_refused_for_one_voice_keeps_the_route_for_the_others(client: WavesClient) -> None:
    """A 404 or 400 about one voice on the open route is about that voice: the next voice is
    still deleted through it (not sent to the legacy route, which would list it for the dashboard)."""
    answers = iter([httpx.Response(404, json={"error": "Voice not found"}), httpx.Response(200, json={"success": True})])
    post = respx.post(f"{BASE}/waves/v1/voice-cloning/delete").mock(side_effect=lambda request: next(answers))
    old = respx.delete(f"{BASE}/waves/v1/lightning-large").respond(410, json={"error_code": "MODEL_DEPRECATED"})
    with pytest.raises(Gone):
        await client.delete_clone("voice_aaaaaaaaaa")
    assert client.delete_post_refused is None
    assert await client.delete_clone("voice_bbbbbbbbbb") == "/waves/v1/voice-cloning/delete"
    assert (post.call_count, old.call_count) == (2, 1)


@respx.mock
async def test_a_retry_after_of_days_waits_no_longer_than_backoff_max() -> None:
    """A server asking for a wait of days (hostile or broken) holds neither the call nor the
    line longer than `[api] backoff_max_s`: the run goes on instead of hanging."""
    settings = ApiSettings(base_url=BASE, max_attempts=3, backoff_initial_s=0.0, backoff_max_s=0.2)
    respx.post(f"{BASE}/waves/v1/tts").mock(side_effect=[
        httpx.Response(429, json={"error": "Too many"}, headers={"Retry-After": "259200"}),
        httpx.Response(200, content=b"audio"),
    ])
    async with WavesClient(settings, Secret(KEY)) as c:
        answer = await asyncio.wait_for(c.tts("voice_x", "Hi", model="lightning_v3.1", sample_rate=24000), 20)
    assert answer.content == b"audio"
