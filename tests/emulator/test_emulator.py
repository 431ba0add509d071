"""The emulator over real HTTP: what a client of the Waves API would see (docs/api-contract.md)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

from audit.emulator import EmulatorConfig, EmulatorServer, ManualClock

pytestmark = pytest.mark.integration

StartEmulator = Callable[..., EmulatorServer]  # the fixtures of conftest.py
Connect = Callable[..., httpx.Client]

SENTENCE = "Hello, this is a short check that the voice still speaks."
SUPPORTED_MODELS = "Supported models: lightning-v3.1, lightning-v3.1-pro"


def voice_id(server: EmulatorServer, engine: str, status: str | None = "completed") -> str:
    """A listed clone with this hidden engine and listed status (None: status field absent)."""
    return next(c.voice_id for c in server.state.clones() if c.engine == engine and c.fields.get("status") == status)


def upload_wav(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(16000 * seconds), dtype=np.float32), 16000, format="WAV")
    return buffer.getvalue()


WAV_UPLOAD = ("emma.wav", upload_wav(), "audio/wav")


def create(
    client: httpx.Client, data: dict[str, str] | None = None, file: tuple[str, bytes, str] | None = WAV_UPLOAD
) -> httpx.Response:
    form = {"displayName": "Emma re-clone", "language": "en", **(data or {})}
    files = {"file": file} if file is not None else None
    return client.post("/waves/v1/voice-cloning", data=form, files=files)


def tts(client: httpx.Client, voice: str, **body: Any) -> httpx.Response:
    return client.post("/waves/v1/tts", json={"text": SENTENCE, "voice_id": voice, **body})


# -- authentication and listing ---------------------------------------------------------------


def test_health_needs_no_key(emulator: EmulatorServer) -> None:
    answer = httpx.get(emulator.base_url + "/waves/v1/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


@pytest.mark.parametrize("authorization", [None, "Bearer sk_wrong", "Basic {key}", "Bearer"])
def test_calls_without_the_right_key_are_401(emulator: EmulatorServer, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization.format(key=emulator.api_key)}
    for method, path in [("GET", "/waves/v1/voice-cloning"), ("POST", "/waves/v1/tts")]:
        answer = httpx.request(method, emulator.base_url + path, headers=headers, json={})
        assert answer.status_code == 401
        assert answer.json() == {"error": "Unauthorized"}
    assert emulator.state.tts_calls == 0


def test_default_keys_differ_per_instance() -> None:
    first, second = EmulatorConfig(), EmulatorConfig()
    assert first.api_key.startswith("sk_") and first.api_key != second.api_key


def test_list_has_every_clone_in_camel_case(shared_emulator: EmulatorServer, connect: Connect) -> None:
    entries = connect(shared_emulator).get("/waves/v1/voice-cloning").json()["data"]
    assert len(entries) == 30
    assert len({e["voiceId"] for e in entries}) == 30
    assert all(re.fullmatch(r"voice_[A-Za-z0-9]{10}", e["voiceId"]) for e in entries)
    full = next(e for e in entries if {"modelIds", "status", "language"} <= e.keys())
    assert list(full)[:2] == ["_id", "voiceId"] and full["_id"] != full["voiceId"]
    assert isinstance(full["tags"], list)
    assert re.fullmatch(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", full["createdAt"])
    absent = {"modelIds", "status"} - set.intersection(*(set(e) for e in entries))
    assert absent == {"modelIds", "status"}, "some entries must lack modelIds and status entirely"


# -- creating clones -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "file", "error"),
    [
        ({}, None, "No file provided"),
        ({}, ("notes.txt", b"hello", "text/plain"), "Invalid file type"),
        ({}, ("big.wav", b"\0" * (5 * 1024 * 1024 + 1), "audio/wav"), "5MB"),
        ({"displayName": ""}, WAV_UPLOAD, "displayName"),
        ({"displayName": "x" * 501}, WAV_UPLOAD, "displayName"),
        ({"language": "xx"}, WAV_UPLOAD, "Invalid language"),
        ({"language": "ja"}, WAV_UPLOAD, "Invalid language"),
    ],
)
def test_create_rejects_invalid_uploads(
    emulator: EmulatorServer, connect: Connect, data: dict[str, str], file: tuple[str, bytes, str] | None, error: str
) -> None:
    answer = create(connect(emulator), data, file)
    assert answer.status_code == 400
    assert error in answer.json()["error"]
    assert len(emulator.state.clones()) == 30


def test_create_rejects_unknown_models_naming_the_supported_ones(emulator: EmulatorServer, connect: Connect) -> None:
    answer = create(connect(emulator), {"model": "lightning-large"})
    assert answer.status_code == 400
    assert answer.json()["error"].endswith(SUPPORTED_MODELS)


def test_create_rejects_lightning_v2_with_the_exact_text(emulator: EmulatorServer, connect: Connect) -> None:
    answer = create(connect(emulator), {"model": "lightning-v2"})
    assert answer.status_code == 400
    assert answer.json() == {"error": "Voice cloning for lightning-v2 is deprecated. Please use lightning-v3.1"}


def test_create_beyond_the_plan_quota_is_refused(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(n=30, clone_quota=30)
    answer = create(connect(server))
    assert answer.status_code == 400
    assert answer.json() == {"error": "clone limit exceeded, consider upgrading"}  # the vendor's documented text


def test_create_answers_the_documented_body(emulator: EmulatorServer, connect: Connect) -> None:
    tags = {"tags": "migrated-from:voice_OLD0000001,  en ,", "model": "lightning-v3.1-pro"}
    answer = create(connect(emulator), tags)
    assert answer.status_code == 200
    body = answer.json()
    assert body["message"] == "Voice clone created successfully"
    data = body["data"]
    assert re.fullmatch(r"voice_[A-Za-z0-9]{10}", data["voiceId"])
    assert (data["displayName"], data["model"], data["status"], data["language"]) == (
        "Emma re-clone",
        "lightning-v3.1-pro",
        "pending",
        "en",
    )
    assert data["audioFileNames"] == ["emma.wav"]
    assert data["organizationId"].startswith("org_")
    assert "?signature=" in data["samples"][0]["audioUrl"]
    [record] = emulator.state.find_by_tag("migrated-from:voice_OLD0000001")
    assert record.voice_id == data["voiceId"] and record.tags == ("migrated-from:voice_OLD0000001", "en")
    assert record.audio_sha256 == hashlib.sha256(WAV_UPLOAD[1]).hexdigest()
    listed = next(
        e for e in connect(emulator).get("/waves/v1/voice-cloning").json()["data"] if e["voiceId"] == data["voiceId"]
    )
    assert listed["modelIds"] == ["lightning-v3.1-pro"] and listed["tags"] == ["migrated-from:voice_OLD0000001", "en"]


def _status(client: httpx.Client, voice: str) -> str | None:
    """The clone's status in the list, or None while the list does not show it."""
    entries = client.get("/waves/v1/voice-cloning").json()["data"]
    return next((e["status"] for e in entries if e["voiceId"] == voice), None)


