"""Throughput benchmark: how close a scan gets to the account's physical limit.

A scan of N probes against an account allowing C TTS calls at once, each taking L seconds,
cannot take less than `list + ceil(N / C) × L` (the bound). For every (N, C, L) this measures,
in the same run and against the same emulator settings:
- `given`: the tool with `--concurrency C`;
- `found`: the tool discovering C (no `--concurrency`);
and once per (N, L):
- `naive`: a sequential loop of TTS calls, as the vendor's examples do (httpx, one at a time),
  over the first `--naive-probes` voices (default 200), its wall time extrapolated to all N
  (marked `est`): sequential at 0.2 s a call, 10,000 voices would take 33 minutes to confirm
  what 200 already show;
- `bare`: the HTTP stack alone (httpx.AsyncClient, C calls at once, bodies dropped), at the
  highest C: the CPU a probe costs before the tool judges or records anything;
- `wrong`: the tool with `--concurrency 8` against an account that allows 2.

It prints wall time, the bound, efficiency (bound / wall; the emulator holds each TTS slot
exactly L, its rendering included), the speed-up over the naive loop, requests sent, 429s, voices left
unchecked, the client's CPU per probe (user + system time of the client process during the
scan, the emulator excluded: it runs in its own process), the part of it spent judging answers
(`judge ms`: thread CPU time of the verdicts, decoding and speech detection included) and the client's peak RSS, the report
files (html, csv, json) written after the scan included. Every case runs in a fresh client
process (so peak RSS is that case's) against a fresh emulator process.

    python bench/throughput.py                                  # N 1000 10000, C 1 4 10, L 0.2 0.05
    python bench/throughput.py --sizes 1000 --limits 4 10 --latencies 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import scan_scale  # bench/, beside this script: the emulator in a child process
from probe_cpu import time_the_judge  # bench/, beside this script

LIST_PATH = "/waves/v1/voice-cloning"
TTS_PATH = "/waves/v1/tts"


def serve(clones: int, limit: int, latency: float) -> tuple[subprocess.Popen[str], str, str]:
    return scan_scale.serve(clones, limit, "--tts-latency", str(latency))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_tool(base_url: str, key: str, concurrency: int) -> dict[str, object]:
    from audit.api.client import WavesClient
    from audit.core.config import ApiSettings, Settings
    from audit.core.models import ProbeVerdict
    from audit.core.secrets import Secret
    from audit.pipeline.scan import scan_organisation, write_scan_reports

    judged = [0.0]  # CPU seconds spent judging answers (on the event loop and the judging thread)
    time_the_judge(judged)

    settings = Settings(api=ApiSettings(base_url=base_url, concurrency=concurrency))
    async with WavesClient(settings.api, Secret(key)) as client:
        cpu, started = _cpu(), time.perf_counter()
        run = await scan_organisation(client, settings)
        wall, cpu = time.perf_counter() - started, _cpu() - cpu
        report = client.concurrency()
    with tempfile.TemporaryDirectory() as out:  # the whole job: its peak RSS includes the reports
        write_scan_reports(run, Path(out))
    probed = [r for r in run.results if r.probe.verdict is not ProbeVerdict.NOT_PROBED]
    return {
        "wall": wall, "cpu": cpu, "judge": judged[0], "probes": len(probed), "requests": report.requests + 0,
        "r429": report.refused, "unchecked": sum(r.probe.verdict is ProbeVerdict.ERROR for r in probed),
        "found": report.found,
    }


def tts_body(voice_id: str) -> dict[str, object]:
    """The baselines' TTS request: the vendor's example, one short sentence as WAV."""
    return {"text": "Hello, this is a short check of this voice.", "voice_id": voice_id,
            "model": "lightning_v3.1", "sample_rate": 24000, "output_format": "wav"}


def run_naive(base_url: str, key: str, sample: int) -> dict[str, object]:
    """The vendor's example, in a loop: one TTS call after another, no retry, over the first
    `sample` speakable voices; the wall time is extrapolated to all of them."""
    headers = {"Authorization": f"Bearer {key}", "Accept": "audio/wav"}
    requests = refused = failed = 0
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        cpu, started = _cpu(), time.perf_counter()
        clones = http.get(LIST_PATH).json()["data"]
        requests += 1
        speakable = [c for c in clones if c.get("status") in (None, "completed")]
        listed = time.perf_counter() - started
        for clone in speakable[:sample]:
            answer = http.post(TTS_PATH, json=tts_body(clone["voiceId"]))
            requests += 1
            refused += answer.status_code == 429
            failed += answer.status_code != 200
        wall, cpu = time.perf_counter() - started, _cpu() - cpu
    done = max(1, min(sample, len(speakable)))
    scale = len(speakable) / done
    return {"wall": listed + (wall - listed) * scale, "cpu": cpu * scale, "probes": len(speakable),
            "requests": round(1 + (requests - 1) * scale), "r429": round(refused * scale),
            "unchecked": round(failed * scale), "found": "-", "sampled": done}


async def run_bare(base_url: str, key: str, concurrency: int) -> dict[str, object]:
    """The HTTP stack alone: httpx.AsyncClient, `concurrency` TTS calls at once, bodies read and
    dropped (no verdict, no retry): what a probe's CPU costs before the tool does anything."""
    headers = {"Authorization": f"Bearer {key}", "Accept": "audio/wav"}
    limits = httpx.Limits(max_connections=concurrency + 2)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=limits) as http:
        cpu, started = _cpu(), time.perf_counter()
        clones = (await http.get(LIST_PATH)).json()["data"]
        speakable = [c for c in clones if c.get("status") in (None, "completed")]
        gate = asyncio.Semaphore(concurrency)

        async def one(voice_id: str) -> int:
            async with gate:
                answer = await http.post(TTS_PATH, json=tts_body(voice_id))
                return answer.status_code

        codes = await asyncio.gather(*(one(c["voiceId"]) for c in speakable))
        wall, cpu = time.perf_counter() - started, _cpu() - cpu
    return {"wall": wall, "cpu": cpu, "probes": len(speakable), "requests": len(codes) + 1,
            "r429": codes.count(429), "unchecked": sum(c != 200 for c in codes), "found": "-"}


