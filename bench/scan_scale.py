"""Scale benchmark: a scan of thousands of clones, time and memory, against baselines.

Serves the emulator in a child process (`clone-audit emulator`), so this process holds
only the client's side. For each size it measures, in the same run:
- the baseline: one list call and the classification of every clone (what a scan
  costs before any probe);
- the full scan: list, a TTS probe of every clone at the given concurrency, verdicts,
  and writing the three report files; with the peak RSS of the process that ran it (each size
  runs in a fresh child process, so its peak is its own: the whole process, native memory
  included, not only the Python heap, and no tracer slowing the scan down).
It prints the scan as a multiple of the baseline, the time per probed voice, and how
scan time and memory grow from the smallest size to the largest (linear is 1.0 per
doubling of the ratio of sizes).

    python bench/scan_scale.py --sizes 500 1000 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from audit.api.client import WavesClient
from audit.core.config import ApiSettings, Settings
from audit.core.secrets import Secret
from audit.pipeline.scan import scan_organisation, write_scan_reports
from audit.scan.rules import classify


def serve(clones: int, concurrency: int, *extra: str) -> tuple[subprocess.Popen[str], str, str]:
    """`clone-audit emulator` in a child process (`extra`: more of its flags); its base URL and key."""
    child = subprocess.Popen(
        [sys.executable, "-m", "audit", "emulator", "--clones", str(clones), "--seed", "7",
         "--tts-concurrency", str(concurrency), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ},
    )
    assert child.stdout is not None
    found: dict[str, str] = {}
    for line in child.stdout:
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").strip().partition("=")
            found[key] = value
        if len(found) == 2:
            break
    return child, found["SMALLEST_BASE_URL"], found["SMALLEST_API_KEY"]


async def measure(base_url: str, key: str, concurrency: int, out: Path) -> tuple[float, float, float, int]:
    settings = Settings(api=ApiSettings(base_url=base_url, concurrency=concurrency))
    async with WavesClient(settings.api, Secret(key)) as client:
        started = time.perf_counter()
        clones = await client.list_clones()
        _ = [classify(c) for c in clones]
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        run = await scan_organisation(client, settings)
        write_scan_reports(run, out)
        scan = time.perf_counter() - started
    probed = sum(1 for r in run.results if r.probe.verdict.value != "not-probed")
    return baseline, scan, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, probed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--child", nargs=2, metavar=("BASE_URL", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one size, in this fresh process: print its figures
        with tempfile.TemporaryDirectory() as out:
            base_url, key = args.child
            print(json.dumps(asyncio.run(measure(base_url, key, args.concurrency, Path(out)))))
        return 0
    rows = []
    for size in args.sizes:
        child, base_url, key = serve(size, args.concurrency)
        try:
            done = subprocess.run([sys.executable, __file__, "--concurrency", str(args.concurrency), "--child",
                                   base_url, key], capture_output=True, text=True, check=True)
        finally:
            child.terminate()
            child.wait()
        baseline, scan, peak_mb, probed = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((size, baseline, scan, peak_mb, probed))
        print(f"{size:6d} clones  list+classify {baseline:6.3f} s  scan {scan:7.2f} s (×{scan / baseline:5.0f})"
              f"  {1000 * scan / max(probed, 1):5.1f} ms per probed voice ({probed})  peak RSS {peak_mb:6.1f} MiB")
    (n0, _, s0, m0, _), (n1, _, s1, m1, _) = rows[0], rows[-1]
    print(f"from {n0} to {n1} clones (×{n1 / n0:.1f}): scan time ×{s1 / s0:.2f}, peak RSS ×{m1 / m0:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