def test_new_clones_progress_to_completed_and_then_speak(start_emulator: StartEmulator, connect: Connect) -> None:
    clock = ManualClock()
    server = start_emulator(pending_s=0.25, processing_s=0.25, clock=clock)
    client = connect(server)
    voice = create(client).json()["data"]["voiceId"]
    assert tts(client, voice).json()["error"] == [
        {"code": "custom", "path": ["voice_id"], "message": "Invalid Voice ID"}
    ]
    seen = [_status(client, voice)]
    for step in (0.24, 0.02, 0.22, 0.02):  # pending for pending_s, then processing for processing_s
        clock.advance(step)
        seen.append(_status(client, voice))
    assert seen == ["pending", "pending", "processing", "processing", "completed"]
    assert tts(client, voice, output_format="wav").status_code == 200


def test_a_share_of_new_clones_fails(start_emulator: StartEmulator, connect: Connect) -> None:
    clock = ManualClock()
    server = start_emulator(pending_s=0.05, processing_s=0.05, new_clone_fail_rate=1.0, clock=clock)
    client = connect(server)
    voice = create(client).json()["data"]["voiceId"]
    assert _status(client, voice) == "pending"
    clock.advance(0.1)
    assert _status(client, voice) == "failed"
    assert tts(client, voice).status_code == 400


