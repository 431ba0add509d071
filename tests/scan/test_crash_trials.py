"""SIGKILL scan at random moments: a reader never sees part of a report set, and the next
complete run leaves no staging folder behind (bench/crash_trials.py runs more trials)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

_BENCH = Path(__file__).parents[2] / "bench" / "crash_trials.py"


def _bench():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("crash_trials", _BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_killed_scans_leave_whole_report_sets_or_none(tmp_path: Path) -> None:
    trials = _bench().scan_trials(kills=5, clones=300, seed=5, work=tmp_path)
    assert trials.killed_mid_run >= 2  # the kills really landed inside the work
    assert trials.partial_sets == 0
    assert trials.leftovers_at_end == 0
    assert trials.complete_sets >= 2  # the uninterrupted baseline and the final run
