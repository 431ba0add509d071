"""Crash trials: SIGKILL `clone-audit scan` and `clone-audit apply` at random moments.

Scan: serves the emulator (in this process) with a generated organisation, measures one
uninterrupted scan, then starts `clone-audit scan` again and again and kills each with
SIGKILL somewhere between start-up and the end of the work. After every kill it checks the
output folder: every run folder a reader can see holds the whole report set (run.json that
parses, clones.csv, report.html), never a part of one; staging folders of killed runs are
the only leftovers. Finally, once the staging grace has passed, one more scan runs to the
end and must leave no staging folder behind.

Apply: the same SIGKILL loop over a migration (bench/kill_apply.py), checking after every
kill that the ledger passes SQLite's integrity check, and at the end that every voice has
exactly one new clone and every pair is in the mapping.

    python bench/crash_trials.py --scan-kills 30 --apply-kills 30 --voices 100

Prints one line per part and the totals; exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from audit.core.runfolder import STALE_GRACE_S
from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, generate_org

REPORT_SET = ("run.json", "clones.csv", "report.html")


@dataclass(frozen=True)
class ScanTrials:
    kills: int
    killed_mid_run: int  # kills that landed before the run finished
    partial_sets: int  # visible run folders missing a file or holding unreadable run.json
    leftovers_at_end: int  # staging folders left after the final, complete scan
    complete_sets: int
    baseline_s: float


def scan_trials(kills: int, clones: int, seed: int, work: Path, age_staging: bool = False) -> ScanTrials:
    """`kills` SIGKILLed scans of `clones` clones, then one complete scan once the staging grace
    has passed: waited out in real time, or with `age_staging` the killed runs' staging folders
    dated STALE_GRACE_S + 1 s back (their mtime, all the cleaner reads of their age) at once."""
    rng = random.Random(seed)
    org = generate_org(clones, seed)
    config = EmulatorConfig(seed=seed, tts_concurrency=4, latency={"tts": 0.01})
    out = work / "reports"
    with EmulatorServer(EmulatorState(config, org.clones)) as server:
        env = {**os.environ, "SMALLEST_API_KEY": server.api_key}
        command = [sys.executable, "-m", "audit", "scan", "--out", str(out), "--base-url", server.base_url,
                   "--concurrency", "4"]
        started = time.monotonic()
        subprocess.run(command, env=env, capture_output=True, timeout=600)
        baseline = time.monotonic() - started
        partial = mid_run = 0
        for _ in range(kills):
            child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(baseline * rng.uniform(0.2, 0.75))  # inside the work, whatever the machine's load
            mid_run += child.poll() is None
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
            child.wait()
            partial += _partial_sets(out)
        if age_staging:
            aged = time.time() - STALE_GRACE_S - 1
            for staging in out.glob(".*.partial") if out.exists() else ():
                os.utime(staging, (aged, aged))
        else:
            time.sleep(STALE_GRACE_S + 1)  # the next run may now remove the killed runs' staging
        subprocess.run(command, env=env, capture_output=True, timeout=600)
        partial += _partial_sets(out)
    leftovers = [p for p in out.iterdir() if p.name.endswith(".partial")]
    complete = sum(1 for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))
    return ScanTrials(kills, mid_run, partial, len(leftovers), complete, baseline)


def _partial_sets(out: Path) -> int:
    """Run folders a reader can see that do not hold a whole, readable report set."""
    bad = 0
    for folder in (p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) if out.exists() else ():
        try:
            whole = all((folder / name).is_file() for name in REPORT_SET)
            whole = whole and "voices" in json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            whole = False
        bad += not whole
    return bad


def _kill_apply():  # noqa: ANN202
    path = Path(__file__).with_name("kill_apply.py")
    spec = importlib.util.spec_from_file_location("kill_apply", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan-kills", type=int, default=30)
    parser.add_argument("--apply-kills", type=int, default=30)
    parser.add_argument("--clones", type=int, default=400, help="clones in the scanned organisation")
    parser.add_argument("--voices", type=int, default=100, help="voices migrated in the apply trials")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scan_work, tempfile.TemporaryDirectory() as apply_work, \
            tempfile.TemporaryDirectory() as state:
        os.environ.setdefault("CLONE_AUDIT_STATE_DIR", state)  # locks and seal key: not the user's own
        s = scan_trials(args.scan_kills, args.clones, args.seed, Path(scan_work))
        a = _kill_apply().migrate(args.voices, args.apply_kills, args.seed, Path(apply_work))
    print(f"scan  × {s.kills} SIGKILL ({s.killed_mid_run} mid-run; uninterrupted scan {s.baseline_s:.1f} s, "
          f"{args.clones} clones): partial report sets seen {s.partial_sets}, staging left at the end "
          f"{s.leftovers_at_end}, complete sets {s.complete_sets}")
    print(f"apply × {a.kills} SIGKILL ({a.voices} voices, {a.runs} runs, {a.seconds:.1f} s): damaged ledgers "
          f"{a.integrity_failures}, duplicates {a.duplicates}, missing {a.missing}, "
          f"mapping ready {a.mapping_pairs}/{a.voices}, mismatches {a.mapping_mismatches}, "
          f"creates sent {a.creates_sent}")
    ok = (s.partial_sets == 0 and s.leftovers_at_end == 0 and a.integrity_failures == 0 and a.duplicates == 0
          and a.missing == 0 and a.mapping_pairs == a.voices and a.mapping_mismatches == 0)
    print(f"{'OK' if ok else 'FAILED'}: {s.kills + a.kills} trials")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