def test_a_new_clone_shows_in_the_list_only_after_the_list_lag(start_emulator: StartEmulator, connect: Connect) -> None:
    clock = ManualClock()
    server = start_emulator(pending_s=0, processing_s=0, list_lag_s=12.0, clock=clock)
    client = connect(server)
    voice = create(client).json()["data"]["voiceId"]
    assert server.state.clone(voice) is not None  # it exists, the list just does not say so yet
    clock.advance(11.9)
    assert _status(client, voice) is None
    clock.advance(0.1)
    assert _status(client, voice) == "completed"


def test_timestamps_are_the_emulators_clock(start_emulator: StartEmulator, connect: Connect) -> None:
    clock = ManualClock(start=1_700_000_000.0)  # 2023-11-14T22:13:20Z
    server = start_emulator(pending_s=0, processing_s=0, clock=clock)
    client = connect(server)
    created = create(client).json()["data"]
    assert created["createdAt"] == "2023-11-14T22:13:20.000Z"
    listed = next(e for e in client.get("/waves/v1/voice-cloning").json()["data"] if e["voiceId"] == created["voiceId"])
    assert listed["createdAt"] == created["createdAt"]
    clock.advance(90.25)
    assert tts(client, created["voiceId"]).status_code == 200
    [logged] = client.get("/waves/v1/analytics/tts/logs").json()["data"]
    assert logged["voice_id"] == created["voiceId"] and logged["timestamp"] == "2023-11-14T22:14:50.250Z"


