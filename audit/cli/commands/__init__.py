"""One module per command (or pair of commands): parse → call the pipeline → print → exit code.

Each `run_<command>(args) -> int` builds what its pipeline needs (`audit.cli.session`),
calls it, prints the result's own `lines()` and returns the exit code held in the run's
record. Imported one at a time by `audit.cli.entry` when its command runs.

Before any command module loads, httpx's own command-line client (`httpx._main`: click,
pygments, rich's syntax) is left out of the process: `import httpx` tries it and, when it
cannot be imported, defines a stub `httpx.main` instead, as it does where the `httpx[cli]` extra
is not installed. A `None` in `sys.modules` makes that import fail (the import system's
documented way to block one); it is set only when httpx is not loaded yet, and nothing in
clone-audit runs httpx's CLI. `tests/cli/test_command_imports.py` checks that httpx still
works and that click stays out.

May import: everything the CLI may (pipelines, the console, `audit.cli.session` and
`audit.cli.output`); nothing imports a command module but `audit.cli.entry`.
"""

import sys

if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
