"""Fixtures every test may use: a private per-user state folder for every test (never the real
one in the home folder), and the fixtures tests/support provides (registered here by import):
the emulator's (`start_emulator`, `emulator`, `shared_emulator`, `connect`) and real speech
(`speech_en`, `speech_hi`). Helpers are imported from tests.support, never from a test module.

Two things only make the suite quicker: `audit` is compiled to bytecode once per run, so each
`python -m audit` a test starts reads it instead of compiling every module again (where the
environment says not to write bytecode); and the test files that take longest run first (the
`SLOWEST` list, in tests/support/order.py), so both workers of `-n auto --dist loadfile` finish
together instead of one waiting on a long file started last."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.core.userstate import ENV_STATE_DIR
from tests.support.audio import speech_en, speech_hi
from tests.support.emulator import connect, emulator, shared_emulator, start_emulator
from tests.support.order import compile_audit, slowest_first

__all__ = ["connect", "emulator", "shared_emulator", "speech_en", "speech_hi", "start_emulator", "state_dir"]


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # once per run: the controller, or the only process
        compile_audit()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items[:] = slowest_first(items)


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """clone-audit's per-user state (account locks, the plan-sealing key) for this test only;
    child processes inherit it through the environment."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv(ENV_STATE_DIR, str(folder))
    return folder