def test_create_timeout_still_creates_the_clone(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(create_timeout_rate=1.0)
    client = connect(server)
    answer = create(client, {"tags": "migrated-from:voice_TIMEOUT001"})
    assert answer.status_code == 500
    assert answer.json()["error_code"] == "voice_clone_timeout"
    assert len(server.state.find_by_tag("migrated-from:voice_TIMEOUT001")) == 1
    assert len(client.get("/waves/v1/voice-cloning").json()["data"]) == 31


# -- text to speech ----------------------------------------------------------------------------


def test_v31_clone_speaks_a_decodable_wav(shared_emulator: EmulatorServer, connect: Connect) -> None:
    answer = tts(connect(shared_emulator), voice_id(shared_emulator, "v3.1"), output_format="wav", sample_rate=24000)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "audio/wav"
    assert answer.headers["x-request-id"] and answer.headers["x-session-id"]
    samples, rate = sf.read(io.BytesIO(answer.content))
    assert rate == 24000 and len(samples) / rate > 0.5
    assert -26 < 20 * np.log10(np.sqrt(np.mean(samples**2))) < -14


def test_speech_lasts_longer_for_longer_text(shared_emulator: EmulatorServer, connect: Connect) -> None:
    client, voice = connect(shared_emulator), voice_id(shared_emulator, "v3.1")
    short = tts(client, voice, text="Hi there.", output_format="pcm")
    long = tts(client, voice, text=SENTENCE * 3, output_format="pcm")
    assert len(long.content) > 2 * len(short.content) > 0


def test_legacy_clone_answers_the_short_wav_symptom(shared_emulator: EmulatorServer, connect: Connect) -> None:
    client = connect(shared_emulator)
    legacy = [c.voice_id for c in shared_emulator.state.clones() if c.engine == "legacy"]
    sizes = []
    for voice in legacy:
        answer = tts(client, voice, output_format="wav")
        assert answer.status_code == 200 and answer.content[:4] == b"RIFF"
        assert 100 <= len(answer.content) <= 200
        sizes.append(struct.unpack("<I", answer.content[40:44])[0])
    assert max(sizes) == 0x7FFFFFFF, "some headers must claim a streaming size"
    assert min(sizes) < 200, "some headers must tell the truth"


def test_pcm_is_raw_and_the_default(shared_emulator: EmulatorServer, connect: Connect) -> None:
    client, voice = connect(shared_emulator), voice_id(shared_emulator, "v3.1")
    default = tts(client, voice, sample_rate=16000)
    assert default.content[:4] != b"RIFF"
    assert len(default.content) % 2 == 0 and len(default.content) / 2 / 16000 > 0.5
    assert tts(client, voice_id(shared_emulator, "legacy"), output_format="pcm").content[:4] != b"RIFF"


@pytest.mark.parametrize("fmt", ["ulaw", "alaw"])
def test_g711_formats_are_one_byte_per_sample(shared_emulator: EmulatorServer, connect: Connect, fmt: str) -> None:
    client, voice = connect(shared_emulator), voice_id(shared_emulator, "v3.1")
    pcm = tts(client, voice, sample_rate=8000, output_format="pcm").content
    g711 = tts(client, voice, sample_rate=8000, output_format=fmt).content
    assert len(g711) * 2 == len(pcm)


def test_mp3_decodes(shared_emulator: EmulatorServer, connect: Connect) -> None:
    answer = tts(connect(shared_emulator), voice_id(shared_emulator, "v3.1"), output_format="mp3")
    samples, rate = sf.read(io.BytesIO(answer.content))
    assert rate == 44100 and len(samples) / rate > 0.5


def test_silent_clone_answers_full_length_silence(shared_emulator: EmulatorServer, connect: Connect) -> None:
    samples, rate = sf.read(
        io.BytesIO(tts(connect(shared_emulator), voice_id(shared_emulator, "silent"), output_format="wav").content)
    )
    assert len(samples) / rate > 0.5
    assert np.max(np.abs(samples)) <= 2 / 32768


def test_without_accept_audio_the_answer_is_empty(shared_emulator: EmulatorServer) -> None:
    headers = {"Authorization": f"Bearer {shared_emulator.api_key}"}  # httpx sends Accept: */*
    body = {"text": SENTENCE, "voice_id": voice_id(shared_emulator, "v3.1"), "output_format": "wav"}
    answer = httpx.post(shared_emulator.base_url + "/waves/v1/tts", headers=headers, json=body)
    assert (answer.status_code, answer.content) == (200, b"")


@pytest.mark.parametrize(
    ("body", "issue"),
    [
        ({"voice_id": "voice_unknown000"}, {"code": "custom", "path": ["voice_id"], "message": "Invalid Voice ID"}),
        ({"text": None}, {"code": "invalid_type", "path": ["text"]}),
        ({"model": "lightning-v3.1"}, {"code": "invalid_enum_value", "path": ["model"]}),
        ({"sample_rate": 22050}, {"code": "invalid_enum_value", "path": ["sample_rate"]}),
        ({"speed": 2.5}, {"code": "too_big", "path": ["speed"]}),
        ({"speed": 0.4}, {"code": "too_small", "path": ["speed"]}),
        ({"output_format": "flac"}, {"code": "invalid_enum_value", "options": ["pcm", "wav", "mp3", "ulaw", "alaw"]}),
        ({"language": "ja"}, {"code": "invalid_enum_value", "path": ["language"]}),
    ],
)
def test_tts_validation_issues(
    shared_emulator: EmulatorServer, connect: Connect, body: dict[str, Any], issue: dict[str, Any]
) -> None:
    request = {"text": SENTENCE, "voice_id": voice_id(shared_emulator, "v3.1"), **body}
    answer = connect(shared_emulator).post("/waves/v1/tts", json={k: v for k, v in request.items() if v is not None})
    assert answer.status_code == 400
    [found] = answer.json()["error"]
    assert issue.items() <= found.items()


def test_pro_languages_are_accepted_on_the_pro_model(shared_emulator: EmulatorServer, connect: Connect) -> None:
    answer = tts(connect(shared_emulator), voice_id(shared_emulator, "v3.1"), model="lightning_v3.1_pro", language="ja")
    assert answer.status_code == 200 and answer.content


async def _two_at_once(server: EmulatorServer, voice: str) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {server.api_key}", "Accept": "audio/wav"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
        body = {"text": SENTENCE, "voice_id": voice}
        return list(await asyncio.gather(*(client.post("/waves/v1/tts", json=body) for _ in range(2))))


@pytest.mark.parametrize(("retry_after", "header"), [(1.0, "1"), (None, None)])
async def test_a_second_concurrent_tts_call_gets_429(
    start_emulator: StartEmulator, retry_after: float | None, header: str | None
) -> None:
    server = start_emulator(latency={"tts": 0.3}, retry_after=retry_after)
    answers = await _two_at_once(server, voice_id(server, "v3.1"))
    assert sorted(a.status_code for a in answers) == [200, 429]
    rejected = next(a for a in answers if a.status_code == 429)
    assert rejected.headers.get("retry-after") == header


async def test_higher_concurrency_plans_allow_parallel_calls(start_emulator: StartEmulator) -> None:
    server = start_emulator(latency={"tts": 0.3}, tts_concurrency=2)
    answers = await _two_at_once(server, voice_id(server, "v3.1"))
    assert [a.status_code for a in answers] == [200, 200]


def test_every_nth_tts_call_is_429(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(tts_429_every=2)
    client, voice = connect(server), voice_id(server, "v3.1")
    assert [tts(client, voice).status_code for _ in range(4)] == [200, 429, 200, 429]


# -- retired routes and deletion ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/waves/v1/lightning-large/add_voice"),
        ("GET", "/waves/v1/lightning-large/get_cloned_voices"),
        ("POST", "/waves/v1/lightning-large/get_speech"),
        ("POST", "/waves/v1/lightning-v2/get_speech"),
        ("GET", "/waves/v1/lightning-large"),
    ],
)
def test_legacy_routes_are_gone(shared_emulator: EmulatorServer, connect: Connect, method: str, path: str) -> None:
    answer = connect(shared_emulator).request(method, path, json={})
    assert answer.status_code == 410
    assert answer.json()["error_code"] == "MODEL_DEPRECATED"
    assert answer.json()["message"].startswith("This model is retired.")


