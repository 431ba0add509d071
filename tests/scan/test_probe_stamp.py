"""Every voice a scan probed says when, whatever its probe found: a judged answer, an error
answer and a transport failure alike (respx, no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import respx

from audit.api.client import WavesClient
from audit.core.config import ApiSettings, Settings
from audit.core.models import ProbeVerdict
from audit.core.secrets import Secret
from audit.pipeline.scan import scan_organisation
from tests.support.audio import short_wav

BASE = "https://api.test"
KEY = "sk_test_0123456789abcdef"
VOICES = {"voice_shortwav01": "short", "voice_rejected01": "400", "voice_dropped001": "drop"}


def tts(request: httpx.Request) -> httpx.Response:
    kind = VOICES[json.loads(request.content)["voice_id"]]
    if kind == "drop":
        raise httpx.RemoteProtocolError("dropped")
    if kind == "400":
        return httpx.Response(400, json={"error": "voice not usable"})
    return httpx.Response(200, content=short_wav(), headers={"content-type": "audio/wav"})


@respx.mock
async def test_each_probed_voice_has_its_probe_time_whatever_came_back() -> None:
    entries = [{"voiceId": v, "modelIds": ["lightning-large"], "status": "completed"} for v in VOICES]
    respx.get(f"{BASE}/waves/v1/voice-cloning").respond(200, json={"data": entries})
    respx.post(f"{BASE}/waves/v1/tts").mock(side_effect=tts)
    settings = Settings(api=ApiSettings(base_url=BASE, concurrency=2, max_attempts=1))
    before = datetime.now(UTC).replace(microsecond=0)
    async with WavesClient(settings.api, Secret(KEY)) as client:
        run = await scan_organisation(client, settings)
    probes = {r.clone.voice_id: r.probe for r in run.results}
    assert {v: p.verdict for v, p in probes.items()} == {
        "voice_shortwav01": ProbeVerdict.SHORT_WAV, "voice_rejected01": ProbeVerdict.ERROR,
        "voice_dropped001": ProbeVerdict.ERROR}
    for probe in probes.values():
        assert probe.probed_at is not None
        assert before <= datetime.fromisoformat(probe.probed_at) <= run.finished_at
        assert probe.probed_at.endswith("+00:00") and "." not in probe.probed_at  # to the second, in UTC
    assert probes["voice_rejected01"].http_status == 400 and probes["voice_shortwav01"].http_status == 200
