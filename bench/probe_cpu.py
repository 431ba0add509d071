"""Probe CPU benchmark: the client's CPU per probe, clone-audit's probe path against a bare httpx client.

The emulator runs in its own process (`clone-audit emulator`), so its CPU is not counted; this
process holds only the client's side. Against that one server, in the same run, interleaved
(one round runs both cases, after a warm-up round that is dropped), it measures the CPU time
(user + system, every thread: the judging thread included) of:
- `bare`: httpx.AsyncClient, C TTS calls at once, the same request bodies clone-audit sends,
  each answer's body read and dropped: the HTTP stack's own cost per probe (the baseline);
- `tool`: `scan_organisation` (list, classify, every probe through the client's transport,
  limiter and breaker, each answer judged from its decoded frames and the speech detector,
  the verdicts), with `--concurrency C`; no report files;
and prints each one's CPU ms per probe (the median over the rounds), the tool's ratio to the
bare stack (the goal: at most 1.5), and the part of the tool's CPU spent judging answers
(thread CPU time of decoding, measuring and listening, on the event loop and the judging thread). `--profile` adds a cProfile of one more round of the tool.

    python bench/probe_cpu.py                     # 400 voices, C 4, 5 rounds
    python bench/probe_cpu.py --clones 1000 --rounds 3 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import scan_scale  # bench/, beside this script: the emulator in a child process

LIST_PATH = "/waves/v1/voice-cloning"
TTS_PATH = "/waves/v1/tts"
#: The tool's CPU per probe, as a multiple of the bare stack's, should stay at or under this.
GOAL = 1.5


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bare(base_url: str, key: str, concurrency: int) -> tuple[float, int]:
    """CPU seconds and probes of the bare stack: the list, then every probe's TTS call."""
    import httpx

    from audit.api.wire import tts_body
    from audit.core.config import ProbeSettings
    from audit.core.pools import probe_model
    from audit.scan import rules
    from audit.scan.probe import PROBE_FORMAT, probe_text

    settings = ProbeSettings()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency + 2)) as http:
        started = cpu()
        answer = await http.get(LIST_PATH)
        from audit.api.wire import parse_clone_list
        clones = parse_clone_list(answer.json()["data"])
        targets = [c for c in clones if rules.should_probe(c, rules.classify(c), settings.policy)]
        gate = asyncio.Semaphore(concurrency)

        async def one(clone: object) -> int:
            text, language = probe_text(clone, settings.texts)  # type: ignore[arg-type]
            body = tts_body(clone.voice_id, text, model=probe_model(clone.model_ids, settings.model),  # type: ignore[attr-defined]
                            sample_rate=settings.sample_rate, language=language, output_format=PROBE_FORMAT)
            async with gate:
                reply = await http.post(TTS_PATH, json=body, headers={"Accept": "audio/wav"})
                return len(reply.content)

        await asyncio.gather(*(one(c) for c in targets))
        return cpu() - started, len(targets)


async def tool(base_url: str, key: str, concurrency: int) -> tuple[float, int, float]:
    """CPU seconds, probes and judging CPU seconds of clone-audit's scan, reports left out."""
    from audit.api.client import WavesClient
    from audit.core.config import ApiSettings, Settings
    from audit.core.secrets import Secret
    from audit.pipeline.scan import scan_organisation

    settings = Settings(api=ApiSettings(base_url=base_url, concurrency=concurrency))
    async with WavesClient(settings.api, Secret(key)) as client:
        started = cpu()
        judged[0] = 0.0
        run = await scan_organisation(client, settings)
        spent = cpu() - started
    return spent, int((run.cost or {})["tts_probes"]), judged[0]


judged = [0.0]


def time_the_judge(counter: list[float]) -> None:
    """Add to `counter[0]` the thread CPU of judging: `start_judging` (decode, measure) and the
    speech detector's listening, on the event loop and on the judging thread alike."""
    from audit.scan import probe

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            started = time.thread_time()
            try:
                return fn(*args)
            finally:
                counter[0] += time.thread_time() - started
        return run

    probe.start_judging = timed(probe.start_judging)  # type: ignore[assignment]
    probe.SpeechPending.listen = timed(probe.SpeechPending.listen)  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clones", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one more round of the tool")
    args = parser.parse_args()
    time_the_judge(judged)
    child, base_url, key = scan_scale.serve(args.clones, args.concurrency)
    try:
        bare_ms: list[float] = []
        tool_ms: list[float] = []
        judge_ms: list[float] = []
        for round_ in range(args.rounds + 1):  # round 0 warms up (imports, the speech model), dropped
            spent, probes = asyncio.run(bare(base_url, key, args.concurrency))
            used, tool_probes, judging = asyncio.run(tool(base_url, key, args.concurrency))
            if round_:
                bare_ms.append(1000 * spent / probes)
                tool_ms.append(1000 * used / tool_probes)
                judge_ms.append(1000 * judging / tool_probes)
        if args.profile:
            profiler = cProfile.Profile(time.thread_time)  # the event loop's CPU (judging runs on its own thread)
            profiler.enable()
            asyncio.run(tool(base_url, key, args.concurrency))
            profiler.disable()
    finally:
        child.terminate()
        child.wait()
    b, t, j = statistics.median(bare_ms), statistics.median(tool_ms), statistics.median(judge_ms)
    print(f"{args.clones} voices ({probes} probed), C {args.concurrency}; median of {args.rounds} rounds, "
          f"client CPU (user + system) per probe")
    print(f"  bare httpx  {b:6.2f} ms")
    print(f"  clone-audit {t:6.2f} ms  (judging {j:.2f} ms, the rest {t - j:.2f} ms)")
    print(f"  ratio       {t / b:6.2f} ×  goal ≤ {GOAL:g}×  {'ok' if t / b <= GOAL else 'over'}")
    if args.profile:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
