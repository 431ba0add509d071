"""Every answer is bounded in size and time, and unusable answers are clear errors (respx, no server)."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from audit.api.client import WavesClient
from audit.core.config import ApiSettings, ProbeSettings
from audit.core.errors import BadAnswer, ConfigError, CreateOutcomeUnknown, ServerError, TransportError
from audit.core.models import Clone, ProbeVerdict
from audit.core.secrets import Secret
from audit.emulator.faults import gzip_bomb_chunks
from audit.scan.probe import probe_clone
from tests.support.audio import short_wav

BASE = "https://api.test"
LIST = f"{BASE}/waves/v1/voice-cloning"
TTS = f"{BASE}/waves/v1/tts"
KEY = "sk_test_0123456789abcdef"
CAP = 256 * 1024
SETTINGS = ApiSettings(base_url=BASE, max_attempts=3, backoff_initial_s=0.0, backoff_max_s=0.01,
                       timeout_s=1.0, create_timeout_s=1.0, max_audio_bytes=CAP, max_list_bytes=CAP)
ENTRY = {"voiceId": "voice_abcdefghij", "modelIds": ["lightning-large"], "status": "completed"}


@pytest.fixture
async def client():
    async with WavesClient(SETTINGS, Secret(KEY)) as c:
        yield c


async def tts(client: WavesClient):
    return await client.tts("voice_x", "Hi", model="lightning_v3.1", sample_rate=24000)


async def trickle(data: bytes, pause_s: float) -> AsyncIterator[bytes]:
    for i in range(len(data)):
        yield data[i:i + 1]
        await asyncio.sleep(pause_s)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    """A body as a stream (respx reads a plain `content=` body, decoding it, before the client does)."""
    for part in parts:
        yield part


@respx.mock
async def test_an_answer_over_the_cap_is_refused_and_not_asked_again(client: WavesClient) -> None:
    route = respx.post(TTS).respond(200, content=b"RIFF" + bytes(CAP), headers={"Content-Type": "audio/wav"})
    with pytest.raises(BadAnswer, match="over the 262,144-byte cap") as caught:
        await tts(client)
    assert caught.value.status == 200 and route.call_count == 1


@respx.mock
async def test_a_body_without_a_length_is_cut_at_the_cap(client: WavesClient) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield bytes(8192)

    route = respx.post(TTS).respond(200, stream=endless())
    with pytest.raises(BadAnswer, match=r"stopped reading at 2\d\d,\d{3} bytes\)"):
        await tts(client)
    assert route.call_count == 1


@respx.mock
async def test_a_gzip_bomb_stops_at_the_cap_counted_in_decoded_bytes(client: WavesClient) -> None:
    bomb = b"".join(gzip_bomb_chunks(256 << 20))  # 256 MiB of zeros in ~250 KB
    assert len(bomb) < 400_000
    route = respx.post(TTS).respond(200, stream=chunks(*(bomb[i:i + 16384] for i in range(0, len(bomb), 16384))),
                                    headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(BadAnswer, match="after gzip decoding"):
            await tts(client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * CAP + len(bomb) * 3  # the cap and the compressed bytes, never the 256 MiB
    assert route.call_count == 1


@respx.mock
async def test_gzip_and_deflate_answers_are_decoded(client: WavesClient) -> None:
    body = json.dumps({"data": [ENTRY]}).encode()
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    encodings = [("gzip", gzip.compress(body)), ("deflate", zlib.compress(body)),
                 ("deflate", raw_deflate.compress(body) + raw_deflate.flush())]
    respx.get(LIST).mock(side_effect=[httpx.Response(200, content=c, headers={"Content-Encoding": e})
                                      for e, c in encodings])
    for _ in encodings:
        assert [c.voice_id for c in await client.list_clones()] == ["voice_abcdefghij"]


@pytest.mark.parametrize(
    ("encoding", "content", "message"),
    [
        ("gzip", b"\x1f\x8b\x08\x00garbage-not-deflate" * 4, "gzip compression is corrupt"),
        ("gzip", gzip.compress(b'{"data": []}' * 100, mtime=0)[:-30], "ends before its end marker"),
        ("br", b"\x00\x01", "encoded as 'br', which was not asked for"),
    ],
)
@respx.mock
async def test_corrupt_or_unasked_compression_is_a_bad_answer(client: WavesClient, encoding, content, message) -> None:
    route = respx.get(LIST).respond(200, stream=chunks(content), headers={"Content-Encoding": encoding})
    with pytest.raises(BadAnswer, match=message):
        await client.list_clones()
    assert route.call_count == 1


@respx.mock
async def test_only_the_decoders_it_has_are_offered(client: WavesClient) -> None:
    route = respx.post(TTS).respond(200, content=short_wav())
    await tts(client)
    assert route.calls.last.request.headers["accept-encoding"] == "gzip, deflate"


@respx.mock
async def test_a_trickling_body_ends_at_the_deadline_and_is_not_asked_again(client: WavesClient) -> None:
    route = respx.post(TTS).respond(200, stream=trickle(short_wav(4000), 0.05))
    started = time.monotonic()
    with pytest.raises(BadAnswer, match=r"still arriving after 1 s \(\d+ bytes so far\)"):
        await tts(client)
    assert 0.9 <= time.monotonic() - started < 2.0  # the whole request, not each read
    assert route.call_count == 1


@respx.mock
async def test_an_answer_that_never_comes_is_a_timeout_retried_like_any_other(client: WavesClient) -> None:
    asked = 0

    async def silent_server(request: httpx.Request) -> httpx.Response:
        nonlocal asked
        asked += 1
        await asyncio.sleep(30)
        raise AssertionError("unreachable")  # pragma: no cover

    respx.post(TTS).mock(side_effect=silent_server)
    started = time.monotonic()
    with pytest.raises(TransportError, match="no answer within 1 s"):
        await tts(client)
    assert asked == SETTINGS.max_attempts
    assert time.monotonic() - started < SETTINGS.max_attempts * SETTINGS.timeout_s + 1.0


@respx.mock
async def test_an_error_answer_is_read_only_as_far_as_its_message(client: WavesClient) -> None:
    huge = json.dumps({"error": "Upstream exploded", "detail": "x" * (5 << 20)}).encode()
    route = respx.get(LIST).respond(503, content=huge)
    with pytest.raises(ServerError) as caught:
        await client.list_clones()
    assert len(caught.value.message) < 600  # a few hundred characters, not 5 MB
    assert route.call_count == SETTINGS.max_attempts  # a 5xx is still retried


@respx.mock
async def test_a_trickling_error_answer_keeps_its_status_and_its_retries(client: WavesClient) -> None:
    route = respx.get(LIST).mock(side_effect=[
        httpx.Response(503, stream=trickle(b'{"error": "busy"}' * 100, 0.05)),
        httpx.Response(200, json={"data": [ENTRY]}),
    ])
    assert len(await client.list_clones()) == 1
    assert route.call_count == 2


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"data": [ENTRY] * 50}).encode()[:700],  # cut off mid-way
        b"<html><body>502 Bad Gateway</body></html>",
        b"[" * 200_000,  # nesting deep enough to break a recursive parser
        b'{"data": {"voiceId": "voice_x"}}',
        b'["voice_x"]',
        b"\xff\xfe\x00garbage",
    ],
)
@respx.mock
async def test_a_list_answer_that_is_not_the_list_is_a_run_error_with_a_hint(client: WavesClient, body) -> None:
    route = respx.get(LIST).respond(200, content=body, headers={"Content-Type": "application/json"})
    with pytest.raises(BadAnswer) as caught:
        await client.list_clones()
    assert caught.value.exit_code == 3 and route.call_count == 1
    assert "run the scan again" in caught.value.hint


@respx.mock
async def test_a_list_over_its_cap_names_the_setting(client: WavesClient) -> None:
    respx.get(LIST).respond(200, json={"data": [ENTRY] * 5000})
    with pytest.raises(BadAnswer) as caught:
        await client.list_clones()
    assert "max_list_bytes" in caught.value.hint


@pytest.mark.parametrize(
    "answer",
    [
        lambda: httpx.Response(200, content=b'{"data": {"voiceId": "v"' + b" " * (2 << 20) + b"}}"),
        lambda: httpx.Response(200, stream=trickle(b'{"message": "ok", "data": {"voiceId": "voice_x"}}', 0.05)),
        lambda: httpx.Response(200, content=b"<html>ok</html>"),
    ],
)
@respx.mock
async def test_a_create_whose_answer_cannot_be_read_may_have_happened(client: WavesClient, answer) -> None:
    from audit.api.client import UploadFile

    route = respx.post(LIST).mock(side_effect=[answer()])
    with pytest.raises(CreateOutcomeUnknown) as caught:
        await client.create_clone(display_name="Emma", file=UploadFile("e.wav", b"x", "audio/wav"))
    assert route.call_count == 1
    assert "Look the clone up" in caught.value.hint


@pytest.mark.parametrize(
    ("content", "content_type", "says"),
    [
        (b'{"status": "success", "audio": null}', "application/json", '{"status": "success"'),
        (b"<html><h1>Gateway</h1></html>", "text/html", "<html><h1>Gateway"),
        (b"", "audio/wav", "Accept trap"),
    ],
)
@respx.mock
async def test_the_probe_asks_for_wav_and_calls_a_non_audio_200_an_error(client: WavesClient, content,
                                                                         content_type, says) -> None:
    route = respx.post(TTS).respond(200, content=content, headers={"Content-Type": content_type})
    result = await probe_clone(client, Clone("voice_abcdefghij", language="es"), ProbeSettings())
    request = route.calls.last.request
    assert json.loads(request.content)["output_format"] == "wav"
    assert request.headers["accept"] == "audio/wav"
    assert result.verdict is ProbeVerdict.ERROR and says in result.reason
    assert route.call_count == 1


@respx.mock
async def test_the_probe_of_an_oversized_answer_is_an_error_not_a_verdict(client: WavesClient) -> None:
    route = respx.post(TTS).respond(200, content=short_wav(CAP))
    result = await probe_clone(client, Clone("voice_abcdefghij"), ProbeSettings())
    assert result.verdict is ProbeVerdict.ERROR and "cap" in result.reason
    assert route.call_count == 1


@respx.mock
def test_the_key_is_never_sent_over_plain_http_to_a_remote_host() -> None:
    route = respx.route(host="api.example.com")
    with pytest.raises(ConfigError, match="unencrypted"):
        WavesClient(ApiSettings(base_url="http://api.example.com"), Secret(KEY))
    assert route.call_count == 0
    WavesClient(ApiSettings(base_url="http://api.example.com", allow_insecure_http=True), Secret(KEY))
    WavesClient(ApiSettings(base_url="http://127.0.0.1:8080"), Secret(KEY))


@respx.mock
async def test_an_error_answer_with_a_corrupt_body_keeps_its_status_and_its_retries(client: WavesClient) -> None:
    route = respx.get(LIST).mock(side_effect=[
        httpx.Response(502, stream=chunks(b"\x1f\x8b\x08\x00not gzip at all"), headers={"Content-Encoding": "gzip"}),
        httpx.Response(200, json={"data": [ENTRY]}),
    ])
    assert len(await client.list_clones()) == 1
    assert route.call_count == 2
