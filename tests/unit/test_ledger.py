"""The ledger keeps every step across reopen, counts creates, and refuses a damaged file."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.core.errors import UsageError
from audit.migrate.ledger import Ledger
from audit.migrate.state import State


def test_steps_survive_reopening_and_keep_their_history(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.record("voice_old", State.CREATING, plan_id="p1")
        ledger.record("voice_old", State.CREATED, plan_id="p1", new_voice_id="voice_new", display_name="Emma")
        ledger.record("voice_old", State.COMPLETED, plan_id="p1")
    with Ledger(path) as ledger:
        row = ledger.get("voice_old")
        assert row is not None
        assert (row.state, row.new_voice_id, row.display_name, row.creates) == (
            State.COMPLETED, "voice_new", "Emma", 1)
        assert ledger.events("voice_old") == [("creating", None), ("created", "voice_new"), ("completed", None)]
        assert ledger.get("voice_other") is None


def test_every_create_is_counted(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        for _ in range(3):
            ledger.record("voice_old", State.CREATING, plan_id="p1")
        assert ledger.get("voice_old").creates == 3


def test_retiring_is_recorded(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.record("voice_old", State.VERIFIED, plan_id="p1", new_voice_id="voice_new")
        ledger.mark_retired("voice_old")
        assert ledger.get("voice_old").retired_at is not None


def test_an_unknown_column_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        with pytest.raises(ValueError, match="unknown ledger columns"):
            ledger.record("voice_old", State.CREATED, plan_id="p1", new_id="x")
        assert ledger.all() == []


def test_a_file_that_is_not_a_ledger_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match="not a usable clone-audit ledger") as caught:
        Ledger(path)
    assert "rebuilds the ledger from the marker tags" in caught.value.hint


def test_two_runs_cannot_hold_one_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path), pytest.raises(UsageError, match="another clone-audit apply is working"):
        Ledger(path)
    with Ledger(path):  # released on close
        pass
