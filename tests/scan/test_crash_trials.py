"""SIGKILL scan at random moments: a reader never sees part of a report set, and the next
complete run leaves no staging folder behind (bench/crash_trials.py runs more trials)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench import load_bench

pytestmark = pytest.mark.integration


def test_killed_scans_leave_whole_report_sets_or_none(tmp_path: Path) -> None:
    # the staging grace is passed by dating the killed runs' staging back, not by waiting 11 s
    trials = load_bench("crash_trials").scan_trials(kills=5, clones=300, seed=5, work=tmp_path, age_staging=True)
    assert trials.killed_mid_run >= 2  # the kills really landed inside the work
    assert trials.partial_sets == 0
    assert trials.leftovers_at_end == 0
    assert trials.complete_sets >= 2  # the uninterrupted baseline and the final run
