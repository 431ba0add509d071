"""Fault matrix: one row per hostile condition, run through the real command line.

Each row serves the emulator (in this process) with a generated organisation and one fault
switched on, runs `clone-audit scan` (or plan/apply/retire) as a child process exactly as a
user would, and reads back what it left: the exit code, the verdict of every voice from
run.json, and stderr. It then checks, per row:

- no voice is called compliant whose true verdict (the generator's ground truth) is not;
- every voice either gets its true verdict or an explicit `unknown` with a reason;
- the exit code is the documented one for that condition;
- stderr holds no traceback, and the key appears in no output and no file.

    python bench/fault_matrix.py --clones 40 --seed 3
    python bench/fault_matrix.py --only gzip-bomb,list-truncated

Rows that need a small or read-only filesystem mount a tmpfs (root only); without root they
say so and are skipped. The same rows run in tests/scan/test_fault_matrix.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, Fault, generate_archive, generate_org
from audit.emulator.org import Org, expected_truth

# Fast retries so a row takes seconds: the behaviour is the same as with the defaults.
CONFIG = """
[api]
concurrency = 4
max_attempts = 4
backoff_initial_s = 0.01
backoff_max_s = 0.05
timeout_s = 2.0
create_timeout_s = 3.0
max_audio_bytes = 1048576
[apply]
poll_interval_s = 0.05
settle_s = 0.2
"""


@dataclass(frozen=True)
class Row:
    """One row: how to set the account up, which command to run, what exit codes are right."""

    name: str
    what: str
    config: dict[str, Any] = field(default_factory=dict)
    exits: tuple[int, ...] = (1,)
    command: str = "scan"
    mount: str | None = None  # "full" (a 16 KiB tmpfs) or "ro" (a read-only tmpfs) as --out
    during: Callable[[EmulatorServer], None] | None = None  # runs in a thread while the command runs
    report: bool = True  # whether a report set must exist afterwards


def _revoke_key_mid_run(server: EmulatorServer) -> None:
    """Revoke the key once a few probes were answered: the rest of the run meets 401."""
    deadline = time.monotonic() + 60
    while len(server.state.requests(path="/waves/v1/tts")) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.state.config = replace(server.state.config, api_key="sk_revoked_" + "0" * 24)


ROWS: tuple[Row, ...] = (
    Row("none", "an honest account", exits=(1,)),
    Row("429-retry-after", "every 2nd TTS call 429 with Retry-After", {"tts_429_every": 2, "retry_after": 0.05},
           exits=(1, 4)),
    Row("429-bare", "every 2nd TTS call 429, no Retry-After", {"tts_429_every": 2, "retry_after": None},
           exits=(1, 4)),
    Row("5xx-burst", "30 % of calls answer 500", {"fault_5xx_rate": 0.3}, exits=(1, 4)),
    Row("timeouts", "20 % of calls answer after the client's timeout", {"slow_rate": 0.2, "slow_s": 3.0},
           exits=(1, 4)),
    Row("dropped", "20 % of connections drop after the header", {"drop_rate": 0.2}, exits=(1, 4)),
    Row("slow-body", "every 5th TTS body trickles at 50 B/s", {"tts_trickle": Fault(every=5),
                                                                  "trickle_bytes_per_s": 50.0}, exits=(4,)),
    Row("gzip-bomb", "every 4th TTS answer a 1 GiB gzip bomb", {"tts_gzip_bomb": Fault(every=4)}, exits=(4,)),
    Row("endless-body", "every 4th TTS answer never ends", {"tts_endless": Fault(every=4)}, exits=(4,)),
    Row("tts-json", "every 3rd TTS 200 is JSON, not audio", {"tts_json": Fault(every=3)}, exits=(4,)),
    Row("tts-html", "every 3rd TTS 200 is an HTML page", {"tts_html": Fault(every=3)}, exits=(4,)),
    Row("list-truncated", "the list's JSON cut in half", {"list_truncated": Fault(every=1)}, exits=(3,),
           report=False),
    Row("list-garbage", "the list is an HTML page", {"list_garbage": Fault(every=1)}, exits=(3,), report=False),
    Row("schema-drift", "every 5th list entry of a wrong shape", {"list_wrong_shape": Fault(every=1)},
           exits=(4,)),
    Row("list-huge", "the list padded to 48 MiB", {"list_huge": Fault(every=1)}, exits=(3,), report=False),
    Row("401-mid-run", "the key is revoked while probes run", {"latency": {"tts": 0.05}}, exits=(3,),
           during=_revoke_key_mid_run, report=False),
    Row("410-delete", "retire where DELETE answers 410", {}, exits=(0,), command="retire"),
    Row("disk-full", "--out on a 16 KiB filesystem", {}, exits=(3,), mount="full", report=False),
    Row("read-only", "--out on a read-only filesystem", {}, exits=(2, 3), mount="ro", report=False),
)


@dataclass(frozen=True)
class Outcome:
    row: str
    exit_code: int
    verdicts: dict[str, int]
    truthful: int  # voices whose verdict is the ground truth
    unknown: int  # voices explicitly unknown (could not tell), with a reason
    wrong: int  # voices with another verdict that is not unknown
    false_compliant: int  # called compliant although they are not
    traceback: bool
    key_leaked: bool
    report_ok: bool  # the report set is whole where one was expected, absent where not
    requests: int
    seconds: float
    note: str = ""

    @property
    def ok(self) -> bool:
        return (self.false_compliant == 0 and self.wrong == 0 and not self.traceback and not self.key_leaked
                and self.report_ok and not self.note.startswith("FAIL"))


def run_row(row: Row, clones: int, seed: int, work: Path) -> Outcome:
    org = generate_org(clones, seed)
    config = EmulatorConfig(seed=seed, tts_concurrency=4, pending_s=0.05, processing_s=0.05, **row.config)
    (work / "c.toml").write_text(CONFIG)
    with EmulatorServer(EmulatorState(config, org.clones)) as server, _out_folder(row, work) as out:
        env = {**os.environ, "SMALLEST_API_KEY": server.api_key}
        base = [sys.executable, "-m", "audit"]
        common = ["--config", str(work / "c.toml"), "--base-url", server.base_url]
        if row.command == "retire":
            _prepare_retire(base, common, env, org, work, server)
        started = time.monotonic()
        helper = threading.Thread(target=row.during, args=(server,), daemon=True) if row.during else None
        if helper:
            helper.start()
        if row.command == "retire":
            plan = next(work.glob("out/*/plan.json"))
            done = subprocess.run([*base, "retire", str(plan), "--yes", *common], env=env, capture_output=True,
                                  text=True, timeout=300)
        else:
            done = subprocess.run([*base, "scan", "--out", str(out), *common], env=env, capture_output=True,
                                  text=True, timeout=300)
        seconds = time.monotonic() - started
        requests = len(server.state.requests())
        key = server.api_key
    return _judge(row, org, done, out, work, key, requests, seconds)


def _judge(row: Row, org: Org, done: subprocess.CompletedProcess[str], out: Path, work: Path, key: str,
           requests: int, seconds: float) -> Outcome:
    runs = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")] if out.exists() else []
    voices: list[dict[str, Any]] = []
    note = ""
    if row.command == "scan" and runs:
        document = json.loads((runs[0] / "run.json").read_text(encoding="utf-8"))
        voices = document["voices"]
    truth = {r.voice_id: expected_truth(r)[1].value for r in org.clones}
    truthful = unknown = wrong = false_compliant = 0
    for voice in voices:
        expected = truth.get(voice["voice_id"])
        got = voice["verdict"]
        if got == expected:
            truthful += 1
        elif got == "unknown" and voice.get("reason"):
            unknown += 1
        else:
            wrong += 1
        if got == "compliant" and expected != "compliant":
            false_compliant += 1
    if row.command == "scan":
        complete = all(all((run / n).is_file() for n in ("run.json", "clones.csv", "report.html")) for run in runs)
        leftovers = [p.name for p in out.iterdir() if p.name.endswith(".partial")] if out.exists() else []
        report_ok = complete and (bool(runs) == row.report) and not leftovers
        if leftovers:
            note = f"FAIL: staging left behind: {leftovers}"
    else:  # retire where the API does not delete: the ids go to the dashboard list, nothing fails
        report_ok = "dashboard" in done.stdout
        if not report_ok:
            note = "FAIL: retire did not list the voices for the dashboard"
    if row.command == "scan" and row.report and len(voices) < len(org.clones):
        note = f"FAIL: {len(org.clones) - len(voices)} voice(s) missing from the report"
    if done.returncode not in row.exits:
        note = f"FAIL: exit {done.returncode}, expected {'/'.join(map(str, row.exits))}"
    files_with_key = [p for p in work.rglob("*") if p.is_file() and p.stat().st_size < 50 << 20
                      and key.encode() in p.read_bytes()]
    leaked = key in done.stdout + done.stderr or bool(files_with_key)
    if not note and done.returncode != 0:
        note = _last_line(done.stderr)
    return Outcome(row.name, done.returncode, dict(Counter(v["verdict"] for v in voices)), truthful, unknown, wrong,
                   false_compliant, "Traceback" in done.stderr, leaked, report_ok, requests, seconds, note)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("error:")]
    return lines[-1][:90] if lines else ""


def _prepare_retire(base: list[str], common: list[str], env: dict[str, str], org: Org, work: Path,
                    server: EmulatorServer) -> None:
    """Scan, plan and apply a few voices so that retire has verified replacements to delete."""
    generate_archive(org, work / "archive", 3)
    out = work / "out"
    for step in (["scan", "--out", str(out)], ["plan", "--out", str(out), "--archive", str(work / "archive")]):
        subprocess.run([*base, *step, *common], env=env, capture_output=True, text=True, timeout=300)
    plan = next(out.glob("*/plan.json"))
    subprocess.run([*base, "apply", str(plan), "--yes", "--limit", "3", *common], env=env, capture_output=True,
                   text=True, timeout=300, check=False)


@contextlib.contextmanager
def _out_folder(row: Row, work: Path) -> Iterator[Path]:
    out = work / "reports"
    if row.mount is None:
        yield out
        return
    if os.geteuid() != 0:
        raise PermissionError("needs root to mount a tmpfs")
    out.mkdir()
    options = "size=16k" if row.mount == "full" else "ro,size=16k"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(out)], check=True, capture_output=True)
    try:
        yield out
    finally:
        subprocess.run(["umount", str(out)], check=False, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=int, default=40)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--only", help="comma-separated row names")
    args = parser.parse_args()
    rows = [r for r in ROWS if not args.only or r.name in args.only.split(",")]
    print(f"{'fault':17} {'exit':>4} {'true':>5} {'unkn':>5} {'wrong':>5} {'false-ok':>8} {'reqs':>5} {'s':>6}  "
          f"{'report':6} verdicts / note")
    failures = 0
    for row in rows:
        with tempfile.TemporaryDirectory() as work:
            try:
                o = run_row(row, args.clones, args.seed, Path(work))
            except PermissionError as exc:
                print(f"{row.name:17} skipped: {exc}")
                continue
        failures += not o.ok
        verdicts = " ".join(f"{k} {v}" for k, v in sorted(o.verdicts.items()))
        print(f"{o.row:17} {o.exit_code:>4} {o.truthful:>5} {o.unknown:>5} {o.wrong:>5} {o.false_compliant:>8} "
              f"{o.requests:>5} {o.seconds:>6.1f}  {'ok' if o.report_ok else 'BAD':6} "
              f"{verdicts}{'  · ' if verdicts and o.note else ''}{o.note}"
              f"{'  TRACEBACK' if o.traceback else ''}{'  KEY LEAKED' if o.key_leaked else ''}")
    print("OK: nothing called compliant that is not, every exit code as documented" if not failures
          else f"FAILED: {failures} row(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
