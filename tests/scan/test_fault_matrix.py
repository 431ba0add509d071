"""Every row of bench/fault_matrix.py through the real command line: whatever the fault,
nothing is called compliant that is not, each voice gets its true verdict or an explicit
unknown, the exit code is the documented one, and no traceback or key is ever shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.bench import load_bench

pytestmark = pytest.mark.integration

BENCH = load_bench("fault_matrix")


@pytest.mark.parametrize("row", BENCH.ROWS, ids=lambda r: r.name)
def test_each_fault_gives_the_truth_or_an_explicit_unknown_and_the_documented_exit(row, tmp_path: Path) -> None:
    if row.mount and os.geteuid() != 0:
        pytest.skip("mounting a small or read-only tmpfs needs root")
    outcome = BENCH.run_row(row, clones=24, seed=3, work=tmp_path)
    assert outcome.exit_code in row.exits, outcome.note
    assert outcome.false_compliant == 0
    assert outcome.wrong == 0
    assert not outcome.traceback
    assert not outcome.key_leaked
    assert outcome.report_ok, outcome.note
    assert outcome.ok, outcome.note
    if row.report and row.command == "scan":
        assert outcome.truthful + outcome.unknown == 24  # every voice is in the report
