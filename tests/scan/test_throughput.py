"""Throughput at the account's limit, over real HTTP against the emulator: the limit found and
held, no voice lost to the tool's own 429s, probe reuse on a rerun, fail-fast errors."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from audit.api.client import WavesClient
from audit.core.config import ApiSettings, Settings
from audit.core.errors import RequestRejected, TransportError
from audit.core.models import ProbeVerdict
from audit.core.secrets import Secret
from audit.emulator import EmulatorServer
from audit.pipeline.scan import scan_organisation, write_scan_reports

from tests.support.emulator import StartEmulator

pytestmark = pytest.mark.integration

TTS = "/waves/v1/tts"


def _settings(base_url: str, concurrency: int = 0, max_attempts: int = 2, **probe: object) -> Settings:
    # max_attempts=2: a 429 counted against a voice's budget would quickly turn it into `error`.
    api = ApiSettings(base_url=base_url, concurrency=concurrency, max_concurrency=32, max_attempts=max_attempts,
                      backoff_initial_s=0.01, backoff_max_s=0.05, timeout_s=10)
    settings = Settings(api=api)
    return replace(settings, probe=replace(settings.probe, **probe)) if probe else settings


async def _scan(server: EmulatorServer, settings: Settings, out: Path | None = None):
    async with WavesClient(settings.api, Secret(server.api_key)) as client:
        return await scan_organisation(client, settings, out_root=out)


def _tts_statuses(server: EmulatorServer) -> list[int]:
    return [e.status for e in server.state.requests(method="POST", path=TTS)]


@pytest.mark.parametrize(("account", "given"), [(3, 0), (2, 8)], ids=["discovered", "wrong-flag-8-vs-2"])
async def test_the_limit_is_found_and_held_and_no_voice_is_lost_to_our_own_429s(
    start_emulator: StartEmulator, account: int, given: int
) -> None:
    server = start_emulator(n=80, seed=3, tts_concurrency=account, latency={"tts": 0.03}, retry_after=0.1)
    run = await _scan(server, _settings(server.base_url, concurrency=given))
    statuses = _tts_statuses(server)
    assert not [r for r in run.results if r.probe.verdict is ProbeVerdict.ERROR]  # none lost to 429s
    assert run.concurrency is not None and run.concurrency["account_limit"] == account
    refused = [i for i, status in enumerate(statuses) if status == 429]
    assert refused, "the limit has to be found by overshooting it once"
    # Once found, never more in flight than the account allows: every 429 is in the opening
    # requests (discovery may overshoot twice when answers come back out of order on a busy
    # machine), and there are never more of them than the account's limit.
    assert max(refused) < 5 * max(account, given), statuses
    assert len(refused) <= max(account, given)
    assert len(statuses) - len(refused) == sum(1 for r in run.results if r.probe.http_status == 200)


async def test_a_429_when_we_were_alone_counts_against_the_voice(start_emulator: StartEmulator) -> None:
    """Every call refused whatever the load (another client holding the account): honest errors,
    not endless free retries."""
    server = start_emulator(n=4, seed=1, tts_429_every=1, retry_after=None)
    run = await _scan(server, _settings(server.base_url, concurrency=1))
    probed = [r for r in run.results if r.probe.verdict is not ProbeVerdict.NOT_PROBED]
    assert probed and all(r.probe.verdict is ProbeVerdict.ERROR and r.probe.http_status == 429 for r in probed)
    assert len(_tts_statuses(server)) == 2 * len(probed)  # max_attempts each, nothing more


async def test_list_and_create_counting_against_the_limit_is_handled(start_emulator: StartEmulator) -> None:
    server = start_emulator(n=40, seed=4, tts_concurrency=2, limit_counts=("tts", "list", "create"),
                            latency={"tts": 0.02}, retry_after=0.05)
    run = await _scan(server, _settings(server.base_url))
    assert not [r for r in run.results if r.probe.verdict is ProbeVerdict.ERROR]
    assert run.concurrency is not None and run.concurrency["account_limit"] == 2


async def test_a_rerun_on_an_unchanged_org_within_the_reuse_window_makes_only_the_list_call(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    server = start_emulator(n=30, seed=2, tts_concurrency=4)
    settings = _settings(server.base_url, reuse="1d")
    first = await _scan(server, settings, tmp_path)
    write_scan_reports(first, tmp_path)
    before = len(server.state.requests())
    assert first.cost is not None and first.cost["probes_reused"] == 0 and first.cost["tts_characters"] > 0

    second = await _scan(server, settings, tmp_path)
    folder = write_scan_reports(second, tmp_path).folder
    made = server.state.requests()[before:]
    assert [(e.method, e.path) for e in made] == [("GET", "/waves/v1/voice-cloning")]
    assert second.cost == {"tts_characters": 0, "tts_probes": 0, "probes_reused": first.cost["tts_probes"]}
    assert [(r.clone.voice_id, r.verdict) for r in second.results] == [
        (r.clone.voice_id, r.verdict) for r in first.results]
    document = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    reused = [v for v in document["voices"] if v["probe_reused"]]
    assert len(reused) == first.cost["tts_probes"] and all(v["probed_at"] for v in reused)
    assert document["cost"]["probes_reused"] == len(reused)
    assert "probe(s) reused from earlier scans" in (folder / "report.html").read_text(encoding="utf-8")


async def test_reuse_probes_again_a_voice_whose_metadata_changed(start_emulator: StartEmulator, tmp_path: Path) -> None:
    server = start_emulator(n=12, seed=2, tts_concurrency=2)
    settings = _settings(server.base_url, reuse="1d")
    first = await _scan(server, settings, tmp_path)
    write_scan_reports(first, tmp_path)
    probed_first = {r.clone.voice_id for r in first.results if r.probe.verdict is ProbeVerdict.SPEAKS}
    changed = next(c for c in server.state.clones() if c.voice_id in probed_first)
    server.state.add_clone(replace(changed, fields={**changed.fields, "language": "de"}))
    before = len(server.state.requests(method="POST", path=TTS))
    second = await _scan(server, settings, tmp_path)
    probed = server.state.requests(method="POST", path=TTS)[before:]
    assert len(probed) == 1 and second.cost is not None and second.cost["tts_probes"] == 1


async def test_reuse_off_probes_every_voice_again(start_emulator: StartEmulator, tmp_path: Path) -> None:
    server = start_emulator(n=10, seed=2, tts_concurrency=2)
    settings = _settings(server.base_url)
    first = await _scan(server, settings, tmp_path)
    write_scan_reports(first, tmp_path)
    second = await _scan(server, settings, tmp_path)
    assert second.cost is not None and second.cost["probes_reused"] == 0
    assert second.cost["tts_probes"] == first.cost["tts_probes"] if first.cost else False


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_nothing_listening_fails_in_seconds_with_a_hint() -> None:
    import time

    settings = _settings(f"http://127.0.0.1:{_closed_port()}", max_attempts=8)
    settings = replace(settings, api=replace(settings.api, backoff_initial_s=0.5, backoff_max_s=30))
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        async with WavesClient(settings.api, Secret("sk_test")) as client:
            await client.list_clones()
    assert time.monotonic() - started < 5
    assert "Nothing answers at" in caught.value.hint and "--base-url" in caught.value.hint


async def test_a_404_on_the_list_hints_at_the_base_url(start_emulator: StartEmulator) -> None:
    server = start_emulator(n=2)
    settings = _settings(server.base_url + "/waves/v1")
    with pytest.raises(RequestRejected) as caught:
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            await client.list_clones()
    assert caught.value.status == 404 and "base URL is probably wrong" in caught.value.hint


def test_a_discovering_run_starts_where_the_accounts_last_run_ended(
    start_emulator: StartEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A weekly job pays for finding the limit once: the second scan starts at the level the first
    proved, and sends no more 429s than that level takes to confirm."""
    from audit.cli import main

    server = start_emulator(n=60, seed=5, tts_concurrency=4, latency={"tts": 0.03}, retry_after=0.05)
    monkeypatch.setenv("SMALLEST_API_KEY", server.api_key)
    scan = ["scan", "--base-url", server.base_url, "--out", str(tmp_path), "--probe", "all"]

    def latest() -> Path:
        return sorted(tmp_path.glob("*/run.json"), key=lambda p: p.stat().st_mtime)[-1].parent

    def concurrency() -> dict:
        return json.loads((latest() / "run.json").read_text(encoding="utf-8"))["concurrency"]

    assert main(scan) in (0, 1)
    first = concurrency()
    assert (first["start"], first["started_from"], first["account_limit"]) == (1, "1 (slow start)", 4)
    assert main(scan) in (0, 1)
    second = concurrency()
    assert (second["start"], second["started_from"]) == (4, "the level the account's last run held")
    assert second["account_limit"] in (4, None)  # confirmed by one overshoot, or never exceeded
    assert second["answered_429"] <= 2, second
    page = (latest() / "report.html").read_text(encoding="utf-8")
    assert "started from the level the account&#39;s last run held" in page
