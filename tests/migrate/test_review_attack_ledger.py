"""retire never believes a ledger row that was edited after clone-audit wrote it: a replacement
the fidelity check heard as someone else, made to read `verified` by hand, never gets its
original deleted (through the real command line)."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from audit.migrate.ledger import Ledger
from audit.migrate.state import State
from tests.support.cli import clone_audit, planned_account

KEY = "sk_live_RETIRETRUST_0123456789abcdef"

pytestmark = pytest.mark.integration


def test_a_ledger_row_edited_to_verified_deletes_nothing(tmp_path: Path) -> None:
    with planned_account(tmp_path, KEY, 16, 4, delete_mode="ok") as account:
        server, env, plan_file = account.server, account.env, account.plan_file
        applied = clone_audit("apply", str(plan_file), "--yes", "--limit", "2", env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        rows = list(csv.DictReader((plan_file.parent / "mapping.csv").open(encoding="utf-8", newline="")))
        honest, doubted = (r["old_voice_id"] for r in rows if r["status"] == "ready")
        with Ledger(plan_file.parent / "ledger.sqlite") as ledger:  # as apply records a fidelity mismatch
            row = ledger.get(doubted)
            assert row is not None
            ledger.record(doubted, State.MISMATCH, plan_id=row.plan_id, new_voice_id=row.new_voice_id,
                          detail="does not sound like its source")
        with sqlite3.connect(plan_file.parent / "ledger.sqlite") as db:  # then edited by hand
            db.execute("UPDATE migrations SET state = 'verified' WHERE old_voice_id = ?", (doubted,))

        retired = clone_audit("retire", str(plan_file), "--yes", env=env)

        assert retired.returncode == 1, retired.stdout + retired.stderr
        assert server.state.clone(honest) is None
        assert server.state.clone(doubted) is not None  # its replacement was never accepted
        assert "Deleted 1 legacy clone(s)." in retired.stdout
        run = json.loads(Path(retired.stdout.rstrip().splitlines()[-1].removeprefix("Run: ")).read_text())
        disputed = {d["voice_id"]: d["why"] for d in run["retire"]["disputed"]}
        assert set(disputed) == {doubted} and "ledger row" in disputed[doubted]
