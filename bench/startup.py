"""Start-up benchmark: how long `clone-audit --version` and `--help` take beside a bare interpreter.

A person types `clone-audit --help` and waits; nothing a command needs should load before it
answers. This runs, N times each and interleaved (one round runs every case once, so a busy
machine slows every case alike), in fresh child processes of this interpreter:
- `bare`: `python -c pass`, the interpreter and its site (the baseline);
- `--version`, `--help`, `scan --help`: `python -m audit ...`, output dropped.

It prints each case's min and median wall time and its ratio to the bare interpreter
(median / median, from the same run). The goal: every ratio at most 3.

    python bench/startup.py             # 15 rounds
    python bench/startup.py --runs 40
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="rounds of every case (default 15)")
    args = parser.parse_args(argv)
    times = measure(args.runs)
    print(f"{args.runs} runs each, interleaved, {sys.executable.rsplit('/', 1)[-1]} {sys.version.split()[0]}")
    print("\n".join(table(times)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