def test_the_per_model_speech_route_still_speaks_as_the_vendor_says(shared_emulator: EmulatorServer,
                                                                     connect: Connect) -> None:
    """Hidden from the vendor's reference, unchanged on the wire (its changelog): the unified
    route's answer on lightning_v3.1; the legacy routes point to it."""
    client = connect(shared_emulator)
    voice = voice_id(shared_emulator, "v3.1")
    answer = client.post("/waves/v1/lightning-v3.1/get_speech", json={"text": "Hello there.", "voice_id": voice, "output_format": "wav"},
                         headers={"Accept": "audio/wav"})
    assert answer.status_code == 200 and answer.content[:4] == b"RIFF" and len(answer.content) > 10_000
    gone = client.post("/waves/v1/lightning-large/get_speech", json={})
    assert gone.json()["recommended_endpoint"] == "/waves/v1/lightning-v3.1/get_speech"


def test_delete_is_gone_by_default_and_keeps_the_clone(emulator: EmulatorServer, connect: Connect) -> None:
    voice = voice_id(emulator, "legacy")
    answer = connect(emulator).request("DELETE", "/waves/v1/lightning-large", json={"voiceId": voice})
    assert (answer.status_code, answer.json()["error_code"]) == (410, "MODEL_DEPRECATED")
    assert emulator.state.clone(voice) is not None


