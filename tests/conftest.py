"""Shared test helpers: real audio bytes of each kind the probe must tell apart, and a
private per-user state folder for every test (never the real one in the home folder)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audit.core.userstate import ENV_STATE_DIR

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """clone-audit's per-user state (account locks, the plan-sealing key) for this test only;
    child processes inherit it through the environment."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv(ENV_STATE_DIR, str(folder))
    return folder


def wav_bytes(samples: np.ndarray, sample_rate: int = 24000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def short_wav(n_samples: int = 50, claimed_bytes: int | None = None, sample_rate: int = 24000) -> bytes:
    """The symptom: a RIFF header and a few samples; the header may claim far more."""
    data = (np.sin(np.arange(n_samples) / 3.0) * 3000).astype("<i2").tobytes()
    size = len(data) if claimed_bytes is None else claimed_bytes
    header = (
        b"RIFF" + struct.pack("<I", min(36 + size, 0xFFFFFFFF)) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data" + struct.pack("<I", size)
    )
    return header + data


@pytest.fixture
def speech_en() -> bytes:
    return (FIXTURES / "espeak_en_hello.wav").read_bytes()


@pytest.fixture
def speech_hi() -> bytes:
    return (FIXTURES / "espeak_hi_hello.wav").read_bytes()


# The emulator's fixtures (tests/support/emulator.py), for every test that runs one.
from tests.support.emulator import connect, emulator, shared_emulator, start_emulator  # noqa: E402, F401
