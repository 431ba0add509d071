"""The emulator's pools and its announced delete route, over real HTTP.

A clone speaks only on the TTS model of the pool its `modelIds` name (the vendor's pairing
rule); on the other pool's model it answers the short-WAV symptom by default, or full-length
noise (`wrong_pool_answer="garbage"`). `POST /waves/v1/voice-cloning/delete` answers 401 to an
API key by default, as the vendor documents it today, or deletes (`delete_post_mode="open"`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from audit.core.models import ProbeVerdict
from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState
from audit.emulator.state import CloneRecord
from audit.scan.probe import judge_body

pytestmark = pytest.mark.integration

SENTENCE = "Hello, this is a short test of my voice."
POOLS = {"voice_standard1": ["lightning-v3.1"], "voice_pro000001": ["lightning-v3.1-pro"],
         "voice_both00001": ["lightning-v3.1", "lightning-v3.1-pro"]}


def _clones() -> list[CloneRecord]:
    return [CloneRecord(voice_id, "v3.1", {"displayName": voice_id, "status": "completed", "modelIds": models})
            for voice_id, models in POOLS.items()]


@contextlib.contextmanager
def _serve(**config: Any) -> Iterator[tuple[EmulatorServer, httpx.Client]]:
    with EmulatorServer(EmulatorState(EmulatorConfig(**config), _clones())) as server:
        headers = {"Authorization": f"Bearer {server.api_key}", "Accept": "audio/wav"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as client:
            yield server, client


@pytest.fixture
def default() -> Iterator[tuple[EmulatorServer, httpx.Client]]:
    with _serve() as served:
        yield served


def _heard(client: httpx.Client, voice_id: str, model: str) -> ProbeVerdict:
    answer = client.post("/waves/v1/tts", json={"text": SENTENCE, "voice_id": voice_id, "model": model,
                                                "sample_rate": 24000, "output_format": "wav"})
    assert answer.status_code == 200  # the API does not refuse a mismatched pairing
    return judge_body(answer.content, answer.headers.get("content-type")).verdict


@pytest.mark.parametrize(("voice_id", "speaks_on", "short_on"), [
    ("voice_standard1", "lightning_v3.1", "lightning_v3.1_pro"),
    ("voice_pro000001", "lightning_v3.1_pro", "lightning_v3.1"),
])
def test_a_clone_speaks_on_its_pools_model_and_answers_the_symptom_on_the_other(
    default: tuple[EmulatorServer, httpx.Client], voice_id: str, speaks_on: str, short_on: str
) -> None:
    _, client = default
    assert _heard(client, voice_id, speaks_on) is ProbeVerdict.SPEAKS
    assert _heard(client, voice_id, short_on) is ProbeVerdict.SHORT_WAV


def test_a_clone_on_both_pools_speaks_on_both(default: tuple[EmulatorServer, httpx.Client]) -> None:
    _, client = default
    assert {_heard(client, "voice_both00001", m) for m in ("lightning_v3.1", "lightning_v3.1_pro")} == {
        ProbeVerdict.SPEAKS}


def test_the_wrong_pool_can_answer_full_length_noise_instead() -> None:
    with _serve(wrong_pool_answer="garbage") as (_, client):
        answer = client.post("/waves/v1/tts", json={"text": SENTENCE, "voice_id": "voice_pro000001",
                                                    "model": "lightning_v3.1", "output_format": "wav"})
        judged = judge_body(answer.content, answer.headers.get("content-type"))
        assert judged.stats is not None and judged.stats.duration_s > 1.0  # real length, not the symptom
        assert judged.verdict is ProbeVerdict.SILENT  # loud, but nobody speaks
        assert _heard(client, "voice_pro000001", "lightning_v3.1_pro") is ProbeVerdict.SPEAKS


@pytest.mark.parametrize("knob", [{"wrong_pool_answer": "empty"}, {"delete_post_mode": "maybe"}])
def test_the_new_knobs_refuse_unknown_values(knob: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=next(iter(knob))):
        EmulatorConfig(**knob)


def test_the_post_delete_route_refuses_an_api_key_by_default(default: tuple[EmulatorServer, httpx.Client]) -> None:
    server, client = default
    answer = client.post("/waves/v1/voice-cloning/delete", json={"voiceId": "voice_pro000001"})
    assert answer.status_code == 401 and answer.json()["error"]
    assert server.state.clone("voice_pro000001") is not None


def test_the_post_delete_route_deletes_when_open_to_the_key() -> None:
    with _serve(delete_post_mode="open") as (server, client):
        answer = client.post("/waves/v1/voice-cloning/delete", json={"voiceId": "voice_pro000001"})
        assert answer.status_code == 200 and answer.json()["voiceId"] == "voice_pro000001"
        assert server.state.clone("voice_pro000001") is None
        assert client.post("/waves/v1/voice-cloning/delete", json={"voiceId": "voice_pro000001"}).status_code == 404
        assert client.post("/waves/v1/voice-cloning/delete", json={}).status_code == 400
        without_key = httpx.post(f"{server.base_url}/waves/v1/voice-cloning/delete", json={"voiceId": "voice_both00001"})
        assert without_key.status_code == 401 and server.state.clone("voice_both00001") is not None
