"""Each command loads what it runs and nothing it never needs: a scan does not load the cutover
(its walker, scanner and client), the voice agents' endpoints or the JUnit writer before it
writes JUnit, nor numpy and the audio stack before its first probe, nor the HTTP client before
it makes one; `report` and `history` load no HTTP client, no numpy and no pipeline they do not
render with; `retire` no audio; a cutover of files no API client. Every command run in a child
process (and every test that runs the real CLI) pays for what its module imports
(`bench/startup.py` prints the figures: "each command's imports")."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from audit.cli.parser import COMMANDS

SHOW = "import sys\n{code}\nprint('LOADED', sorted(k for k, v in sys.modules.items() if v is not None), file=sys.stderr)"

#: The CLI's command modules and what importing one must never load (a name, or anything under
#: it). Libraries a module needs only on some paths (pandas for a table, jinja2 for a page) are
#: loaded by the function that uses them.
NEVER: dict[str, tuple[str, ...]] = {
    "scan": ("httpx", "audit.api", "audit.pipeline.cutover", "audit.cutover",
             "audit.report.junit", "audit.report.html", "audit.archive", "audit.migrate.ledger",
             "audit.migrate.executor", "audit.scan.probe", "audit.fidelity", "audit.core.audio", "numpy",
             "soundfile", "xml", "pandas", "jinja2", "click", "pygments"),
    "plan": ("httpx", "audit.api", "audit.pipeline.cutover", "audit.cutover", "audit.report.junit",
             "audit.report.html", "audit.migrate.executor", "audit.fidelity.speaker", "pandas", "jinja2"),
    "apply": ("audit.pipeline.cutover", "audit.cutover", "audit.api.atoms", "audit.archive",
              "audit.report.junit", "audit.report.html", "pandas", "jinja2"),
    "retire": ("audit.pipeline.cutover", "audit.pipeline.apply", "audit.cutover", "audit.api.atoms",
               "audit.migrate.executor", "audit.fidelity", "audit.scan", "audit.core.audio", "numpy",
               "soundfile", "pandas", "jinja2"),
    "review": ("httpx", "audit.api", "asyncio", "audit.pipeline.cutover", "audit.cutover", "audit.core.audio",
               "numpy", "pandas", "jinja2"),
    "cutover": ("httpx", "audit.api", "asyncio", "audit.pipeline.agents", "audit.pipeline.scan", "audit.scan",
                "audit.report.junit", "audit.core.audio", "numpy", "pandas", "jinja2"),
    "report": ("httpx", "audit.api", "asyncio", "audit.pipeline", "audit.runs.store", "audit.report.html",
               "audit.core.audio", "numpy", "pandas", "jinja2", "platformdirs"),
    "demo": ("httpx", "audit.api", "audit.emulator", "audit.pipeline", "starlette", "uvicorn", "numpy", "pandas"),
    "completion": ("audit.pipeline", "audit.console", "rich", "httpx", "numpy", "shtab"),
}


def loaded_after(code: str) -> list[str]:
    """The modules a fresh interpreter holds after running `code` (an import blocked with None is not one)."""
    done = subprocess.run([sys.executable, "-c", SHOW.format(code=code)], capture_output=True, text=True,
                          timeout=120)
    line = next((line for line in done.stderr.splitlines() if line.startswith("LOADED ")), None)
    assert line is not None, done.stderr
    return ast.literal_eval(line.removeprefix("LOADED "))  # type: ignore[no-any-return]


def under(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == name or m.startswith(name + ".") for name in names)]


def test_every_command_module_is_checked() -> None:
    assert {module for module, _function in COMMANDS.values()} == set(NEVER)


@pytest.mark.parametrize("module", sorted(NEVER))
def test_a_command_module_loads_nothing_it_never_needs(module: str) -> None:
    modules = loaded_after(f"import audit.cli.commands.{module}")
    assert f"audit.cli.commands.{module}" in modules  # the probe sees the import (so the check can fail)
    assert under(modules, NEVER[module]) == []


@pytest.mark.parametrize("name", sorted({name for names in NEVER.values() for name in names}))
def test_each_name_kept_out_is_a_real_module(name: str) -> None:
    """A misspelt name would be absent whatever a command loads: each one names a module."""
    assert importlib.util.find_spec(name) is not None, name


def test_history_runs_without_a_client_numpy_or_a_renderer(tmp_path: Path) -> None:
    """`clone-audit history` reads the run store and prints: it loads no HTTP client, no
    numpy, pandas or jinja2, and no pipeline."""
    code = (f"from audit.cli import main\ncode = main(['history', '--out', {str(tmp_path)!r}])\n"
            "assert code == 0, code")
    modules = loaded_after(code)
    assert "audit.runs.store" in modules  # it ran
    assert under(modules, ("httpx", "audit.api", "numpy", "pandas", "jinja2", "audit.pipeline")) == []


def test_httpx_works_without_loading_its_own_command_line_client() -> None:
    """httpx's CLI (click, pygments) is never loaded by clone-audit; httpx itself imports and
    its client is there, with the stub `httpx.main` httpx defines when its CLI is absent."""
    code = ("import audit.cli.commands.scan, httpx\n"
            "assert sys.modules['httpx._main'] is None and callable(httpx.main)\n"
            "with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(204))) as c:\n"
            "    assert c.get('http://example.invalid/').status_code == 204")
    modules = loaded_after(code)
    assert "httpx" in modules and under(modules, ("click", "pygments")) == []


def test_a_whole_scan_never_loads_pandas(tmp_path: Path) -> None:
    """A scan through the CLI against the emulator, clones.csv, run.json and report.html
    included, writes its table with the csv module: pandas (half a second of imports) is never
    loaded. Other commands (plan, apply, report) may still build frames."""
    from audit.emulator import EmulatorServer

    out = tmp_path / "out"
    with EmulatorServer.with_org(n=20, seed=3, api_key="sk_test_imports_0123456789") as server:
        code = ("import os\nos.environ['SMALLEST_API_KEY'] = 'sk_test_imports_0123456789'\n"
                "from audit.cli import main\n"
                f"code = main(['scan', '--base-url', {server.base_url!r}, '--out', {str(out)!r}, '--fail-on', 'never'])\n"
                "assert code == 0, code")
        modules = loaded_after(code)
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    assert {"clones.csv", "run.json", "report.html"} <= {p.name for p in folder.iterdir()}  # it ran, and wrote
    assert "jinja2" in modules  # the probe sees what the report loads (so the check below can fail)
    assert under(modules, ("pandas",)) == []
