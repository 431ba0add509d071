"""Start-up benchmark: how long `clone-audit --version` and `--help` take beside a bare interpreter.

A person types `clone-audit --help` and waits; nothing a command needs should load before it
answers. This runs, N times each and interleaved (one round runs every case once, so a busy
machine slows every case alike), in fresh child processes of this interpreter:
- `bare`: `python -c pass`, the interpreter and its site (the baseline);
- `--version`, `--help`, `scan --help`: `python -m audit ...`, output dropped.

It prints each case's min and median wall time and its ratio to the bare interpreter
(median / median, from the same run). The goal: every ratio at most 3.

Then the fixed costs a scan pays before its first probe, each the median of `--runs` fresh
child processes: importing the scan command (its pipeline, the console), then what it loads
before its first probe (the HTTP client, the probe and its audio stack), the settings
(flags, config file, environment), the per-user state folder (the remembered concurrency),
the output folder's write check and the check of its history holding `--history` runs.

Last, each command's imports: `python -c "import audit.cli.commands.<module>"` for the module
that runs each command (`audit.cli.parser.COMMANDS`; commands sharing a module share its
figure), interleaved with `python -c pass` in the same rounds; each line the median wall time
and its ratio to that bare interpreter.

    python bench/startup.py                     # 15 rounds, a history of 1,000 runs
    python bench/startup.py --runs 40 --history 10000
"""

from __future__ import annotations

import argparse
import statistics
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES: dict[str, list[str]] = {
    "bare": ["-c", "pass"],
    "--version": ["-m", "audit", "--version"],
    "--help": ["-m", "audit", "--help"],
    "scan --help": ["-m", "audit", "scan", "--help"],
}

#: The ratio to the bare interpreter each case should stay at or under.
GOAL = 3.0


def once(argv: list[str]) -> float:
    """Wall seconds of one child process running `python <argv>`; it must exit 0."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(runs: int) -> dict[str, list[float]]:
    """Every case's wall times over `runs` interleaved rounds (one warm-up round dropped)."""
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for round_ in range(runs + 1):
        for name, argv in CASES.items():
            took = once(argv)
            if round_:
                times[name].append(took)
    return times


def table(times: dict[str, list[float]]) -> list[str]:
    bare = statistics.median(times["bare"])
    lines = [f"{'case':<14}{'min ms':>9}{'median ms':>11}{'× bare':>9}  goal ≤ {GOAL:g}×"]
    for name, values in times.items():
        median = statistics.median(values)
        ratio = median / bare
        mark = "" if name == "bare" else ("ok" if ratio <= GOAL else "over")
        lines.append(f"{name:<14}{min(values) * 1000:>9.1f}{median * 1000:>11.1f}{ratio:>9.2f}  {mark}")
    return lines


#: Run in a child process: the fixed costs of a scan before its first probe, in ms, as JSON.
FIXED = """
import json, sys, time
from pathlib import Path
start = time.perf_counter()
import audit.cli.commands.scan
imported = time.perf_counter()
import audit.api.client, audit.scan.probe
stack = time.perf_counter()
from audit.cli.parser import build_parser
from audit.cli.session import settings
from audit.core import userstate
from audit.core.runfolder import check_writable
from audit.core.secrets import Secret
from audit.runs.store import check_history
out = Path(sys.argv[1])
args = build_parser().parse_args(["scan", "--out", str(out)])
marks = [time.perf_counter()]
loaded = settings(args); marks.append(time.perf_counter())
userstate.remembered_limit(loaded.api.base_url, Secret("b" * 40), loaded.api.max_concurrency)
marks.append(time.perf_counter())
check_writable(out); marks.append(time.perf_counter())
check_history(out); marks.append(time.perf_counter())
names = ["settings", "state folder", "out folder check", "history check"]
costs = {"scan command imports": imported - start, "client, probe imports": stack - imported}
costs |= {n: b - a for n, a, b in zip(names, marks, marks[1:])}
print(json.dumps({k: v * 1000 for k, v in costs.items()}))
"""


def fill_history(out: Path, runs: int) -> None:
    """An output folder whose history holds `runs` recorded (failed) scans, filed as the CLI files one."""
    from datetime import UTC, datetime, timedelta

    from audit.core.errors import ExitCode
    from audit.runs import store
    from audit.runs.kind import RunKind
    from audit.runs.record import RunRecord

    first = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(runs):
        at = first + timedelta(minutes=i)
        store.record(out, RunRecord(kind=RunKind.SCAN, run_id=f"{at:%Y%m%dT%H%M%SZ}-{i:04x}", started_at=at,
                                    finished_at=at, base_url="http://127.0.0.1", exit_code=ExitCode.RUN_FAILED,
                                    error="failed"))


def fixed_costs(runs: int, history: int) -> list[str]:
    """The fixed costs of a scan before its first probe: the median of `runs` fresh processes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reports"
        out.mkdir()
        fill_history(out, history)
        samples: dict[str, list[float]] = {}
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-c", FIXED, str(out)], capture_output=True, text=True, check=True,
                                  env={**os.environ, "CLONE_AUDIT_STATE_DIR": str(Path(tmp) / "state")})
            for name, ms in json.loads(done.stdout).items():
                samples.setdefault(name, []).append(ms)
    lines = [f"before a scan's first probe (median of {runs}; history of {history:,} runs)"]
    lines += [f"  {name:<22}{statistics.median(values):>9.1f} ms" for name, values in samples.items()]
    return lines


def command_modules() -> dict[str, list[str]]:
    """Each module of `audit.cli.commands` and the commands it runs, in the parser's order."""
    from audit.cli.parser import COMMANDS

    modules: dict[str, list[str]] = {}
    for name, (module, _function) in COMMANDS.items():
        modules.setdefault(module, []).append(name)
    return modules


def command_imports(runs: int) -> list[str]:
    """Each command module's import in a fresh process beside a bare interpreter, `runs` interleaved rounds."""
    modules = command_modules()
    cases = {"bare": ["-c", "pass"]} | {m: ["-c", f"import audit.cli.commands.{m}"] for m in modules}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(runs + 1):
        for name, argv in cases.items():
            took = once(argv)
            if round_:
                times[name].append(took)
    bare = statistics.median(times["bare"])
    lines = [f"each command's imports (median of {runs}; bare {bare * 1000:.1f} ms)",
             f"  {'command (module)':<24}{'median ms':>11}{'× bare':>9}"]
    for module, commands in modules.items():
        median = statistics.median(times[module])
        for command in commands:
            label = command if command == module else f"{command} ({module})"
            lines.append(f"  {label:<24}{median * 1000:>11.1f}{median / bare:>9.2f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="rounds of every case (default 15)")
    parser.add_argument("--history", type=int, default=1000, help="runs in the history checked (default 1000)")
    args = parser.parse_args(argv)
    times = measure(args.runs)
    print(f"{args.runs} runs each, interleaved, {Path(sys.executable).name} {sys.version.split()[0]}")
    print("\n".join(table(times)))
    print("\n".join(fixed_costs(args.runs, args.history)))
    print("\n".join(command_imports(args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
