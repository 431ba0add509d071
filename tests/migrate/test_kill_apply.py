"""SIGKILL apply at random moments and rerun: one new clone per voice, every pair mapped."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

_BENCH = Path(__file__).parents[2] / "bench" / "kill_apply.py"


def _bench():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("kill_apply", _BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_killed_and_rerun_apply_makes_exactly_one_clone_per_voice(tmp_path: Path) -> None:
    outcome = _bench().migrate(voices=40, kills=6, seed=3, work=tmp_path)
    assert outcome.duplicates == 0
    assert outcome.missing == 0
    assert outcome.clones_made == 40
    assert outcome.mapping_pairs == 40 and outcome.mapping_mismatches == 0
    assert outcome.integrity_failures == 0  # the ledger survives every SIGKILL intact
