"""The command line as a user runs it: `clone_audit(*args, env=..., cwd=...)` runs
`python -m audit` in a child process (the caller's SMALLEST_* variables dropped, a wide
terminal) and returns what it printed and its exit code; `cli_env(server)` is the environment
that points it at an emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def clone_audit(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 180) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SMALLEST_")}
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=timeout,
        env={**base, "COLUMNS": "200", **(env or {})}, cwd=cwd,
    )


def cli_env(server: Any, **extra: str) -> dict[str, str]:
    """This process's environment without SMALLEST_* variables, pointed at `server` (its key and
    base URL), with a wide terminal and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMALLEST_")}
    env.update(SMALLEST_API_KEY=server.api_key, SMALLEST_BASE_URL=server.base_url, COLUMNS="200", **extra)
    return env
