"""`--version` and `--help` answer without loading what only a command needs: the pipelines,
the run store and its SQLite, the console (rich), pandas, numpy or httpx are imported when a
command runs, not when the program starts; a person typing `clone-audit --help` waits no
longer than an interpreter's start-up and a moment (`bench/startup.py` holds the figures)."""

from __future__ import annotations

import ast
import subprocess
import sys
import time

import pytest

PROBE = """
import sys
from audit.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("LOADED", sorted(sys.modules), file=sys.stderr)
"""

#: Top-level packages a start-up must not import.
HEAVY_LIBRARIES = ("pandas", "numpy", "httpx", "rich", "sqlite3", "_sqlite3", "jinja2", "soundfile")
#: Modules of the program (and everything under them) a start-up must not import.
HEAVY_MODULES = ("audit.pipeline", "audit.api", "audit.report.html", "audit.runs.store", "audit.runs.record",
                 "audit.console", "audit.cli.failures", "audit.cli.output", "audit.cli.commands.")


def loaded(argv: list[str]) -> list[str]:
    """The modules a child process holds after `main(argv)` answered."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=60)
    line = next(line for line in done.stderr.splitlines() if line.startswith("LOADED "))
    return ast.literal_eval(line.removeprefix("LOADED "))  # type: ignore[no-any-return]


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["scan", "--help"], ["cutover", "--help"],
                                  ["apply", "--help"]])
def test_start_up_loads_no_pipeline_nor_the_heavy_libraries(argv: list[str]) -> None:
    modules = loaded(argv)
    heavy = [m for m in modules if m.split(".")[0] in HEAVY_LIBRARIES
             or any(m == prefix.rstrip(".") or m.startswith(prefix.rstrip(".") + ".") for prefix in HEAVY_MODULES)]
    assert heavy == [], heavy


def test_a_command_still_loads_what_it_needs() -> None:
    """The probe sees a command's imports (so the check above can fail): `history` on an empty
    folder runs and loads its command module and the console."""
    modules = loaded(["history", "--out", "no-such-folder-for-startup-test"])
    assert "audit.cli.commands.report" in modules and "audit.console" in modules


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["scan", "--help"]])
def test_version_and_help_answer_in_well_under_a_second(argv: list[str]) -> None:
    """Generous on purpose (the benchmark holds the goal): a start-up that loaded every pipeline
    took about a second on a shared machine."""
    best = float("inf")
    for _ in range(3):  # the best of three: one slow start on a busy machine is not the program's
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "audit", *argv], capture_output=True, text=True, timeout=60)
        best = min(best, time.perf_counter() - start)
        assert done.returncode == 0, done.stderr
    assert "clone-audit" in done.stdout
    assert best < 1.0, f"{argv}: {best:.2f} s"


IMPORTS = "import sys, {module}\nprint('LOADED', sorted(sys.modules), file=sys.stderr)"


def imported_by(module: str) -> list[str]:
    """The modules a fresh interpreter holds after importing `module`."""
    done = subprocess.run([sys.executable, "-c", IMPORTS.format(module=module)], capture_output=True, text=True,
                          timeout=60, check=True)
    line = next(line for line in done.stderr.splitlines() if line.startswith("LOADED "))
    return ast.literal_eval(line.removeprefix("LOADED "))  # type: ignore[no-any-return]


@pytest.mark.parametrize("module", ["audit.pipeline.scan", "audit.cli.commands.scan", "audit.pipeline.history",
                                    "audit.report.files"])
def test_the_scan_command_imports_neither_pandas_nor_jinja2(module: str) -> None:
    """pandas (over half a second of imports on a busy machine) is never loaded by a scan (its
    files are written from rows: tests/cli/test_command_imports.py runs a whole scan), and jinja2
    waits for the report page: the scan's whole import chain leaves both out."""
    modules = imported_by(module)
    assert module in modules  # the probe sees the import (so the check below can fail)
    assert [m for m in modules if m.split(".")[0] in ("pandas", "jinja2")] == []


def test_building_the_table_still_loads_pandas() -> None:
    modules = imported_by("audit.report.tables; from datetime import datetime, UTC; "
                          "audit.report.tables.voice_frame([], datetime.now(UTC))")
    assert "pandas" in modules