def test_delete_in_ok_mode_removes_the_clone(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(delete_mode="ok")
    client, voice = connect(server), voice_id(server, "legacy")
    answer = client.request("DELETE", "/waves/v1/lightning-large", json={"voiceId": voice})
    assert (answer.status_code, answer.json()) == (200, {"success": True, "voiceId": voice})
    assert voice not in {e["voiceId"] for e in client.get("/waves/v1/voice-cloning").json()["data"]}
    missing = client.request("DELETE", "/waves/v1/lightning-large", json={})
    assert (missing.status_code, missing.json()) == (400, {"error": "Voice ID required"})


# -- the request log and injected faults ----------------------------------------------------------


def test_request_log_shows_what_was_called(emulator: EmulatorServer, connect: Connect) -> None:
    client = connect(emulator)
    client.get("/waves/v1/voice-cloning")
    tts(client, voice_id(emulator, "v3.1"))
    assert emulator.state.requests(method="POST", path="/waves/v1/voice-cloning") == []
    assert [(e.method, e.path, e.status) for e in emulator.state.requests()] == [
        ("GET", "/waves/v1/voice-cloning", 200),
        ("POST", "/waves/v1/tts", 200),
    ]


def test_dropped_connections_are_transport_errors(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(drop_rate=1.0)
    with pytest.raises(httpx.TransportError):
        connect(server).get("/waves/v1/voice-cloning")
    assert httpx.get(server.base_url + "/waves/v1/health").status_code == 200
    assert server.state.requests(path="/waves/v1/voice-cloning")[0].status == 0


def test_server_errors_are_injected(start_emulator: StartEmulator, connect: Connect) -> None:
    answer = connect(start_emulator(fault_5xx_rate=1.0)).get("/waves/v1/voice-cloning")
    assert (answer.status_code, answer.json()) == (500, {"error": "Internal server error"})


def test_fault_rates_are_shares_reproducible_from_the_seed(start_emulator: StartEmulator, connect: Connect) -> None:
    runs = []
    for _ in range(2):
        client = connect(start_emulator(seed=7, fault_5xx_rate=0.5))
        runs.append([client.get("/waves/v1/voice-cloning").status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert 3 <= runs[0].count(500) <= 17


def test_slow_answers_trip_client_timeouts(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(slow_rate=1.0, slow_s=0.5)
    with pytest.raises(httpx.ReadTimeout):
        connect(server, timeout=0.1).get("/waves/v1/voice-cloning")


def test_server_stops_cleanly(start_emulator: StartEmulator) -> None:
    threads_before = set(threading.enumerate())
    server = start_emulator()
    base_url = server.base_url
    server.stop()
    assert set(threading.enumerate()) <= threads_before
    with pytest.raises(httpx.ConnectError):
        httpx.get(base_url + "/waves/v1/health")


# -- a clone speaks like its upload; wrong_speaker swaps in another person ---------------------


FIXTURES = Path(__file__).parents[1] / "fixtures"


def _completed_clone(client: httpx.Client, upload: bytes) -> str:
    answer = create(client, file=("slt.wav", upload, "audio/wav"))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["voiceId"])


def test_a_created_clone_speaks_with_its_uploaded_voice(start_emulator: StartEmulator, connect: Connect) -> None:
    from audit.fidelity import check
    from audit.fidelity.verdict import Fidelity

    server = start_emulator(pending_s=0, processing_s=0)
    client = connect(server)
    upload = (FIXTURES / "flite_slt_source.wav").read_bytes()
    voice = _completed_clone(client, upload)
    answer = tts(client, voice, sample_rate=24000, output_format="wav")
    assert answer.status_code == 200
    heard = check.compare(upload, answer.content)
    assert heard.fidelity is Fidelity.MATCH, heard.reason
    other = check.compare((FIXTURES / "flite_awb_probe.wav").read_bytes(), answer.content)
    assert other.fidelity is Fidelity.MISMATCH, other.reason  # and not like another person


def test_wrong_speaker_makes_every_nth_create_speak_as_someone_else(
    start_emulator: StartEmulator, connect: Connect
) -> None:
    from audit.emulator.knobs import Fault
    from audit.fidelity import check
    from audit.fidelity.verdict import Fidelity

    server = start_emulator(pending_s=0, processing_s=0, wrong_speaker=Fault(every=2))
    client = connect(server)
    upload = (FIXTURES / "flite_slt_source.wav").read_bytes()
    first, second, third = (_completed_clone(client, upload) for _ in range(3))
    verdicts = [check.compare(upload, tts(client, v, output_format="wav").content) for v in (first, second, third)]
    assert [v.fidelity for v in verdicts] == [Fidelity.MATCH, Fidelity.MISMATCH, Fidelity.MATCH], verdicts
    assert verdicts[1].similarity is not None and verdicts[1].similarity < 0.7
    # the create itself looked healthy: same status, same listing
    assert all(server.state.clone(v) is not None for v in (first, second, third))
