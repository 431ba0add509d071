"""Apply throughput: voices migrated per minute against an emulator with realistic latencies.

Each case serves a fresh emulator in a child process (an organisation of `--clones` clones with
its archive of recordings; creates answer after `--create-latency` s, a new clone processes for
`--processing` s, TTS takes `--tts-latency` s, the account allows `--limit` TTS calls at once),
makes a plan with the real CLI, then times the real `clone-audit apply PLAN --yes`:

- `sequential`: `--concurrency 1` and `[apply] max_in_progress = 1`, one voice after another:
  create, wait for the clone, verify, then the next (the baseline, measured in the same run);
- `given`: `--concurrency` the account's limit;
- `found`: no `--concurrency`, the limit found while working.

It prints, per case: voices verified, apply wall time, voices per minute, the speed-up over the
sequential baseline, and the bound: one after another, a voice cannot take less than the longer
of its create and its processing, plus one verification probe; at once, the tool keeps at most C requests in flight
(creates included, since the API does not say they are exempt), so no more than
C / (create + probe latency) voices a second get through.

    python bench/apply_rate.py --clones 120 --limit 4
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import scan_scale  # bench/, beside this script: the emulator in a child process


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, text=True, env=env, check=False)


def case(kind: str, args: argparse.Namespace, work: Path) -> dict[str, float]:
    archive, out = work / "archive", work / "reports"
    child, base_url, key = scan_scale.serve(
        args.clones, args.limit, "--tts-latency", str(args.tts_latency), "--create-latency", str(args.create_latency),
        "--clone-processing", str(args.processing), "--archive", str(archive),
    )
    env = {**os.environ, "SMALLEST_API_KEY": key, "SMALLEST_BASE_URL": base_url,
           "CLONE_AUDIT_STATE_DIR": str(work / "state")}
    try:
        planned = cli("plan", "--archive", str(archive), "--out", str(out), "--concurrency", str(args.limit), env=env)
        (plan,) = out.glob("*/plan.json") or [None]
        if plan is None:
            raise SystemExit(f"plan failed ({planned.returncode}): {planned.stderr[-2000:]}")
        one_by_one = work / "sequential.toml"
        one_by_one.write_text("[apply]\nmax_in_progress = 1\n", encoding="utf-8")
        flags = {"sequential": ["--concurrency", "1", "--config", str(one_by_one)],
                 "given": ["--concurrency", str(args.limit)], "found": []}[kind]
        started = time.perf_counter()
        applied = cli("apply", str(plan), "--yes", "--quiet", *flags, env=env)
        wall = time.perf_counter() - started
    finally:
        child.terminate()
        child.wait()
    with (plan.parent / "mapping.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    verified = sum(1 for r in rows if r["status"] in ("ready", "verified"))
    if applied.returncode not in (0, 1):
        print(f"  apply exited {applied.returncode}: {applied.stderr[-500:]}", file=sys.stderr)
    return {"voices": len(rows), "verified": verified, "wall": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=int, default=120, help="clones in the organisation (default 120)")
    parser.add_argument("--limit", type=int, default=4, help="TTS calls the account allows at once (default 4)")
    parser.add_argument("--tts-latency", type=float, default=0.5, help="seconds per TTS call (default 0.5)")
    parser.add_argument("--create-latency", type=float, default=2.0, help="seconds per create (default 2)")
    parser.add_argument("--processing", type=float, default=3.0, help="seconds a new clone processes (default 3)")
    parser.add_argument("--kinds", nargs="+", default=["sequential", "given", "found"])
    args = parser.parse_args()
    # The emulator starts processing a clone as the create arrives (0.5 s pending, then processing),
    # before the create's answer is delayed: a voice is ready after the longer of the two.
    floor_s = max(args.create_latency, 0.5 + args.processing) + args.tts_latency
    print(f"{'case':>10} {'voices':>6} {'verified':>8} {'wall s':>7} {'voices/min':>10} {'x seq':>6} "
          f"{'bound/min':>9}", flush=True)
    baseline = math.nan
    for kind in args.kinds:
        with tempfile.TemporaryDirectory() as work:
            r = case(kind, args, Path(work))
        rate = 60 * r["verified"] / r["wall"]
        if kind == "sequential":
            baseline = rate
        bound = 60 / floor_s if kind == "sequential" else 60 * args.limit / (args.create_latency + args.tts_latency)
        print(f"{kind:>10} {r['voices']:6.0f} {r['verified']:8.0f} {r['wall']:7.1f} {rate:10.1f} "
              f"{rate / baseline:6.2f} {bound:9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
