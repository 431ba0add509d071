"""`--version` and `--help` answer without loading what only a command needs: the pipelines,
pandas, numpy or httpx are imported when a command runs, not when the program starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from audit.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "numpy", "httpx")
               or m.startswith(("audit.pipeline", "audit.api", "audit.report.html")))
print("LOADED", heavy, file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["scan", "--help"], ["cutover", "--help"]])
def test_start_up_loads_no_pipeline_nor_the_heavy_libraries(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=60)
    assert "LOADED []" in done.stderr, done.stderr[-2000:]
