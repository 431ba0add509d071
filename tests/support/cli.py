"""The command line as a user runs it: `clone_audit(*args, env=..., cwd=...)` runs
`python -m audit` in a child process (the caller's SMALLEST_* variables dropped, a wide
terminal) and returns what it printed and its exit code; `cli_env(server)` is the environment
that points it at an emulator; `planned_account(...)` an emulated organisation scanned and
planned through it; `run_history(out)` the runs `history --json` lists, and `recorded(done, kind,
out)` the run.json a command says it wrote, checked against its exit code and the history
(`run_document(done, kind)` the run.json check alone)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
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


@contextlib.contextmanager
def planned_account(tmp_path: Path, key: str, n: int, seed: int, **config: Any) -> Iterator[Planned]:
    """An emulated organisation of `n` clones (seed `seed`, `config` knobs, creates that finish
    in a tenth of a second) with its archive, scanned and planned through the command line into
    `tmp_path/out`: what a migration test starts from."""
    from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, generate_org
    from tests.support.archive import archive_for

    org = generate_org(n, seed)
    archive_for(org, tmp_path / "archive", seed)
    knobs = {"pending_s": 0.05, "processing_s": 0.05, "tts_concurrency": 2, **config}
    out = tmp_path / "out"
    with EmulatorServer(EmulatorState(EmulatorConfig(api_key=key, **knobs), org.clones)) as server:
        env = {"SMALLEST_API_KEY": key, "SMALLEST_BASE_URL": server.base_url}
        scanned = clone_audit("scan", "--out", str(out), env=env)
        planned = clone_audit("plan", "--archive", str(tmp_path / "archive"), "--out", str(out), env=env)
        yield Planned(server, env, out, next(out.glob("*/plan.json")), scanned, planned)


@dataclasses.dataclass(frozen=True)
class Planned:
    server: Any  # the EmulatorServer
    env: dict[str, str]  # the key and base URL for clone_audit
    out: Path  # the output folder
    plan_file: Path
    scanned: subprocess.CompletedProcess[str]
    planned: subprocess.CompletedProcess[str]


def run_history(out: Path) -> list[dict[str, Any]]:
    """The runs `clone-audit history --out OUT --json` lists."""
    done = clone_audit("history", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def run_document(done: subprocess.CompletedProcess[str], kind: str) -> dict[str, Any]:
    """The run.json the command says it wrote (its last stdout line), checked against its kind
    and exit code; returns it."""
    lines = done.stdout.rstrip("\n").splitlines()
    assert lines and lines[-1].startswith("Run: "), done.stdout + done.stderr
    run_json = Path(lines[-1].removeprefix("Run: "))
    document: dict[str, Any] = json.loads(run_json.read_text(encoding="utf-8"))
    assert (document["kind"], document["exit_code"]) == (kind, done.returncode), done.stdout + done.stderr
    return document


def recorded(done: subprocess.CompletedProcess[str], kind: str, out: Path,
             history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The run the command says it wrote (its last stdout line), checked against its exit code
    in run.json and in `history --json` (`history`: what it listed, asked once after several
    runs, a history row being written once per run; asked here when None); returns its run.json."""
    document = run_document(done, kind)
    run_json = Path(done.stdout.rstrip("\n").splitlines()[-1].removeprefix("Run: "))
    (entry,) = [r for r in (run_history(out) if history is None else history) if r["run_id"] == document["run_id"]]
    assert (entry["kind"], entry["exit_code"], entry["failed"]) == (kind, done.returncode, False)
    assert Path(entry["folder"]).resolve() == run_json.parent.resolve()
    return document
