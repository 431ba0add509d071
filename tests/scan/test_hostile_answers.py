"""Scans against an emulator that answers badly: each voice gets its true verdict or an explicit error.

Every hostile answer of the emulator's Fault knobs, mixed with healthy ones, over real HTTP:
nothing is called compliant that is not, memory and time stay bounded, and an answer that
cannot be used is asked for once.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest

from audit.api.client import WavesClient
from audit.core.config import ApiSettings, ProbeSettings, Settings
from audit.core.errors import BadAnswer, ExitCode
from audit.core.models import Clone, ProbePolicy, ProbeVerdict, Verdict
from audit.core.secrets import Secret
from audit.emulator import EmulatorServer, Fault, generate_org
from audit.emulator.faults import WRONG_SHAPES
from audit.pipeline.scan import ScanRun, scan_organisation
from audit.scan.probe import probe_clone
from tests.support.cli import clone_audit

pytestmark = pytest.mark.integration

TTS = "/waves/v1/tts"
LIST = "/waves/v1/voice-cloning"
UNREADABLE_SHAPES = {0, 1, 2, 5}  # of WRONG_SHAPES; 3 and 4 are drift in optional fields


def _settings(base_url: str, policy: ProbePolicy = ProbePolicy.ALL, **api: object) -> Settings:
    base = ApiSettings(base_url=base_url, concurrency=2, max_attempts=4, backoff_initial_s=0.01,
                       backoff_max_s=0.05, timeout_s=10)
    return Settings(api=replace(base, **api), probe=ProbeSettings(policy=policy))


async def _scan(server: EmulatorServer, settings: Settings) -> ScanRun:
    async with WavesClient(settings.api, Secret(server.api_key)) as client:
        return await scan_organisation(client, settings)


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("tts_trickle", "the body was still arriving after 1 s"),
        ("tts_gzip_bomb", "over the 1,048,576-byte cap"),
        ("tts_endless", "over the 1,048,576-byte cap"),
        ("tts_json", "the body is not audio: application/json, 74 bytes, starting '{\"status\":\"success\""),
        ("tts_html", "the body is not audio: text/html; charset=utf-8"),
        ("tts_empty", "Accept trap"),
    ],
)
async def test_each_tts_fault_gives_every_voice_its_true_verdict_or_an_explicit_error(fault: str, says: str) -> None:
    org = generate_org(24, seed=8)
    with EmulatorServer.with_org(n=24, seed=8, tts_concurrency=2, trickle_bytes_per_s=50,
                                 **{fault: Fault(every=3)}) as server:
        run = await _scan(server, _settings(server.base_url, timeout_s=1.0, max_audio_bytes=1 << 20))
        asked = server.state.requests("POST", TTS)
    probed = [r for r in run.results if r.probe.verdict is not ProbeVerdict.NOT_PROBED]
    errors = [r for r in run.results if r.probe.verdict is ProbeVerdict.ERROR]
    assert len(errors) == len(probed) // 3  # every third answer was broken, and only those
    for r in run.results:
        truth = org.truth[r.clone.voice_id]
        if r.probe.verdict is ProbeVerdict.ERROR:
            assert r.verdict is Verdict.UNKNOWN and says in r.reason, r.reason
        else:
            assert (r.probe.verdict, r.verdict) == truth
        assert r.verdict is not Verdict.COMPLIANT or truth[1] is Verdict.COMPLIANT
    assert len(asked) == len(probed)  # a broken answer is not asked for again
    assert run.exit_code is ExitCode.PARTIAL


async def test_a_gzip_bomb_of_a_gibibyte_costs_the_scan_a_few_megabytes() -> None:
    with EmulatorServer.with_org(n=8, seed=1, tts_concurrency=4, tts_gzip_bomb=Fault(every=1)) as server:
        assert server.state.config.gzip_bomb_bytes == 1 << 30
        tracemalloc.start()
        try:
            run = await _scan(server, _settings(server.base_url, concurrency=4))  # default 8 MiB cap
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        asked = server.state.requests("POST", TTS)
    probed = [r for r in run.results if r.probe.verdict is not ProbeVerdict.NOT_PROBED]
    assert probed and all(r.probe.verdict is ProbeVerdict.ERROR for r in probed)
    assert all("after gzip decoding" in r.probe.reason for r in probed)
    assert len(asked) == len(probed)
    assert peak < 200 << 20, f"peak {peak / 2**20:.0f} MiB"  # 4 answers in flight, each stopped at 8 MiB


async def test_a_trickling_answer_ends_in_about_timeout_s_not_minutes() -> None:
    with EmulatorServer.with_org(n=6, seed=3, tts_trickle=Fault(every=1), trickle_bytes_per_s=1) as server:
        settings = _settings(server.base_url, timeout_s=2.0)
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            started = time.monotonic()
            result = await probe_clone(client, Clone(server.state.clones()[0].voice_id), settings.probe)
            elapsed = time.monotonic() - started
        asked = server.state.requests("POST", TTS)
    assert 1.9 <= elapsed < 3.5, elapsed
    assert result.verdict is ProbeVerdict.ERROR and "still arriving after 2 s" in result.reason
    assert len(asked) == 1


@pytest.mark.parametrize("fault", ["list_truncated", "list_garbage", "list_huge"])
async def test_a_list_that_cannot_be_read_stops_the_scan_with_a_clear_error_asked_once(fault: str) -> None:
    with EmulatorServer.with_org(n=20, seed=2, **{fault: Fault(every=1)}) as server:
        with pytest.raises(BadAnswer) as caught:
            await _scan(server, _settings(server.base_url))  # default caps: 32 MiB for the list
        asked = server.state.requests("GET", LIST)
        assert not server.state.requests("POST", TTS)
    assert len(asked) == 1
    assert caught.value.exit_code == ExitCode.RUN_FAILED
    assert ("max_list_bytes" if fault == "list_huge" else "run the scan again") in caught.value.hint


def _shape(index: int, every: int) -> int | None:
    return (index // every) % len(WRONG_SHAPES) if index % every == 0 else None


@pytest.mark.parametrize("policy", [ProbePolicy.ALL, ProbePolicy.NONE])
async def test_list_entries_of_the_wrong_shape_are_counted_unknown_never_dropped(policy: ProbePolicy) -> None:
    org = generate_org(40, seed=4)
    with EmulatorServer.with_org(n=40, seed=4, tts_concurrency=2, list_wrong_shape=Fault(every=1),
                                 wrong_shape_every=3) as server:
        listed = [c.voice_id for c in server.state.clones()]
        run = await _scan(server, _settings(server.base_url, policy=policy))
    shapes = {i: _shape(i, 3) for i in range(40)}
    unreadable = {f"<unparseable entry {i}>" for i, s in shapes.items() if s in UNREADABLE_SHAPES}
    drifted = {listed[i] for i, s in shapes.items() if s is not None and s not in UNREADABLE_SHAPES}
    assert len(run.results) == 40  # nothing dropped
    by_id = {r.clone.voice_id: r for r in run.results}
    assert unreadable <= by_id.keys() and len(unreadable) == 10 and len(drifted) == 4
    for voice_id in unreadable:
        assert by_id[voice_id].verdict is Verdict.UNKNOWN
        assert by_id[voice_id].probe.verdict is ProbeVerdict.NOT_PROBED  # no id to probe
    for r in run.results:
        if r.clone.voice_id in unreadable:
            continue
        truth = org.truth[r.clone.voice_id]
        if r.clone.voice_id in drifted:  # drift may cost certainty, never compliance it lacks
            assert r.verdict in (truth[1], Verdict.UNKNOWN) and r.clone.odd
            assert r.verdict is not Verdict.COMPLIANT or truth[1] is Verdict.COMPLIANT
        elif policy is ProbePolicy.ALL:
            assert (r.probe.verdict, r.verdict) == truth
    assert run.exit_code is ExitCode.PARTIAL


KEY = "sk_live_TESTSECRET_hostile_0123456789"


def test_the_cli_exits_3_with_a_hint_on_a_garbled_list_and_4_on_unreadable_entries(tmp_path: Path) -> None:
    with EmulatorServer.with_org(n=12, seed=2, api_key=KEY, list_truncated=Fault(every=1)) as server:
        done = clone_audit("scan", "--base-url", server.base_url, "--out", str(tmp_path / "a"),
                           env={"SMALLEST_API_KEY": KEY})
    assert done.returncode == 3, done.stderr
    assert "not JSON" in done.stderr and "run the scan again" in done.stderr
    assert "Traceback" not in done.stderr
    with EmulatorServer.with_org(n=12, seed=2, api_key=KEY, list_wrong_shape=Fault(every=1)) as server:
        done = clone_audit("scan", "--base-url", server.base_url, "--out", str(tmp_path / "b"),
                           env={"SMALLEST_API_KEY": KEY})
    assert done.returncode == 4, done.stderr
    (run_dir,) = [p for p in (tmp_path / "b").iterdir() if p.is_dir()]
    voices = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["voices"]
    assert len(voices) == 12
    unknown = [v for v in voices if v["voice_id"].startswith("<unparseable entry")]
    assert unknown and all(v["verdict"] == "unknown" and "could not be read" in v["reason"] for v in unknown)
    assert "&lt;unparseable entry 0&gt;" in (run_dir / "report.html").read_text(encoding="utf-8")


def test_the_cli_refuses_to_send_the_key_over_plain_http_to_a_remote_host(tmp_path: Path) -> None:
    done = clone_audit("scan", "--base-url", "http://api.smallest.ai", "--out", str(tmp_path),
                       env={"SMALLEST_API_KEY": KEY})
    assert done.returncode == 2
    assert "unencrypted" in done.stderr and "--allow-insecure-http" in done.stderr
    assert KEY not in done.stderr + done.stdout
