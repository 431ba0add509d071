"""Fixtures every test may use: a private per-user state folder for every test (never the real
one in the home folder), and the fixtures tests/support provides (registered here by import):
the emulator's (`start_emulator`, `emulator`, `shared_emulator`, `connect`) and real speech
(`speech_en`, `speech_hi`). Helpers are imported from tests.support, never from a test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.core.userstate import ENV_STATE_DIR
from tests.support.audio import speech_en, speech_hi
from tests.support.emulator import connect, emulator, shared_emulator, start_emulator

__all__ = ["connect", "emulator", "shared_emulator", "speech_en", "speech_hi", "start_emulator", "state_dir"]


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """clone-audit's per-user state (account locks, the plan-sealing key) for this test only;
    child processes inherit it through the environment."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv(ENV_STATE_DIR, str(folder))
    return folder
