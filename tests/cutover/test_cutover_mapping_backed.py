"""cutover --write replaces an old id only with the new id the sealed ledger beside the mapping
backs: an edited mapping.csv in a migration folder never writes an id of its choosing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.support.cli import clone_audit, planned_account

pytestmark = pytest.mark.integration

KEY = "sk_live_BACKEDMAP_0123456789abcdef"


def test_an_edited_mapping_row_is_not_ready_and_writes_nothing(tmp_path: Path) -> None:
    with planned_account(tmp_path, KEY, 20, 6) as account:
        plan_file = account.plan_file
        assert clone_audit("apply", str(plan_file), "--yes", "--limit", "2", env=account.env).returncode == 0
    mapping = plan_file.parent / "mapping.csv"
    text = mapping.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    honest, edited = (r for r in rows if r["status"] == "ready")
    mapping.write_text(text.replace(edited["new_voice_id"], "voice_ATTACKER01"), encoding="utf-8")
    app = tmp_path / "app"
    app.mkdir()
    (app / "voices.py").write_text(f'A = "{honest["old_voice_id"]}"\nB = "{edited["old_voice_id"]}"\n', encoding="utf-8")
    done = clone_audit("cutover", str(mapping), str(app), "--write")
    assert done.returncode == 1, done.stdout + done.stderr  # the edited row's old id is left, not ready
    written = (app / "voices.py").read_text(encoding="utf-8")
    assert honest["new_voice_id"] in written and edited["old_voice_id"] in written
    assert "voice_ATTACKER01" not in written
