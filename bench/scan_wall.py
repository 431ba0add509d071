"""Wall-clock benchmark: a whole `clone-audit scan` as a person runs it, against the account's bound.

A scan of N voices against an account allowing C TTS calls at once, each taking L seconds,
cannot take less than `ceil(probes / C) × L` (the bound). This times, from the moment the
process is started to its exit (interpreter start, imports, settings, the list, every probe,
the report files and the history included), in fresh child processes against a fresh emulator
process per case (`clone-audit emulator --clones N --tts-concurrency C --tts-latency L`):
- `discovered`: `python -m audit scan` without `--concurrency` (a fresh state folder: no level
  remembered from an earlier run, so the limit is found by slow start and a 429);
- `ceiling 8`: `python -m audit scan --concurrency 8` (more than the account allows: a 429 lowers it);
- `bare`: a bare httpx client in a fresh interpreter (`python bench/scan_wall.py --bare`) that
  knows C, lists and sends the same TTS calls C at a time, bodies dropped: the baseline, from
  the same run.

Each case runs `--rounds` times, interleaved (one round runs every case once, so a busy machine
slows every case alike); it prints each case's median wall time, the bound, bound / wall
(the goal: at least 0.88 for the tool's two cases) and its ratio to the bare client's.

    python bench/scan_wall.py                            # 240 voices, C 3, L 0.1 s, 3 rounds
    python bench/scan_wall.py --clones 480 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import scan_scale  # bench/, beside this script: the emulator in a child process

LIST_PATH = "/waves/v1/voice-cloning"
TTS_PATH = "/waves/v1/tts"
#: bound / wall each of the tool's cases should reach.
GOAL = 0.88


async def bare(base_url: str, key: str, limit: int) -> int:
    """The baseline client: the list, then every speakable voice's TTS call, `limit` at once."""
    import httpx

    headers = {"Authorization": f"Bearer {key}", "Accept": "audio/wav"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60,
                                 limits=httpx.Limits(max_connections=limit + 2)) as http:
        clones = (await http.get(LIST_PATH)).json()["data"]
        speakable = [c["voiceId"] for c in clones if c.get("status") in (None, "completed")]
        gate = asyncio.Semaphore(limit)

        async def one(voice_id: str) -> int:
            async with gate:
                body = {"text": "Hello, this is a short check of this voice.", "voice_id": voice_id,
                        "model": "lightning_v3.1", "sample_rate": 24000, "output_format": "wav"}
                return (await http.post(TTS_PATH, json=body)).status_code

        codes = await asyncio.gather(*(one(v) for v in speakable))
    assert all(code == 200 for code in codes), codes
    return len(codes)


def one_case(kind: str, clones: int, limit: int, latency: float) -> tuple[float, int]:
    """Wall seconds of one case, process start to exit, and the TTS probes it made."""
    child, base_url, key = scan_scale.serve(clones, limit, "--tts-latency", str(latency))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "SMALLEST_API_KEY": key, "SMALLEST_BASE_URL": base_url,
                   "CLONE_AUDIT_STATE_DIR": str(Path(tmp) / "state")}
            if kind == "bare":
                argv = [__file__, "--bare", base_url, key, str(limit)]
            else:
                argv = ["-m", "audit", "scan", "--out", str(Path(tmp) / "out"), "--json",
                        *(["--concurrency", "8"] if kind == "ceiling 8" else [])]
            started = time.perf_counter()
            done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env)
            wall = time.perf_counter() - started
            if kind == "bare":
                probes = int(done.stdout.strip())
            else:
                assert done.returncode in (0, 1), done.stderr[-2000:]
                record = json.loads(Path(json.loads(done.stdout)["run_json"]).read_text(encoding="utf-8"))
                probes = int(record["cost"]["tts_probes"])
    finally:
        child.terminate()
        child.wait()
    return wall, probes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clones", type=int, default=240)
    parser.add_argument("--limit", type=int, default=3, help="TTS calls the account allows at once (default 3)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds each TTS call takes (default 0.1)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bare", nargs=3, metavar=("BASE_URL", "KEY", "LIMIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        print(asyncio.run(bare(args.bare[0], args.bare[1], int(args.bare[2]))))
        return 0
    cases = ("bare", "discovered", "ceiling 8")
    walls: dict[str, list[float]] = {c: [] for c in cases}
    probes: dict[str, int] = {}
    for _ in range(args.rounds):
        for kind in cases:
            wall, probes[kind] = one_case(kind, args.clones, args.limit, args.latency)
            walls[kind].append(wall)
    bare_wall = statistics.median(walls["bare"])
    print(f"{args.clones} voices, account limit {args.limit}, TTS {args.latency:g} s; median of {args.rounds} "
          f"rounds, process start to exit")
    print(f"{'case':<12}{'probes':>7}{'wall s':>8}{'bound s':>8}{'bound/wall':>11}{'× bare':>8}  goal ≥ {GOAL:g}")
    for kind in cases:
        wall = statistics.median(walls[kind])
        bound = math.ceil(probes[kind] / args.limit) * args.latency
        mark = "" if kind == "bare" else ("ok" if bound / wall >= GOAL else "under")
        print(f"{kind:<12}{probes[kind]:>7}{wall:>8.2f}{bound:>8.2f}{bound / wall:>11.2f}{wall / bare_wall:>8.2f}  {mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
