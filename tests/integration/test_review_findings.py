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
