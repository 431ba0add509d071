"""Memory benchmark: peak RSS and time of a scan's client side at 10,000 to 100,000 clones.

A scan of a very large organisation holds its voices twice over at most: the list as parsed,
and the rows of its reports. This measures, for each size, in fresh child processes (so each
peak is its own: the whole process, native memory included):
- `baseline`: the list answer (the generator's organisation, as `GET /waves/v1/voice-cloning`
  sends it) parsed and every clone classified and given its verdict from a probe result (the
  generator's ground truth): what the scan holds before it writes anything;
- `scan`: the same, then the report set written through the real pipeline (clones.csv,
  run.json, report.html, the history) and the scan's closing lines (warnings, usage).
No server and no TTS call: the probes' own cost is `bench/probe_cpu.py`'s and
`bench/throughput.py`'s. It prints each size's peak RSS, the scan's beside the baseline's
(×), its time per 1,000 voices, and from the smallest size to the largest how time and peak
grow against N (linear in N: the time per voice stays flat).

    python bench/scan_memory.py                          # 10,000 50,000 100,000
    python bench/scan_memory.py --sizes 10000 20000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Peak RSS of a 100,000-clone scan, report files included, should stay under this.
GOAL_MB = 400


def write_list(n: int, path: Path) -> None:
    """The generated organisation's list answer, as the emulator serves it."""
    from audit.emulator import generate_org

    org = generate_org(n, 7)
    truth = {c.voice_id: org.truth[c.voice_id][0].value for c in org.clones}
    path.write_text(json.dumps({"data": [c.to_json(0.0) for c in org.clones], "truth": truth}), encoding="utf-8")


def child(kind: str, path: Path) -> dict[str, float]:
    """One case, in this fresh process: its seconds and peak RSS (MiB)."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from audit.api.wire import parse_clone_list
    from audit.core.config import Settings
    from audit.core.models import AudioStats, ProbeResult, ProbeVerdict
    from audit.pipeline.scan import assess, write_scan_reports

    started = time.perf_counter()
    document = json.loads(path.read_bytes())
    clones = parse_clone_list(document.pop("data"))
    truth = document.pop("truth")
    del document
    probes = {}
    for clone in clones:
        verdict = ProbeVerdict(truth.get(clone.voice_id, ProbeVerdict.NOT_PROBED.value))
        if verdict is not ProbeVerdict.NOT_PROBED:
            speaks = verdict is ProbeVerdict.SPEAKS
            stats = AudioStats(147_470 if speaks else 160, 73_713 if speaks else 58, 24000,
                               3.071 if speaks else 0.002, -21.4 if speaks else -40.0, -3.2, 0.81 if speaks else 0.0)
            probes[clone.voice_id] = ProbeResult(verdict, f"{stats.duration_s:.2f} s of audio at {stats.rms_dbfs} dBFS",
                                                 200, stats, stats.n_bytes, model="lightning_v3.1",
                                                 probed_at=datetime.now(UTC).isoformat(timespec="seconds"))
    del truth
    run = replace(assess(clones, probes, Settings(), datetime.now(UTC)), account="bench")
    del probes
    if kind == "scan":
        with tempfile.TemporaryDirectory() as out:
            write_scan_reports(run, Path(out))
            run.warnings()
            run.lines()
    return {"seconds": time.perf_counter() - started,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "LIST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return 0
    rows = []
    print(f"{'clones':>8} {'baseline MiB':>13} {'scan MiB':>9} {'×':>5} {'scan s':>7} {'ms / 1,000 voices':>18}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"list-{n}.json"
            subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                            f"import scan_memory; from pathlib import Path; scan_memory.write_list({n}, Path({str(path)!r}))"],
                           check=True)
            measured = {}
            for kind in ("baseline", "scan"):
                done = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True,
                                      text=True, check=True)
                measured[kind] = json.loads(done.stdout.strip().splitlines()[-1])
            base, scan = measured["baseline"], measured["scan"]
            rows.append((n, scan["seconds"], scan["peak_mb"]))
            print(f"{n:>8,} {base['peak_mb']:>13.0f} {scan['peak_mb']:>9.0f} {scan['peak_mb'] / base['peak_mb']:>5.2f} "
                  f"{scan['seconds']:>7.1f} {1000 * scan['seconds'] / n * 1000:>18.0f}", flush=True)
    (n0, s0, m0), (n1, s1, m1) = rows[0], rows[-1]
    print(f"from {n0:,} to {n1:,} clones (×{n1 / n0:.1f}): time ×{s1 / s0:.2f}, peak RSS ×{m1 / m0:.2f}; "
          f"goal at 100,000: peak ≤ {GOAL_MB} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
