"""SIGKILL apply at random moments and rerun: one new clone per voice, every pair mapped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench import load_bench

pytestmark = pytest.mark.integration


def test_killed_and_rerun_apply_makes_exactly_one_clone_per_voice(tmp_path: Path) -> None:
    outcome = load_bench("kill_apply").migrate(voices=40, kills=6, seed=3, work=tmp_path)
    assert outcome.duplicates == 0
    assert outcome.missing == 0
    assert outcome.clones_made == 40
    assert outcome.mapping_pairs == 40 and outcome.mapping_mismatches == 0
    assert outcome.integrity_failures == 0  # the ledger survives every SIGKILL intact
