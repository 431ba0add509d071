"""The official SDK `smallestai` drives the emulator: if it cannot parse an answer, the emulator is wrong.

The SDK is pointed at the emulator through `SmallestAIEnvironment(waves=<base url>)`, and is
given its own httpx client whose event hook refuses any request that is not for 127.0.0.1,
so a test can never reach the internet. Telemetry (used by the SDK's CLI only) is off too.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import soundfile as sf
from smallestai import SmallestAI, SmallestAIEnvironment
from smallestai.core.api_error import ApiError
from smallestai.waves.errors import BadRequestError, UnauthorizedError

from audit.emulator import EmulatorServer

pytestmark = pytest.mark.integration


def _local_only(request: httpx.Request) -> None:
    if request.url.host != "127.0.0.1":
        raise AssertionError(f"the SDK tried to reach {request.url.host}")


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMALLESTAI_TELEMETRY", "0")
    monkeypatch.setenv("DO_NOT_TRACK", "1")


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer.with_org(n=30, seed=11, pending_s=0.0, processing_s=0.0) as running:
        yield running


def sdk(server: EmulatorServer, api_key: str | None = None) -> SmallestAI:
    base = server.base_url
    environment = SmallestAIEnvironment(atoms=base, waves=base, waves_ws=base.replace("http", "ws", 1), payment=base)
    http = httpx.Client(timeout=10, event_hooks={"request": [_local_only]})
    return SmallestAI(api_key=api_key or server.api_key, environment=environment, httpx_client=http, max_retries=0)


def wav_upload() -> bytes:
    buffer = io.BytesIO()
    t = np.arange(16000 * 2) / 16000
    sf.write(buffer, (0.1 * np.sin(2 * np.pi * 150 * t)).astype(np.float32), 16000, format="WAV")
    return buffer.getvalue()


def test_sdk_lists_every_clone(server: EmulatorServer) -> None:
    listed = sdk(server).waves.list_voice_clones().data or []
    assert {c.voice_id for c in listed} == {c.voice_id for c in server.state.clones()}
    typical = next(c for c in listed if c.model_ids == ["lightning-v3.1"] and c.status == "completed")
    assert typical.display_name and typical.created_at is not None and typical.created_at.year >= 2024
    assert typical.id and typical.id != typical.voice_id


def test_sdk_creates_a_clone(server: EmulatorServer) -> None:
    created = sdk(server).waves.create_voice_clone(
        display_name="Zoë re-clone",
        file=("zoe.wav", wav_upload(), "audio/wav"),
        tags="en, migrated-from:voice_AAAAAAAAAA",
        language="en",
    )
    assert created.message == "Voice clone created successfully"
    assert created.data is not None and created.data.voice_id is not None
    assert (created.data.display_name, created.data.model, created.data.language) == (
        "Zoë re-clone",
        "lightning-v3.1",
        "en",
    )
    assert created.data.samples and urlsplit(created.data.samples[0].audio_url or "").query.startswith("signature=")
    assert server.state.find_by_tag("migrated-from:voice_AAAAAAAAAA")[0].voice_id == created.data.voice_id


def test_sdk_speaks_with_a_new_clone(server: EmulatorServer) -> None:
    client = sdk(server)
    created = client.waves.create_voice_clone(display_name="Speaker", file=("s.wav", wav_upload(), "audio/wav"))
    assert created.data is not None and created.data.voice_id is not None
    chunks = client.waves.synthesize_tts(
        text="Hello from the official SDK.", voice_id=created.data.voice_id, output_format="wav", sample_rate=24000
    )
    samples, rate = sf.read(io.BytesIO(b"".join(chunks)))
    assert rate == 24000 and len(samples) / rate > 0.5


def test_sdk_maps_the_documented_errors(server: EmulatorServer) -> None:
    with pytest.raises(UnauthorizedError):
        sdk(server, api_key="sk_wrong").waves.list_voice_clones()
    with pytest.raises(BadRequestError) as v2:
        sdk(server).waves.create_voice_clone(
            display_name="x", file=("x.wav", wav_upload(), "audio/wav"), model="lightning-v2"
        )
    assert v2.value.body == {"error": "Voice cloning for lightning-v2 is deprecated. Please use lightning-v3.1"}
    with pytest.raises(BadRequestError) as unknown:
        b"".join(sdk(server).waves.synthesize_tts(text="Hi.", voice_id="voice_0000000000"))
    assert unknown.value.body["error"][0]["message"] == "Invalid Voice ID"


def test_sdk_sees_the_symptom_as_success(server: EmulatorServer) -> None:
    legacy = next(
        c.voice_id for c in server.state.clones() if c.engine == "legacy" and c.fields.get("status") == "completed"
    )
    audio = b"".join(sdk(server).waves.synthesize_tts(text="Hello there.", voice_id=legacy, output_format="wav"))
    assert audio[:4] == b"RIFF" and len(audio) <= 200


def test_sdk_gets_429_as_an_api_error(server: EmulatorServer) -> None:
    server.state.admit_tts()  # another caller holds the account's only TTS slot
    try:
        with pytest.raises(ApiError) as rejected:
            b"".join(sdk(server).waves.synthesize_tts(text="Hi.", voice_id="voice_0000000000"))
    finally:
        server.state.release_tts()
    assert rejected.value.status_code == 429
