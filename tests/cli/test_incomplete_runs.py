"""Incomplete and stopped scans through the real command line: an incomplete scan says on
stderr how many voices could not be checked and why (with advice per cause) and suggests no
plan; a scan whose API goes away mid-run stops within seconds, exits 3, and its failed run in
the history says how many voices were checked."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, Fault, generate_org
from tests.support.cli import cli_env, clone_audit

pytestmark = pytest.mark.integration


def test_an_incomplete_scan_says_how_many_and_why_on_stderr_and_suggests_no_plan(tmp_path: Path) -> None:
    org = generate_org(40, 3)
    config = EmulatorConfig(tts_concurrency=4, retry_after=0.01, tts_json=Fault(every=3), seed=3)
    with EmulatorServer(EmulatorState(config, org.clones)) as server:
        done = clone_audit("scan", "--out", str(tmp_path / "out"), "--concurrency", "4", env=cli_env(server))
    assert done.returncode == 4, done.stderr
    assert "Next:" not in done.stdout
    found = re.search(r"(\d+) of (\d+) voices could not be checked", done.stderr)
    assert found, done.stderr
    unknown = re.search(r"unknown\s*│\s*(\d+)", done.stderr)
    assert unknown and found.group(1) == unknown.group(1) and found.group(2) == "40"
    said = " ".join(done.stderr.split())  # the terminal may wrap long lines
    assert "no usable audio" in said  # the cause, with its advice
    assert "report it with its X-Request-Id" in said


def test_the_api_going_away_mid_scan_stops_within_seconds_with_exit_3(tmp_path: Path) -> None:
    org = generate_org(60, 5)
    config = EmulatorConfig(tts_concurrency=2, retry_after=0.01, latency={"tts": 0.3}, seed=5)
    out = tmp_path / "out"
    (tmp_path / "fast.toml").write_text("[api]\nunreachable_s = 1.5\nconcurrency = 2\n")
    server = EmulatorServer(EmulatorState(config, org.clones)).start()
    env = cli_env(server)
    scan = subprocess.Popen(
        [sys.executable, "-m", "audit", "scan", "--out", str(out), "--config", str(tmp_path / "fast.toml")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not server.state.requests("POST", "/waves/v1/tts") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
    finally:
        server.stop()
    stopped = time.monotonic()
    stdout, stderr = scan.communicate(timeout=60)
    took = time.monotonic() - stopped
    assert scan.returncode == 3, stderr
    assert took < 12, f"stopped {took:.1f} s after the API went away"
    said = " ".join(stderr.split())
    assert re.search(r"\d+ of \d+ probes were made", said) and "not checked" in said
    assert "Run:" not in stdout  # no report passed off as whole
    assert not list(out.glob("*/report.html"))
    history = clone_audit("history", "--out", str(out), env=env)
    assert "exit 3" in history.stdout and re.search(r"\d+ of \d+ probes were made", history.stdout)
