"""A scan probes each clone on the TTS model of its pool and shows the pool in every output.

Against the emulator, where a clone speaks only on its own pool's model: a working Pro clone
is compliant (heard on `lightning_v3.1_pro`), a standard one is heard on `lightning_v3.1`
whatever `[probe] model` says, a clone on both on the standard one, and one whose pool is
unknown on `[probe] model`, as before pools. An earlier probe made on another pool's model is
never reused.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.api.client import WavesClient
from audit.core.config import ApiSettings, ProbeSettings, Settings
from audit.core.models import Clone, ProbeResult, ProbeVerdict
from audit.core.pools import Pool, pool_of, probe_model
from audit.core.secrets import Secret
from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState
from audit.emulator.state import CloneRecord
from audit.pipeline.scan import ScanRun, scan_organisation, write_scan_reports
from audit.report.markdown import render_markdown
from audit.report.tables import voice_frame
from audit.runs import document
from audit.scan.reuse import earlier_probes, same_model
from audit.scan.rules import classify, decide

pytestmark = pytest.mark.integration

STANDARD, PRO, BOTH = ["lightning-v3.1"], ["lightning-v3.1-pro"], ["lightning-v3.1", "lightning-v3.1-pro"]
CLONES = {  # voice id → (modelIds, hidden engine)
    "voice_standard1": (STANDARD, "v3.1"),
    "voice_pro000001": (PRO, "v3.1"),
    "voice_both00001": (BOTH, "v3.1"),
    "voice_legacy001": (["lightning-large"], "legacy"),
    "voice_empty0001": ([], "v3.1"),
}


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    records = [CloneRecord(v, engine, {"displayName": v, "status": "completed", "modelIds": list(models)})
               for v, (models, engine) in CLONES.items()]
    config = EmulatorConfig(tts_concurrency=4, retry_after=0.01)
    with EmulatorServer(EmulatorState(config, records)) as running:
        yield running


def _settings(server: EmulatorServer, model: str = "lightning_v3.1") -> Settings:
    return Settings(api=ApiSettings(base_url=server.base_url, concurrency=4, backoff_initial_s=0.01,
                                    backoff_max_s=0.05, timeout_s=10),
                    probe=ProbeSettings(model=model))


async def _scan(server: EmulatorServer, settings: Settings) -> ScanRun:
    async with WavesClient(settings.api, Secret(server.api_key)) as client:
        return await scan_organisation(client, settings)


def _by_id(run: ScanRun) -> dict[str, tuple[str, str | None, str]]:
    return {r.clone.voice_id: (r.verdict.value, r.probe.model, r.probe.verdict.value) for r in run.results}


async def test_a_working_pro_clone_is_compliant_heard_on_the_pro_model(server: EmulatorServer) -> None:
    found = _by_id(await _scan(server, _settings(server)))
    assert found["voice_pro000001"] == ("compliant", "lightning_v3.1_pro", "speaks")
    assert found["voice_standard1"] == ("compliant", "lightning_v3.1", "speaks")
    assert found["voice_both00001"] == ("compliant", "lightning_v3.1", "speaks")  # both: the standard model
    assert found["voice_empty0001"] == ("compliant", "lightning_v3.1", "speaks")  # unknown: [probe] model
    assert found["voice_legacy001"] == ("non-compliant", "lightning_v3.1", "short-wav")
    tts = server.state.tts_log()
    assert {(r.voice_id, r.model) for r in tts} >= {("voice_pro000001", "lightning_v3.1_pro"),
                                                   ("voice_standard1", "lightning_v3.1")}


async def test_a_pro_probe_model_does_not_make_standard_clones_look_broken(server: EmulatorServer) -> None:
    found = _by_id(await _scan(server, _settings(server, "lightning_v3.1_pro")))
    assert found["voice_standard1"] == ("compliant", "lightning_v3.1", "speaks")  # its pool, not [probe] model
    assert found["voice_pro000001"] == ("compliant", "lightning_v3.1_pro", "speaks")
    # A clone whose pool is unknown is heard on [probe] model, as before pools: this one is standard.
    assert found["voice_empty0001"] == ("non-compliant", "lightning_v3.1_pro", "short-wav")


async def test_the_pool_is_in_clones_csv_run_json_the_report_and_markdown(server: EmulatorServer,
                                                                          tmp_path: Path) -> None:
    run = await _scan(server, _settings(server))
    record = write_scan_reports(run, tmp_path)
    assert record.folder is not None
    rows = {r["voice_id"]: r for r in csv.DictReader(io.StringIO(
        (record.folder / "clones.csv").read_text(encoding="utf-8")))}
    assert {v: (r["pool"], r["probe_model"]) for v, r in rows.items()} == {
        "voice_standard1": ("standard", "lightning_v3.1"), "voice_pro000001": ("pro", "lightning_v3.1_pro"),
        "voice_both00001": ("both", "lightning_v3.1"), "voice_legacy001": ("unknown", "lightning_v3.1"),
        "voice_empty0001": ("unknown", "lightning_v3.1")}
    stored = json.loads((record.folder / "run.json").read_text(encoding="utf-8"))
    pro = next(v for v in stored["voices"] if v["voice_id"] == "voice_pro000001")
    assert (pro["pool"], pro["probe_model"], pro["verdict"]) == ("pro", "lightning_v3.1_pro", "compliant")
    assert "lightning_v3.1_pro" in pro["reason"]
    html = (record.folder / "report.html").read_text(encoding="utf-8")
    assert "pool" in html and "probed on lightning_v3.1_pro" in html
    markdown = render_markdown({"run_id": run.run_id}, voice_frame(run.results, run.finished_at))
    assert "| pool |" in markdown and "| unknown |" in markdown  # the legacy finding's row


async def test_a_run_json_written_before_pools_still_loads(server: EmulatorServer, tmp_path: Path) -> None:
    record = write_scan_reports(await _scan(server, _settings(server)), tmp_path)
    assert record.folder is not None
    path = record.folder / "run.json"
    stored = json.loads(path.read_text(encoding="utf-8"))
    for voice in stored["voices"]:
        del voice["pool"], voice["probe_model"]
    path.write_text(json.dumps(stored), encoding="utf-8")
    loaded = document.load(record.folder)
    assert len(loaded.voices) == len(CLONES) and {v.pool for v in loaded.voices} == {None}
    assert {v.probe_result.model for v in loaded.voices} == {None}


@pytest.mark.parametrize(("model_ids", "pool", "model"), [
    (("lightning-v3.1",), Pool.STANDARD, "lightning_v3.1"),
    (("lightning-v3.1-pro",), Pool.PRO, "lightning_v3.1_pro"),
    (("lightning-large", "lightning-v3.1-pro"), Pool.PRO, "lightning_v3.1_pro"),
    (("lightning-v3.1-pro", "lightning-v3.1"), Pool.BOTH, "lightning_v3.1"),
    (("lightning-large",), Pool.UNKNOWN, "configured"),
    ((), Pool.UNKNOWN, "configured"),
    (None, Pool.UNKNOWN, "configured"),
    # any spelling of a pool's model is that pool: never probed on the other pool and called broken
    # (an odd spelling is still not compliant on metadata alone: scan.rules.classify; it is probed)
    (("lightning_v3.1_pro",), Pool.PRO, "lightning_v3.1_pro"),
    (("Lightning-V3.1-Pro",), Pool.PRO, "lightning_v3.1_pro"),
    ((" lightning-v3.1 ",), Pool.STANDARD, "lightning_v3.1"),
])
def test_the_pool_and_probe_model_come_from_model_ids(model_ids: tuple[str, ...] | None, pool: Pool,
                                                      model: str) -> None:
    assert pool_of(model_ids) is pool
    assert probe_model(model_ids, "configured") == model


def test_an_earlier_probe_on_another_pools_model_is_not_reused() -> None:
    rows = [{"voice_id": v, "model_ids": " ".join(CLONES[v][0]), "status": "completed", "probe_verdict": verdict,
             "probed_at": "2026-08-20T10:00:00+00:00"}
            for v, verdict in (("voice_pro000001", "short-wav"), ("voice_standard1", "speaks"))]
    earlier = earlier_probes(rows, {"probe": {"model": "lightning_v3.1"}})  # a scan from before pools
    pro = Clone("voice_pro000001", model_ids=tuple(PRO), raw_status="completed")
    standard = Clone("voice_standard1", model_ids=tuple(STANDARD), raw_status="completed")
    assert same_model(pro, earlier["voice_pro000001"], "lightning_v3.1") is None  # heard on the wrong pool
    kept = same_model(standard, earlier["voice_standard1"], "lightning_v3.1")
    assert kept is not None and kept.result.verdict is ProbeVerdict.SPEAKS
    rows[0]["probe_model"] = "lightning_v3.1_pro"  # a row that names its model
    newer = earlier_probes(rows, {"probe": {"model": "lightning_v3.1"}})
    assert same_model(pro, newer["voice_pro000001"], "lightning_v3.1") is not None


def test_a_probe_result_names_its_model_in_the_verdicts_reason() -> None:
    clone = Clone("voice_pro000001", model_ids=tuple(PRO), raw_status="completed")
    result = decide(clone, classify(clone), ProbeResult(ProbeVerdict.SPEAKS, "2.0 s of speech",
                                                        model="lightning_v3.1_pro"))
    assert result.verdict.value == "compliant" and "lightning_v3.1_pro" in result.reason
