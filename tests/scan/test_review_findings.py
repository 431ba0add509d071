"""Findings of the adversarial review of the probe's early-stop detector, the remembered
concurrency level, the SIGTERM handler and apply's `max_in_progress`: each test fails on
the code as reviewed and names what a user would notice."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audit.core.audio import wav_pcm16
from audit.core.models import ProbeVerdict
from audit.fidelity import vad
from audit.scan.probe import judge_body

FIXTURES = Path(__file__).parents[1] / "fixtures"
ROOT = Path(__file__).parents[2]


def _speech() -> tuple[np.ndarray, int]:
    samples, rate = sf.read(FIXTURES / "flite_slt_probe.wav", dtype="float32")
    return samples, rate


def _float_wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


# -- 1. the early-stop detector skips speech before a loud sample ---------------------------


def test_speech_followed_by_one_over_full_scale_float_sample_still_speaks() -> None:
    """A float WAV may hold a sample above 1.0 (an over, a glitch): `first_speech` measures its
    lead-in against that unclipped peak, starts listening 0.1 s before it, and never hears the
    ordinary speech before it. `detect` (and the probe before the change) hears it."""
    speech, rate = _speech()
    samples = np.concatenate([speech, np.zeros(rate // 4, np.float32)])
    samples[-rate // 8] = 60.0  # one damaged sample after the sentence
    assert vad.detect(samples, rate).speaks
    assert vad.first_speech(samples, rate).speaks == vad.detect(samples, rate).speaks
    result = judge_body(_float_wav(samples, rate), "audio/wav")
    assert result.verdict is ProbeVerdict.SPEAKS, result.reason


def test_quiet_speech_followed_by_a_click_still_speaks() -> None:
    """Speech peaking at -36 dBFS then a one-sample click at full scale: the click is 35 dB
    above the speech's samples (so the lead-in skips all of it) but not above its 20 ms frames
    (so the level checks pass). A working voice is then reported `silent`."""
    speech, rate = _speech()
    quiet = speech / np.abs(speech).max() * 10 ** (-36 / 20)
    tail = np.zeros(rate // 2, np.float32)
    tail[rate // 4] = 0.99
    samples = np.concatenate([quiet, tail]).astype(np.float32)
    assert vad.detect(samples, rate).speaks
    assert judge_body(wav_pcm16(quiet, rate), "audio/wav").verdict is ProbeVerdict.SPEAKS  # without the click
    result = judge_body(wav_pcm16(samples, rate), "audio/wav")
    assert result.verdict is ProbeVerdict.SPEAKS, result.reason


# -- 2. the detector is no longer bounded by the first 60 s ---------------------------------


def test_a_low_sample_rate_answer_costs_the_probe_seconds_not_hours() -> None:
    """A 40 kB 8-bit WAV of loud noise declared at 2 Hz holds 20,000 s of "audio": the level
    checks pass, and `first_speech` now resamples and scores all of it (to 16 kHz, one input
    sample at a time). Before the change the detector heard at most the first 60 s. At the
    8 MiB `max_audio_bytes` cap this is hours of CPU on the one judging thread, so every other
    probe of the scan waits behind it."""
    script = textwrap.dedent("""
        import io, sys, time
        import numpy as np, soundfile as sf
        from audit.scan.probe import judge_body
        noise = (np.random.default_rng(0).standard_normal(40_000) * 0.3).astype(np.float32)
        buffer = io.BytesIO()
        sf.write(buffer, noise, 2, format="WAV", subtype="PCM_U8")
        started = time.process_time()
        result = judge_body(buffer.getvalue(), "audio/wav")
        print(result.verdict.value, round(time.process_time() - started, 2))
    """)
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail("judging one 40 kB answer took more than 30 s")
    verdict, seconds = done.stdout.split()
    assert done.returncode == 0, done.stderr
    assert verdict == "silent" and float(seconds) < 5.0


# -- 3. the remembered concurrency level made the per-user state folder a requirement of scan ---


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audit", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def _env(server: object, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SMALLEST_")}
    env.update(SMALLEST_API_KEY=server.api_key, SMALLEST_BASE_URL=server.base_url, COLUMNS="200", **extra)  # type: ignore[attr-defined]
    return env


def test_a_scan_runs_when_the_state_folder_cannot_be_made(tmp_path: Path) -> None:
    """The remembered level is "a start hint only: never an error", yet a discovering scan reads
    it through `state_dir()`, which raises when the folder cannot be created (a read-only home,
    a container user without one): the scan, which needs no state, exits 2 before any call."""
    from audit.emulator import EmulatorServer

    (tmp_path / "not-a-folder").write_text("")
    with EmulatorServer.with_org(n=4, seed=1) as server:
        env = _env(server, CLONE_AUDIT_STATE_DIR=str(tmp_path / "not-a-folder" / "state"))
        given = _cli("scan", "--concurrency", "1", "--out", "given", env=env, cwd=tmp_path)
        discovering = _cli("scan", "--out", "discovering", env=env, cwd=tmp_path)
    assert given.returncode == 1, given.stderr  # one legacy voice: findings, as expected
    assert discovering.returncode == given.returncode, discovering.stderr


# -- 4. max_in_progress: a create's unknown-outcome window starts before it is sent -----------


APPLY_CONFIG = """
[api]
concurrency = 1
create_timeout_s = 2.0
backoff_initial_s = 0.01
backoff_max_s = 0.1
[apply]
poll_interval_s = 0.2
settle_s = 12.0
max_in_progress = 4
"""


def test_a_create_queued_behind_other_voices_then_killed_is_not_made_twice(tmp_path: Path) -> None:
    """One request at a time (concurrency 1), four voices in progress. A voice's row turns
    `creating` (the start of its unknown-outcome window, create_timeout_s + settle_s) before
    its create waits for the one slot behind the other voices' verification probes; it is sent
    seconds later. Killed right after it was sent, the rerun looks until the window ends, the
    clone is not listed yet then (the list lags 12 s behind a create, exactly settle_s, and
    the create took 1 s of its 2 s create_timeout_s), so the rerun creates it again: two clones
    for one voice, with every setting honest. Before `max_in_progress`, one request allowed
    meant one voice in progress, and a create never queued behind another voice's probe."""
    import asyncio
    import os
    import signal
    import time
    from collections import Counter

    from audit.api.client import WavesClient
    from audit.core.config import ApiSettings, ArchiveSettings, Secret, Settings
    from audit.core.models import MARKER_PREFIX, Action
    from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, generate_archive, generate_org
    from audit.pipeline.plan import plan_migration

    org = generate_org(60, 3)
    generate_archive(org, tmp_path / "archive", 3)
    config = EmulatorConfig(seed=3, tts_concurrency=1, pending_s=0.0, processing_s=0.1, list_lag_s=12.0,
                            clone_quota=100_000, latency={"tts": 4.0, "create": 1.0})
    with EmulatorServer(EmulatorState(config, org.clones)) as server:
        settings = Settings(api=ApiSettings(base_url=server.base_url, concurrency=1),
                            archive=ArchiveSettings(folder=str(tmp_path / "archive")))

        async def plan():  # noqa: ANN202
            async with WavesClient(settings.api, Secret(server.api_key)) as client:
                return await plan_migration(client, settings, tmp_path / "out")

        planned = asyncio.run(plan())
        chosen = [e.voice_id for e in planned.plan.entries if e.action is Action.RECLONE][:6]
        assert len(chosen) == 6
        (tmp_path / "apply.toml").write_text(APPLY_CONFIG)
        command = [sys.executable, "-m", "audit", "apply", str(planned.plan_path), "--yes", "--config",
                   str(tmp_path / "apply.toml"), "--base-url", server.base_url, "--only", *chosen]
        env = {**os.environ, "SMALLEST_API_KEY": server.api_key}

        def creates() -> int:  # received: the emulator adds the clone, then takes 1 s to answer
            return sum(any(t.startswith(MARKER_PREFIX) for t in c.tags) for c in server.state.clones())

        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while creates() < 5 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)  # the fifth create reached the server, unanswered
        child.wait()
        assert creates() == 5
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        made = Counter(tag[len(MARKER_PREFIX):] for c in server.state.clones() for tag in c.tags
                       if tag.startswith(MARKER_PREFIX))
    assert final.returncode in (0, 1), final.stderr[-2000:]
    assert {v: n for v, n in made.items() if n > 1} == {}, "duplicate clones"


