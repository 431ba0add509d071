"""Crash-safety benchmark: SIGKILL `clone-audit apply` at random moments, rerun, count clones.

Serves the emulator in this process (with a generated org and its archive), plans a
migration, then starts `clone-audit apply --yes` as a child process and kills it with
SIGKILL after a random delay, again and again, and finally lets one run finish. It then
checks the account and the mapping: every migratable voice has exactly one new clone,
the mapping holds every old → new pair, and there is no duplicate. As a baseline it
runs the same migration uninterrupted on a fresh emulator, and reports the interrupted
migration's cost as ratios against it.

    python bench/kill_apply.py --voices 200 --kills 20 --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from audit.api.client import WavesClient
from audit.core.config import ApiSettings, ApplySettings, ArchiveSettings, Settings
from audit.core.models import MARKER_PREFIX, Action
from audit.core.secrets import Secret
from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, generate_archive, generate_org
from audit.pipeline.plan import plan_migration

# The emulator's creates take 0.05 s and its list lags 0.2 s behind them: a create cut
# off by a kill is settled after create_timeout_s + settle_s.
CONFIG = """
[api]
concurrency = 8
max_attempts = 6
backoff_initial_s = 0.01
backoff_max_s = 0.1
create_timeout_s = 2.0
[apply]
poll_interval_s = 0.05
settle_s = 0.5
"""


@dataclass(frozen=True)
class Outcome:
    voices: int
    kills: int
    runs: int
    seconds: float
    creates_sent: int
    clones_made: int
    duplicates: int
    missing: int
    mapping_pairs: int
    mapping_mismatches: int
    found_by_marker: int  # creates whose answer was lost, recovered from the account
    integrity_failures: int = 0  # ledgers that failed PRAGMA integrity_check after a kill


def migrate(voices: int, kills: int, seed: int, work: Path) -> Outcome:
    """Plan `voices` re-clones and apply them, killing apply `kills` times on the way."""
    rng = random.Random(seed)
    org = generate_org(voices * 6, seed)  # about a fifth of an org is migratable
    generate_archive(org, work / "archive", seed)
    config = EmulatorConfig(seed=seed, tts_concurrency=8, pending_s=0.1, processing_s=0.2, list_lag_s=0.2,
                            clone_quota=100_000,
                            latency={"create": 0.05, "list": 0.01, "tts": 0.01})
    with EmulatorServer(EmulatorState(config, org.clones)) as server:
        settings = Settings(
            api=ApiSettings(base_url=server.base_url, concurrency=8, backoff_initial_s=0.01, backoff_max_s=0.1),
            archive=ArchiveSettings(folder=str(work / "archive")),
            apply=ApplySettings(poll_interval_s=0.05, settle_s=0.5),
        )
        planned = asyncio.run(_plan(server, settings, work / "out"))
        chosen = [e.voice_id for e in planned.plan.entries if e.action is Action.RECLONE][:voices]
        if len(chosen) < voices:
            raise SystemExit(f"the generated org has only {len(chosen)} migratable voices")
        (work / "bench.toml").write_text(CONFIG)
        command = [sys.executable, "-m", "audit", "apply", str(planned.plan_path), "--yes",
                   "--config", str(work / "bench.toml"), "--base-url", server.base_url, "--only", *chosen]
        env = {**os.environ, "SMALLEST_API_KEY": server.api_key}
        started = time.monotonic()
        damaged = 0
        for _ in range(kills):
            child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.6, 2.5))  # past start-up, somewhere in the work
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
            child.wait()
            damaged += not ledger_intact(planned.folder / "ledger.sqlite")
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        seconds = time.monotonic() - started
        if final.returncode != 0:
            raise SystemExit(f"the final apply exited {final.returncode}:\n{final.stderr[-2000:]}")
        made = Counter(
            tag[len(MARKER_PREFIX):] for c in server.state.clones() for tag in c.tags if tag.startswith(MARKER_PREFIX)
        )
        new_ids = {
            tag[len(MARKER_PREFIX):]: c.voice_id for c in server.state.clones() for tag in c.tags
            if tag.startswith(MARKER_PREFIX)
        }
        creates = len(server.state.requests(method="POST", path="/waves/v1/voice-cloning"))
    with open(planned.folder / "mapping.csv", encoding="utf-8", newline="") as handle:
        mapping = {row["old_voice_id"]: row for row in csv.DictReader(handle)}
    with sqlite3.connect(planned.folder / "ledger.sqlite") as db:
        (found_by_marker,) = db.execute("SELECT COUNT(*) FROM events WHERE detail LIKE '%marker%'").fetchone()
    return Outcome(
        voices=voices, kills=kills, runs=kills + 1, seconds=seconds, creates_sent=creates,
        clones_made=sum(made.values()), duplicates=sum(n - 1 for n in made.values() if n > 1),
        missing=sum(1 for v in chosen if made[v] == 0),
        mapping_pairs=sum(1 for v in chosen if v in mapping and mapping[v]["status"] == "ready"),
        mapping_mismatches=sum(1 for v in chosen if mapping.get(v, {}).get("new_voice_id") != new_ids.get(v)),
        found_by_marker=found_by_marker, integrity_failures=damaged,
    )


def ledger_intact(path: Path) -> bool:
    """PRAGMA integrity_check of a ledger a killed run left (no ledger yet is intact)."""
    if not path.exists():
        return True
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def _plan(server: EmulatorServer, settings: Settings, out: Path):  # noqa: ANN202
    async with WavesClient(settings.api, Secret(server.api_key)) as client:
        return await plan_migration(client, settings, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", type=int, default=200)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base, tempfile.TemporaryDirectory() as killed, \
            tempfile.TemporaryDirectory() as state:
        os.environ.setdefault("CLONE_AUDIT_STATE_DIR", state)  # locks and seal key: not the user's own
        baseline = migrate(args.voices, 0, args.seed, Path(base))
        outcome = migrate(args.voices, args.kills, args.seed, Path(killed))
    for name, o in (("baseline (no kill)", baseline), (f"{args.kills} × SIGKILL", outcome)):
        print(f"{name:20} voices {o.voices}  runs {o.runs}  {o.seconds:6.1f} s  creates sent {o.creates_sent}"
              f"  clones made {o.clones_made}  duplicates {o.duplicates}  missing {o.missing}"
              f"  mapping ready {o.mapping_pairs}/{o.voices}  mismatches {o.mapping_mismatches}"
              f"  found by marker {o.found_by_marker}  damaged ledgers {o.integrity_failures}")
    print(f"interrupted / baseline: time ×{outcome.seconds / baseline.seconds:.2f}, "
          f"creates sent ×{outcome.creates_sent / baseline.creates_sent:.2f}")
    ok = outcome.duplicates == 0 and outcome.missing == 0 and outcome.mapping_pairs == outcome.voices \
        and outcome.mapping_mismatches == 0 and outcome.integrity_failures == 0
    print("OK: one clone per voice, every pair mapped" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
