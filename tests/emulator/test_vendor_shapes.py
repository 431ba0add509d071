"""The emulator answers in the vendor's documented shapes (the analytics log, the quota refusal,
health, the 5 MB cap), and its knobs send the other documented variants: older quota wordings,
log times in a server's local zone without a zone marker."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
import soundfile as sf

from audit.emulator import EmulatorServer, ManualClock
from audit.emulator.knobs import OLDER_QUOTA_TEXTS

pytestmark = pytest.mark.integration

StartEmulator = Callable[..., EmulatorServer]
Connect = Callable[..., httpx.Client]
LOGS = "/waves/v1/analytics/tts/logs"
#: Every field of an entry of the vendor's TTS log (waves-analytics-openapi.yaml, TextToSpeechLogEntry).
LOG_FIELDS = {"timestamp", "request_type", "model", "voice_id", "language", "text", "text_len", "credits", "speed",
              "sample_rate", "output_format", "enhancement", "similarity", "consistency", "is_pvc"}
START = 1_786_003_200.0  # 2026-08-06T07:06:40Z (a whole second: the log writes seconds)


def _wav(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(16000 * seconds), dtype=np.float32), 16000, format="WAV")
    return buffer.getvalue()


def _create(client: httpx.Client, upload: bytes | None = None) -> httpx.Response:
    return client.post("/waves/v1/voice-cloning", data={"displayName": "Emma", "language": "en"},
                       files={"file": ("emma.wav", upload if upload is not None else _wav(), "audio/wav")})


def _speak(server: EmulatorServer, client: httpx.Client, model: str = "lightning_v3.1") -> str:
    voice = next(c.voice_id for c in server.state.clones() if c.engine == "v3.1" and c.fields.get("status") == "completed")
    answer = client.post("/waves/v1/tts", json={"text": "Hello there, this is a test.", "voice_id": voice,
                                                "model": model, "sample_rate": 24000, "output_format": "wav"},
                         headers={"Accept": "audio/wav"})
    assert answer.status_code == 200
    return voice


def test_the_tts_log_answers_in_the_vendors_shape(start_emulator: StartEmulator, connect: Connect) -> None:
    server = start_emulator(n=30, clock=ManualClock(start=START))
    client = connect(server)
    voice = _speak(server, client, "lightning_v3.1_pro")
    body = client.get(LOGS).json()
    assert (body["status"], body["page"], body["pageSize"], body["totalCount"], body["totalPages"]) == (
        "success", 1, 50, 1, 1)  # default page size 50
    [entry] = body["data"]
    assert set(entry) == LOG_FIELDS
    assert (entry["request_type"], entry["model"], entry["voice_id"]) == ("rest", "lightning-v3.1-pro", voice)
    assert (entry["text"], entry["text_len"], entry["sample_rate"], entry["output_format"]) == (
        "Hello there, this is a test.", 28, 24000, "wav")
    assert entry["timestamp"] == datetime.fromtimestamp(START, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_generated_history_uses_both_request_types_and_hyphen_models(start_emulator: StartEmulator,
                                                                         connect: Connect) -> None:
    server = start_emulator(n=60, traffic_days=3)
    entries = connect(server).get(LOGS, params={"pageSize": 100}).json()["data"]
    assert {e["request_type"] for e in entries} == {"rest", "ws"}
    assert {e["model"] for e in entries} <= {"lightning-v3.1", "lightning-v3.1-pro"}
    assert all(set(e) == LOG_FIELDS and len(e["text"]) == e["text_len"] for e in entries)


@pytest.mark.parametrize("hours", [5.5, -7.0])
def test_a_server_local_zone_writes_times_without_a_zone(start_emulator: StartEmulator, connect: Connect,
                                                          hours: float) -> None:
    """Ahead of UTC (Mumbai, +5:30) or behind it (Oregon, -7): the local time, no zone marker."""
    server = start_emulator(n=30, clock=ManualClock(start=START), log_zone_hours=hours)
    client = connect(server)
    _speak(server, client)
    [entry] = client.get(LOGS).json()["data"]
    local = datetime.fromtimestamp(START, UTC) + timedelta(hours=hours)
    assert entry["timestamp"] == local.strftime("%Y-%m-%d %H:%M:%S")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", entry["timestamp"])


def test_an_impossible_zone_is_refused() -> None:
    from audit.emulator import EmulatorConfig

    with pytest.raises(ValueError, match="log_zone_hours"):
        EmulatorConfig(log_zone_hours=15)


def test_the_quota_refusal_is_the_vendors_text_and_a_knob_sends_older_ones(start_emulator: StartEmulator,
                                                                            connect: Connect) -> None:
    vendor = _create(connect(start_emulator(n=30, clone_quota=30)))
    assert (vendor.status_code, vendor.json()) == (400, {"error": "clone limit exceeded, consider upgrading"})
    for wording in OLDER_QUOTA_TEXTS:
        older = _create(connect(start_emulator(n=30, clone_quota=30, quota_text=wording)))
        assert (older.status_code, older.json()["error"]) == (400, wording.replace("{quota}", "30"))


def test_an_upload_over_5_000_000_bytes_is_refused(emulator: EmulatorServer, connect: Connect) -> None:
    """The smaller reading of "5 MB": 5,000,001 bytes is over, though under 5 MiB."""
    client = connect(emulator)
    wav = _wav()
    assert _create(client, wav + b"\0" * (5_000_000 - len(wav))).status_code == 200
    too_big = _create(client, wav + b"\0" * (5_000_001 - len(wav)))
    assert too_big.status_code == 400 and "5MB" in too_big.json()["error"]


def test_health_answers_the_vendors_shape(emulator: EmulatorServer) -> None:
    body = httpx.get(emulator.base_url + "/waves/v1/health").json()
    assert body["status"] == "ok"
    assert all(body[service] == {"status": "connected"} for service in ("mongo", "redis", "rabbitmq"))


def test_an_invalid_language_is_refused_in_the_vendors_words(emulator: EmulatorServer, connect: Connect) -> None:
    answer = connect(emulator).post("/waves/v1/voice-cloning", data={"displayName": "Emma", "language": "xx"},
                                    files={"file": ("emma.wav", _wav(), "audio/wav")})
    assert answer.status_code == 400 and answer.json()["error"].startswith("Invalid language. Supported: en, ")