# -- 5. SIGTERM in the foreground: a plan written whole, then reported as not written ---------


def test_a_plan_stopped_by_sigterm_either_is_written_or_says_so(tmp_path: Path) -> None:
    """In the foreground SIGTERM cancels the main task, which only takes effect at its next
    await: planning after the list call has none, so the plan is checked, written and renamed
    into place whole, and then the run exits 143 saying "no plan was written". A script (or a
    person) trusting the message plans again; `apply latest` finds the plan it was told does
    not exist."""
    import os
    import signal
    import time

    from audit.emulator import EmulatorServer, generate_archive, generate_org

    org = generate_org(60, 3)
    generate_archive(org, tmp_path / "archive", 3)
    with EmulatorServer.with_org(n=60, seed=3) as server:
        env = {**_env(server), "CLONE_AUDIT_STATE_DIR": str(tmp_path / "state")}
        out = tmp_path / "out"
        child = subprocess.Popen([sys.executable, "-m", "audit", "plan", "--archive", str(tmp_path / "archive"),
                                  "--out", str(out)], env=env, cwd=tmp_path, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not server.state.requests() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        time.sleep(0.2)  # the list has answered: the plan is being checked, locally
        os.kill(child.pid, signal.SIGTERM)
        _, err = child.communicate(timeout=120)
    written = sorted(p.parent.name for p in out.glob("*/plan.json"))
    if child.returncode == 143:
        assert "no plan was written" in err
        assert written == [], f"exit 143 and 'no plan was written', yet {written} holds a sealed plan"
    else:
        assert written, err


# -- 6. report.html: the display-name column's truncation keeps the start of an echoed key ----


def test_a_display_name_holding_the_key_leaves_no_part_of_it_in_any_file(tmp_path: Path) -> None:
    """The findings table shows `display_name | truncate(80, killwords=True)`: a name of 60
    characters then the key is cut inside the key, after scrubbing found no whole key in the
    cell, so report.html kept the key's first 17 characters (a prefix of 8 or more is a leak
    for the key-echo guarantee)."""
    from audit.emulator import EmulatorServer
    from audit.emulator.state import CloneRecord

    with EmulatorServer.with_org(n=3, seed=1) as server:
        key = server.api_key
        server.state.add_clone(CloneRecord("voice_leak000001", "legacy", {
            "modelIds": ["lightning-large"], "status": "completed", "language": "en", "displayName": "N" * 60 + key}))
        done = _cli("scan", "--out", "out", env={**_env(server), "CLONE_AUDIT_STATE_DIR": str(tmp_path / "state")},
                    cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files)
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        assert [n for n in range(8, len(key) + 1) if key[:n] in text] == [], path.name
