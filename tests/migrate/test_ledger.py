"""The ledger keeps every step across reopen, counts creates, and refuses a damaged file."""

from __future__ import annotations

import sqlite3
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


def test_an_older_ledger_gains_the_fidelity_columns(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:  # the schema before fidelity
        db.executescript("""
            CREATE TABLE migrations (old_voice_id TEXT PRIMARY KEY, plan_id TEXT NOT NULL, state TEXT NOT NULL,
                new_voice_id TEXT, display_name TEXT, language TEXT, source_sha256 TEXT, probe_verdict TEXT,
                verified_at TEXT, retired_at TEXT, detail TEXT NOT NULL DEFAULT '',
                creates INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL);
            INSERT INTO migrations VALUES ('voice_old0000001', 'p1', 'verified', 'voice_new0000001', 'Emma', 'en',
                'ab', 'speaks', '2026-01-01T00:00:00+00:00', NULL, '', 1, '2026-01-01T00:00:00+00:00');
        """)
    db.close()
    with Ledger(path) as ledger:
        row = ledger.get("voice_old0000001")
        assert row is not None and row.state is State.VERIFIED and row.fidelity is None and row.similarity is None
        ledger.record("voice_old0000001", State.MISMATCH, plan_id="p1", similarity=0.5, fidelity="mismatch")
    with Ledger(path) as ledger:
        row = ledger.get("voice_old0000001")
        assert row is not None and row.similarity == 0.5 and row.fidelity == "mismatch"
        assert row.new_voice_id == "voice_new0000001"  # the old columns kept their values
