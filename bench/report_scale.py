"""How big is the HTML report of a large organisation, and how fast does a browser show it?

    python bench/report_scale.py --voices 10000

Builds an organisation with the emulator's generator (no server: each clone gets the probe
answer its engine would give), records three scans of it in a history (the third with some
voices fixed and some regressed, so the trend and the change columns are full), writes the
third scan's report set through the real pipeline, then opens report.html in headless
Chromium (Playwright driving Debian's `chromium`) and measures the time until the page's
script has sorted, filtered and counted every row. Prints the file size and the render time
(goal: under 10 MB and under 5 s at 10,000 voices).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit.api.wire import parse_clone
from audit.core.config import ProbeSettings, Settings
from audit.core.models import AudioStats, ProbePolicy, ProbeResult, ProbeVerdict
from audit.emulator import generate_org
from audit.pipeline.scan import ScanRun, assess, write_scan_reports

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _probe(verdict: ProbeVerdict, rng: random.Random) -> ProbeResult:
    if verdict is ProbeVerdict.SHORT_WAV:
        n = rng.randint(96, 180)
        return ProbeResult(verdict, f"HTTP 200 but only {n} bytes", 200, AudioStats(n, 40, 24000, 0.002, -90, -80, 0), n)
    if verdict is ProbeVerdict.SILENT:
        n = rng.randint(90_000, 170_000)
        return ProbeResult(verdict, "audio without speech", 200, AudioStats(n, n // 2, 24000, n / 48000, -95, -90, 0), n)
    if verdict is ProbeVerdict.SPEAKS:
        n = rng.randint(80_000, 200_000)
        return ProbeResult(verdict, "speech", 200, AudioStats(n, n // 2, 24000, n / 48000, -20, -3, 0.8), n)
    if verdict is ProbeVerdict.ERROR:
        return ProbeResult(verdict, "HTTP 429 after 8 attempts", 429)
    return ProbeResult(verdict)


def scans(voices: int, seed: int, count: int = 3) -> list[ScanRun]:
    """`count` scans of one generated org; between scans ~3 % of voices flip (fixed or regressed)."""
    org = generate_org(voices, seed)
    rng = random.Random(seed)
    clones = [parse_clone(record.to_json(0.0)) for record in org.clones]
    truth = {c.voice_id: org.truth[c.voice_id][0] for c in clones}
    settings = Settings(probe=ProbeSettings(policy=ProbePolicy.ALL))
    start = datetime.now(UTC) - timedelta(days=7 * count)
    runs = []
    for i in range(count):
        if i:
            for voice_id in rng.sample(sorted(truth), max(1, voices // 30)):
                if truth[voice_id] is ProbeVerdict.SPEAKS:
                    truth[voice_id] = ProbeVerdict.SHORT_WAV
                elif truth[voice_id] is ProbeVerdict.SHORT_WAV:
                    truth[voice_id] = ProbeVerdict.SPEAKS
        probes = {v: _probe(p, rng) for v, p in truth.items()}
        run = assess(clones, probes, settings, start + timedelta(days=7 * i))
        runs.append(replace(run, account="bench", finished_at=start + timedelta(days=7 * i, minutes=5)))
    return runs


def write_reports(voices: int, seed: int, out: Path) -> Path:
    """Three scans recorded in `out`'s history; returns the last one's report.html."""
    folder = out
    for run in scans(voices, seed):
        folder = write_scan_reports(run, out).folder
    return folder / "report.html"


def open_in_chromium(report: Path, width: int = 1400) -> float:
    """Seconds from navigation until the page's script has rendered every row (load included)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:  # Playwright gives the browser a fresh temporary profile
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        began = time.perf_counter()
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_function("document.getElementById('shown').textContent.length > 0")
        elapsed = time.perf_counter() - began
        browser.close()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices", type=int, nargs="+", default=[10_000])
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    print(f"{'voices':>8} {'report.html':>12} {'render (headless Chromium)':>28}")
    worst = 0.0
    for n in args.voices:
        with tempfile.TemporaryDirectory(prefix="clone-audit-bench-") as work:
            written = time.perf_counter()
            report = write_reports(n, args.seed, Path(work))
            writing = time.perf_counter() - written
            size = report.stat().st_size
            seconds = open_in_chromium(report)
            worst = max(worst, seconds)
            print(f"{n:>8,} {size / 1e6:>9.2f} MB {seconds:>26.2f} s   (three scans written in {writing:.1f} s)")
            if n >= 10_000:
                verdict = "meets" if size < 10e6 and seconds < 5 else "MISSES"
                print(f"goal < 10 MB and < 5 s at {n:,} voices: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
