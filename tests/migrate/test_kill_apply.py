"""SIGKILL apply at random moments and rerun: one new clone per voice, every pair mapped, also
for a create that queued behind other voices before it was sent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bench import load_bench

pytestmark = pytest.mark.integration


def test_killed_and_rerun_apply_makes_exactly_one_clone_per_voice(tmp_path: Path) -> None:
    outcome = load_bench("kill_apply").migrate(voices=40, kills=6, seed=3, work=tmp_path)
    assert outcome.duplicates == 0
    assert outcome.missing == 0
    assert outcome.clones_made == 40
    assert outcome.mapping_pairs == 40 and outcome.mapping_mismatches == 0
    assert outcome.integrity_failures == 0  # the ledger survives every SIGKILL intact


APPLY_CONFIG = """
[api]
concurrency = 1
create_timeout_s = 2.0
backoff_initial_s = 0.01
backoff_max_s = 0.1
[apply]
poll_interval_s = 0.2
settle_s = 12.0
max_in_progress = 4
"""


def test_a_create_queued_behind_other_voices_then_killed_is_not_made_twice(tmp_path: Path) -> None:
    """One request at a time (concurrency 1), four voices in progress. A voice's row turns
    `creating` (the start of its unknown-outcome window, create_timeout_s + settle_s) before
    its create waits for the one slot behind the other voices' verification probes; it is sent
    seconds later. Killed right after it was sent, the rerun looks until the window ends, the
    clone is not listed yet then (the list lags 12 s behind a create, exactly settle_s, and
    the create took 1 s of its 2 s create_timeout_s), so the rerun creates it again: two clones
    for one voice, with every setting honest. Before `max_in_progress`, one request allowed
    meant one voice in progress, and a create never queued behind another voice's probe.

    The margins: the fifth create waits behind two or more 2 s probes (well over the 2 s
    create_timeout_s that wait must exceed for a window counted from the queue to end early);
    the rerun must list the account before the 12 s lag is over, start-up included, however
    loaded the machine (a shorter lag let a slow start-up find the clone already listed, and
    the duplicate could no longer happen); a window counted from the send ends 2 s after the
    lag, less the create's upload."""
    import asyncio
    import os
    import signal
    import time
    from collections import Counter

    from audit.api.client import WavesClient
    from audit.core.config import ApiSettings, ArchiveSettings, Settings
    from audit.core.secrets import Secret
    from audit.core.models import MARKER_PREFIX, Action
    from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, generate_archive, generate_org
    from audit.pipeline.plan import plan_migration

    org = generate_org(60, 3)
    generate_archive(org, tmp_path / "archive", 3)
    config = EmulatorConfig(seed=3, tts_concurrency=1, pending_s=0.0, processing_s=0.1, list_lag_s=12.0,
                            clone_quota=100_000, latency={"tts": 2.0, "create": 1.0})
    with EmulatorServer(EmulatorState(config, org.clones)) as server:
        settings = Settings(api=ApiSettings(base_url=server.base_url, concurrency=1),
                            archive=ArchiveSettings(folder=str(tmp_path / "archive")))

        async def plan():  # noqa: ANN202
            async with WavesClient(settings.api, Secret(server.api_key)) as client:
                return await plan_migration(client, settings, tmp_path / "out")

        planned = asyncio.run(plan())
        chosen = [e.voice_id for e in planned.plan.entries if e.action is Action.RECLONE][:6]
        assert len(chosen) == 6
        (tmp_path / "apply.toml").write_text(APPLY_CONFIG)
        command = [sys.executable, "-m", "audit", "apply", str(planned.plan_path), "--yes", "--config",
                   str(tmp_path / "apply.toml"), "--base-url", server.base_url, "--only", *chosen]
        env = {**os.environ, "SMALLEST_API_KEY": server.api_key}

        def creates() -> int:  # received: the emulator adds the clone, then takes 1 s to answer
            return sum(any(t.startswith(MARKER_PREFIX) for t in c.tags) for c in server.state.clones())

        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while creates() < 5 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)  # the fifth create reached the server, unanswered
        child.wait()
        assert creates() == 5
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        made = Counter(tag[len(MARKER_PREFIX):] for c in server.state.clones() for tag in c.tags
                       if tag.startswith(MARKER_PREFIX))
    assert final.returncode in (0, 1), final.stderr[-2000:]
    assert {v: n for v, n in made.items() if n > 1} == {}, "duplicate clones"