def child_main(args: argparse.Namespace) -> int:
    """One case, in this process: prints one JSON line."""
    if args.kind == "naive":
        result = run_naive(args.base_url, args.key, args.naive_probes)
    elif args.kind == "bare":
        result = asyncio.run(run_bare(args.base_url, args.key, args.concurrency))
    else:
        result = asyncio.run(run_tool(args.base_url, args.key, args.concurrency))
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
    return 0


def case(kind: str, n: int, account: int, latency: float, concurrency: int, naive_probes: int) -> dict[str, object]:
    child, base_url, key = serve(n, account, latency)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--base-url", base_url, "--key", key,
             "--concurrency", str(concurrency), "--naive-probes", str(naive_probes)],
            capture_output=True, text=True, check=True, env={**os.environ, "SMALLEST_API_KEY": key},
        )
    finally:
        child.terminate()
        child.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--limits", type=int, nargs="+", default=[1, 4, 10])
    parser.add_argument("--latencies", type=float, nargs="+", default=[0.2, 0.05])
    parser.add_argument("--kinds", nargs="+", default=["given", "found", "naive", "bare", "wrong"])
    parser.add_argument("--naive-probes", type=int, default=200, help="voices the naive loop probes (default 200)")
    parser.add_argument("--child", dest="kind", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kind:
        return child_main(args)
    print(f"{'case':>6} {'N':>6} {'C':>3} {'L s':>5} {'wall s':>8} {'bound s':>8} {'eff':>5} {'x naive':>8} {'requests':>8} "
          f"{'429s':>6} {'unchecked':>9} {'CPU ms/probe':>12} {'judge ms':>8} {'RSS MB':>7} {'C found':>9}", flush=True)
    plan: list[tuple[str, int, int, float, int]] = []
    for latency in args.latencies:
        for n in args.sizes:
            for limit in args.limits:
                plan += [(k, n, limit, latency, {"given": limit, "found": 0}[k])
                         for k in args.kinds if k in ("given", "found")]
            if "naive" in args.kinds:  # sequential: the account's limit does not matter
                plan.append(("naive", n, 1, latency, 0))
            if "bare" in args.kinds:  # the HTTP stack's own CPU, at the highest limit
                plan.append(("bare", n, max(args.limits), latency, max(args.limits)))
            if "wrong" in args.kinds:
                plan.append(("wrong", n, 2, latency, 8))
    naive_wall: dict[tuple[int, float], float] = {}  # the baseline of each (N, L), measured first
    plan.sort(key=lambda p: (p[3], p[1], p[0] != "naive"))
    for kind, n, limit, latency, concurrency in plan:
        r = case(kind, n, limit, latency, concurrency, args.naive_probes)
        wall, probes = float(r["wall"]), max(int(r["probes"]), 1)  # type: ignore[arg-type,call-overload]
        bound = math.ceil(probes / (1 if kind == "naive" else limit)) * latency  # naive: sequential
        judge_ms = f"{1000 * float(r['judge']) / probes:8.2f}" if "judge" in r else f"{'-':>8}"  # type: ignore[arg-type]
        if kind == "naive":
            naive_wall[(n, latency)] = wall
        speedup = naive_wall.get((n, latency), math.nan) / wall
        print(f"{kind:>6} {n:6d} {limit:3d} {latency:5.2f} {wall:8.1f} {bound:8.1f} {bound / wall:5.2f} "
              f"{speedup:8.1f} {r['requests']:>8} {r['r429']:>6} {r['unchecked']:>9} "
              f"{1000 * float(r['cpu']) / probes:12.2f} {judge_ms} {float(r['rss_mb']):7.0f} {r['found']:>9}"  # type: ignore[arg-type]
              + (f" (est. from the first {r['sampled']})" if kind == "naive" else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
