"""The emulator's hostile answers over real HTTP: each is what its EmulatorConfig docstring says."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable

import httpx
import pytest

from audit.emulator import EmulatorConfig, EmulatorServer, Fault
from audit.emulator.faults import WRONG_SHAPES

pytestmark = pytest.mark.integration

StartEmulator = Callable[..., EmulatorServer]
Connect = Callable[..., httpx.Client]
TTS = "/waves/v1/tts"
LIST = "/waves/v1/voice-cloning"


def _speak(client: httpx.Client, server: EmulatorServer, engine: str = "v3.1") -> httpx.Response:
    voice = next(c for c in server.state.clones() if c.engine == engine and c.speakable(server.state.now()))
    return client.post(TTS, json={"text": "Hello there.", "voice_id": voice.voice_id, "output_format": "wav"})


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Fault(every=-1),
        lambda: Fault(rate=1.5),
        lambda: EmulatorConfig(tts_json=3),  # type: ignore[arg-type]
        lambda: EmulatorConfig(trickle_bytes_per_s=0),
        lambda: EmulatorConfig(gzip_bomb_bytes=0),
        lambda: EmulatorConfig(wrong_shape_every=0),
    ],
)
def test_fault_knobs_are_validated(bad) -> None:
    with pytest.raises(ValueError):
        bad()


def test_every_nth_request_gets_the_fault_and_the_rest_are_healthy(start_emulator: StartEmulator,
                                                                    connect: Connect) -> None:
    server = start_emulator(tts_concurrency=1, tts_json=Fault(every=3))
    client = connect(server)
    kinds = [_speak(client, server).headers["content-type"] for _ in range(9)]
    assert kinds == ["audio/wav", "audio/wav", "application/json"] * 3


def test_fault_rates_are_reproducible_from_the_seed(start_emulator: StartEmulator, connect: Connect) -> None:
    runs = []
    for _ in range(2):
        server = start_emulator(seed=3, tts_html=Fault(rate=0.5))
        client = connect(server)
        runs.append([_speak(client, server).headers["content-type"].startswith("text/html") for _ in range(16)])
    assert runs[0] == runs[1] and 3 <= sum(runs[0]) <= 13


def test_the_gzip_bomb_is_small_on_the_wire_and_huge_inflated(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(tts_gzip_bomb=Fault(every=1), gzip_bomb_bytes=64 << 20)
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
    wire = inflated = 0
    head = b""
    with connect(server).stream("POST", TTS, json={"text": "Hi.", "voice_id": server.state.clones()[0].voice_id,
                                                   "output_format": "wav"}) as answer:
        assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip"
        for raw in answer.iter_raw():
            wire += len(raw)
            data = raw
            while data:
                out = inflate.decompress(data, 1 << 20)
                head = head or out[:12]
                inflated += len(out)
                data = inflate.unconsumed_tail
    assert inflated == 64 << 20 and wire < 128 * 1024
    assert head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def test_an_endless_body_goes_on_until_the_client_leaves(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(tts_endless=Fault(every=1))
    client = connect(server)
    received = 0
    with client.stream("POST", TTS, json={"text": "Hi.", "voice_id": server.state.clones()[0].voice_id}) as answer:
        assert "content-length" not in answer.headers
        for raw in answer.iter_raw():
            received += len(raw)
            if received > 20 << 20:
                break
    assert received > 20 << 20
    assert httpx.get(server.base_url + "/waves/v1/health").status_code == 200  # still serving


def test_a_trickle_sends_the_real_audio_at_the_configured_rate(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(tts_trickle=Fault(every=1), trickle_bytes_per_s=1000)
    started = time.monotonic()
    answer = _speak(connect(server), server, engine="legacy")  # the symptom: ~150 bytes
    elapsed = time.monotonic() - started
    assert answer.status_code == 200 and answer.content[:4] == b"RIFF"
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert len(answer.content) / 1000 * 0.7 <= elapsed < len(answer.content) / 1000 + 1.0


@pytest.mark.parametrize(
    ("fault", "content_type", "body_starts"),
    [("tts_json", "application/json", b'{"status":"success","audio":null'),
     ("tts_html", "text/html; charset=utf-8", b"<!DOCTYPE html>"),
     ("tts_empty", "audio/wav", b"")],
)
def test_non_audio_200s(start_emulator: StartEmulator, connect: Connect, fault: str, content_type: str,
                        body_starts: bytes) -> None:
    server = start_emulator(**{fault: Fault(every=1)})
    answer = _speak(connect(server), server)
    assert answer.status_code == 200 and answer.headers["content-type"] == content_type
    assert answer.content.startswith(body_starts) and (body_starts or answer.content == b"")


def test_a_truncated_list_is_half_the_json(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(n=20, list_truncated=Fault(every=2))
    client = connect(server)
    whole, cut = client.get(LIST).content, client.get(LIST).content
    assert cut == whole[: len(whole) // 2]
    with pytest.raises(ValueError):
        json.loads(cut)


def test_a_garbage_list_is_not_json(start_emulator: StartEmulator, connect: Connect) -> None:
    answer = connect(start_emulator(list_garbage=Fault(every=1))).get(LIST)
    assert answer.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        answer.json()


def _bent_as_documented(entry: object, healthy: dict, shape: int) -> bool:
    match shape:
        case 0:
            return entry == healthy["voiceId"]
        case 1:
            return isinstance(entry, dict) and "voiceId" not in entry
        case 2:
            return isinstance(entry, dict) and entry["voiceId"] == 12345
        case 3:
            return isinstance(entry, dict) and entry["modelIds"] == "lightning-v3.1" and isinstance(entry["tags"], str)
        case 4:
            return isinstance(entry, dict) and entry["createdAt"] == 1700000000 and entry["status"] == "archived"
        case _:
            return entry is None


def test_wrong_shapes_replace_every_nth_entry_in_order(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(n=30, list_wrong_shape=Fault(every=2), wrong_shape_every=4)
    client = connect(server)
    healthy, bent = client.get(LIST).json()["data"], client.get(LIST).json()["data"]
    assert len(bent) == len(healthy) == 30
    for i, (entry, original) in enumerate(zip(bent, healthy, strict=True)):
        if i % 4:
            assert entry == original
        else:
            assert _bent_as_documented(entry, original, (i // 4) % len(WRONG_SHAPES)), (i, entry)


def test_a_huge_list_is_valid_json_of_the_configured_size(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(n=10, list_huge=Fault(every=1), huge_list_bytes=5 << 20)
    answer = connect(server).get(LIST)
    assert abs(len(answer.content) - (5 << 20)) < 64
    body = answer.json()
    assert [e["voiceId"] for e in body["data"]] == [c.voice_id for c in server.state.clones()]
