"""retire deletes an old clone only when the sealed plan, the ledger and the replacement's proof
tag all agree that it was replaced: an edited ledger or plan never deletes a working voice."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from audit.migrate.document import read_plan
from tests.support.cli import clone_audit, planned_account

pytestmark = pytest.mark.integration

KEY = "sk_live_RETIRETRUST_0123456789abcdef"


def test_an_edited_ledger_deletes_nothing_the_plan_and_the_proof_do_not_back(tmp_path: Path) -> None:
    with planned_account(tmp_path, KEY, 24, 6, delete_mode="ok") as account:
        server, env, plan_file = account.server, account.env, account.plan_file
        assert account.scanned.returncode == 1
        applied = clone_audit("apply", str(plan_file), "--yes", "--limit", "3", env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        rows = list(csv.DictReader((plan_file.parent / "mapping.csv").open(encoding="utf-8", newline="")))
        honest, redirected, forged_proof = (r for r in rows if r["status"] == "ready")
        kept, bystander = [e.voice_id for e in read_plan(plan_file).entries if e.action.value == "KEEP"][:2]

        with sqlite3.connect(plan_file.parent / "ledger.sqlite") as ledger:
            # a voice the sealed plan keeps, made to look migrated to a real replacement
            ledger.execute("INSERT INTO migrations (old_voice_id, plan_id, state, new_voice_id, updated_at) "
                           "SELECT ?, plan_id, 'verified', new_voice_id, updated_at FROM migrations "
                           "WHERE old_voice_id = ?", (kept, forged_proof["old_voice_id"]))
            # a ready row pointed at another working clone that carries no proof for it
            ledger.execute("UPDATE migrations SET new_voice_id = ? WHERE old_voice_id = ?",
                           (bystander, redirected["old_voice_id"]))

        retired = clone_audit("retire", str(plan_file), "--yes", env=env)
        assert retired.returncode == 1, retired.stdout + retired.stderr  # kept voices a person must look at
        assert "Deleted 2 legacy clone(s)." in retired.stdout
        assert server.state.clone(honest["old_voice_id"]) is None
        assert server.state.clone(forged_proof["old_voice_id"]) is None  # its own row is still honest
        assert server.state.clone(kept) is not None  # the plan keeps it
        assert server.state.clone(redirected["old_voice_id"]) is not None  # no proof on the named replacement
        assert server.state.clone(bystander) is not None
        run = json.loads(Path(retired.stdout.rstrip().splitlines()[-1].removeprefix("Run: ")).read_text())
        disputed = {d["voice_id"]: d["why"] for d in run["retire"]["disputed"]}
        assert set(disputed) == {kept, redirected["old_voice_id"]}
        assert "sealed plan" in disputed[kept] and "proof" in disputed[redirected["old_voice_id"]]


def test_retire_refuses_a_plan_whose_seal_does_not_match(tmp_path: Path) -> None:
    with planned_account(tmp_path, KEY, 12, 3, delete_mode="ok", tts_concurrency=1) as account:
        server, env, plan_file = account.server, account.env, account.plan_file
        assert clone_audit("apply", str(plan_file), "--yes", "--limit", "1", env=env).returncode == 0
        plan_file.write_text(plan_file.read_text(encoding="utf-8").replace('"KEEP"', '"RECLONE"'), encoding="utf-8")
        before = len(server.state.requests("DELETE"))
        refused = clone_audit("retire", str(plan_file), "--yes", env=env)
        assert refused.returncode == 2 and "seal" in refused.stderr
        assert len(server.state.requests("DELETE")) == before
