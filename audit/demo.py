"""`clone-audit demo`: the whole story against the built-in emulator.

Starts the emulator on 127.0.0.1 with a generated organisation (a seeded mix of v3.1,
legacy-only, lying and broken clones), points an ordinary client at it with the
emulator's own key, and runs the same pipeline a real scan runs. Nothing here touches
a real account.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from . import pipeline
from .client import WavesClient
from .config import Secret, Settings
from .console import REDACTOR
from .emulator import EmulatorServer
from .report.files import ReportFiles

#: The emulator allows this many TTS calls at once, and the demo client uses as many.
DEMO_CONCURRENCY = 4
DEMO_LATENCY = {"list": 0.05, "tts": 0.02, "create": 0.2, "delete": 0.02, "health": 0.0}


def run_demo(
    *, out_root: Path, clones: int, seed: int, progress: pipeline.Progress | None = None,
    settings: Settings | None = None,
) -> tuple[pipeline.ScanRun, ReportFiles]:
    settings = settings or Settings()
    with EmulatorServer.with_org(
        n=clones, seed=seed, tts_concurrency=DEMO_CONCURRENCY, latency=DEMO_LATENCY
    ) as server:
        key = Secret(server.api_key)
        REDACTOR.add(key)
        settings = replace(
            settings,
            api=replace(settings.api, base_url=server.base_url, concurrency=DEMO_CONCURRENCY),
        )

        async def scan() -> pipeline.ScanRun:
            async with WavesClient(settings.api, key) as client:
                return await pipeline.scan_organisation(client, settings, progress)

        run = asyncio.run(scan())
    return run, pipeline.write_scan_reports(run, out_root)
