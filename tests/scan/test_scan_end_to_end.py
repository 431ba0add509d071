"""Scans over real HTTP against the emulator on 127.0.0.1: verdicts, faults, exit codes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from audit.api.client import WavesClient
from audit.core.config import ApiSettings, Settings
from audit.core.errors import AuthError, ExitCode, TransportError
from audit.core.models import ProbePolicy, ProbeVerdict, Verdict
from audit.core.secrets import Secret
from audit.emulator import EmulatorServer, generate_org
from audit.pipeline.scan import scan_organisation
from tests.support.cli import cli_env, clone_audit

pytestmark = pytest.mark.integration


def _settings(base_url: str, concurrency: int = 4, **probe: object) -> Settings:
    api = ApiSettings(base_url=base_url, concurrency=concurrency, max_attempts=8,
                      backoff_initial_s=0.01, backoff_max_s=0.05, timeout_s=10)
    settings = Settings(api=api)
    return replace(settings, probe=replace(settings.probe, **probe)) if probe else settings


async def _scan(server: EmulatorServer, settings: Settings):
    async with WavesClient(settings.api, Secret(server.api_key)) as client:
        return await scan_organisation(client, settings)


async def test_every_verdict_of_a_300_clone_org_matches_the_ground_truth() -> None:
    org = generate_org(300, seed=11)
    with EmulatorServer.with_org(n=300, seed=11, tts_concurrency=4) as server:
        run = await _scan(server, _settings(server.base_url))
    assert len(run.results) == 300
    got = {r.clone.voice_id: (r.probe.verdict, r.verdict) for r in run.results}
    wrong = {v: (got[v], org.truth[v], org.categories[v]) for v in org.truth if got[v] != org.truth[v]}
    assert wrong == {}
    assert run.exit_code is ExitCode.FINDINGS
    verdicts = {r.verdict for r in run.results}
    assert {Verdict.COMPLIANT, Verdict.NON_COMPLIANT, Verdict.UNKNOWN} <= verdicts


async def test_a_scan_survives_429_on_every_second_call_and_5xx_on_a_tenth() -> None:
    org = generate_org(120, seed=5)
    with EmulatorServer.with_org(
        n=120, seed=5, tts_concurrency=1, tts_429_every=2, fault_5xx_rate=0.10, retry_after=None
    ) as server:
        run = await _scan(server, _settings(server.base_url, concurrency=1))
        tts_429 = [e for e in server.state.requests(method="POST") if e.status == 429]
    assert len(run.results) == 120
    assert tts_429, "the emulator should have refused some calls"
    errors = 0
    for r in run.results:
        assert r.reason
        if r.probe.verdict is ProbeVerdict.ERROR:  # an explicit error that says what happened
            errors += 1
            assert r.verdict is Verdict.UNKNOWN and ("429" in r.reason or "500" in r.reason)
        else:  # or the right verdict
            assert (r.probe.verdict, r.verdict) == org.truth[r.clone.voice_id]
    assert errors <= 3  # retries got (nearly) every voice through
    assert run.exit_code is (ExitCode.PARTIAL if errors else ExitCode.FINDINGS)


async def test_probe_policy_legacy_skips_v31_metadata_and_none_makes_no_tts_call() -> None:
    with EmulatorServer.with_org(n=60, seed=3, tts_concurrency=4) as server:
        legacy = await _scan(server, _settings(server.base_url, policy=ProbePolicy.LEGACY))
        calls_after_legacy = server.state.tts_calls
        none = await _scan(server, _settings(server.base_url, policy=ProbePolicy.NONE))
        assert server.state.tts_calls == calls_after_legacy
    assert all(r.probe.verdict is ProbeVerdict.NOT_PROBED for r in legacy.results if r.compatibility.value == "v3.1")
    assert all(r.probe.verdict is ProbeVerdict.NOT_PROBED for r in none.results)
    assert any(r.probe.verdict is ProbeVerdict.SHORT_WAV for r in legacy.results)


async def test_a_wrong_key_stops_the_run() -> None:
    with EmulatorServer.with_org(n=5, seed=1) as server:
        settings = _settings(server.base_url)
        async with WavesClient(settings.api, Secret("sk_wrong")) as client:
            with pytest.raises(AuthError) as caught:
                await scan_organisation(client, settings)
    assert caught.value.exit_code == ExitCode.RUN_FAILED


async def test_an_unreachable_api_stops_the_run() -> None:
    with EmulatorServer.with_org(n=1, seed=1) as server:
        base_url = server.base_url  # the port is free again once the server stops
    settings = _settings(base_url)
    settings = replace(settings, api=replace(settings.api, max_attempts=2))
    async with WavesClient(settings.api, Secret("sk_x")) as client:
        with pytest.raises(TransportError, match="cannot connect"):
            await scan_organisation(client, settings)


def test_a_scan_runs_when_the_state_folder_cannot_be_made(tmp_path: Path) -> None:
    """The remembered level is "a start hint only: never an error", yet a discovering scan reads
    it through `state_dir()`, which raises when the folder cannot be created (a read-only home,
    a container user without one): the scan, which needs no state, exits 2 before any call."""
    from audit.emulator import EmulatorServer

    (tmp_path / "not-a-folder").write_text("")
    with EmulatorServer.with_org(n=4, seed=1) as server:
        env = cli_env(server, CLONE_AUDIT_STATE_DIR=str(tmp_path / "not-a-folder" / "state"))
        given = clone_audit("scan", "--concurrency", "1", "--out", "given", env=env, cwd=tmp_path)
        discovering = clone_audit("scan", "--out", "discovering", env=env, cwd=tmp_path)
    assert given.returncode == 1, given.stderr  # one legacy voice: findings, as expected
    assert discovering.returncode == given.returncode, discovering.stderr
