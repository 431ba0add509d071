"""How the suite is run, not what it proves: `slowest_first(items)` puts the test files of
`SLOWEST` first (in that order; every other file after them, as collected), keeping each
file's tests together and in their own order; `compile_audit()` writes the bytecode of the
`audit` package once, for the child processes tests start.

With `--dist loadfile` each file runs whole on one worker, and a worker takes the next file
when it is done. Started last, a long file keeps one core busy while the other idles; started
first, it runs beside the many short files. The run uses this order as is
(`--no-loadscope-reorder` in pyproject.toml), where pytest-xdist would otherwise start the
files with the most tests first, which put the long end-to-end files of one to three tests last.
`SLOWEST` is the files that take longest, longest first, as `--durations` measured them; a file
missing from it, or a name left after a file is gone, only costs time."""

from __future__ import annotations

import compileall
from pathlib import Path

import pytest

import audit

SLOWEST = (
    "tests/migrate/test_kill_apply.py",
    "tests/migrate/test_migration.py",
    "tests/ecosystem/test_github_action.py",
    "tests/browser/test_report_in_chromium.py",
    "tests/report/test_run_kinds.py",
    "tests/cli/test_scripting.py",
    "tests/cli/test_cli.py",
    "tests/report/test_run_records.py",
    "tests/ecosystem/test_precommit_hook.py",
    "tests/cutover/test_own_calls_end_to_end.py",
    "tests/cli/test_confirmation.py",
    "tests/migrate/test_review_attack_ledger.py",
    "tests/scan/test_crash_trials.py",
    "tests/cutover/test_agents_emulator.py",
    "tests/cutover/test_agents_report.py",
    "tests/scan/test_fault_matrix.py",
    "tests/migrate/test_retire_trust.py",
    "tests/cutover/test_cutover_end_to_end.py",
    "tests/cutover/test_cutover_mapping_backed.py",
    "tests/fidelity/test_fidelity_migration.py",
    "tests/migrate/test_plan_trust.py",
    "tests/report/test_compliance_end_to_end.py",
    "tests/emulator/test_atoms_contract.py",
    "tests/scan/test_scan_usage.py",
    "tests/scan/test_throughput.py",
)


def slowest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """`items`, the files of `SLOWEST` first; a file's tests stay together, in their order."""
    rank = {name: place for place, name in enumerate(SLOWEST)}
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    ordered = sorted(files, key=lambda name: rank.get(name, len(SLOWEST)))  # stable: the rest as collected
    return [item for name in ordered for item in files[name]]


def compile_audit() -> None:
    """Bytecode for every module of `audit` beside its source (what an install writes): a child
    `python -m audit` then reads it, even where PYTHONDONTWRITEBYTECODE stops it writing its own."""
    compileall.compile_dir(Path(audit.__file__).parent, quiet=1)
