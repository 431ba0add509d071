"""Inputs that can be checked before paid work are checked first: through the real CLI, a
damaged run history or a bad exceptions file ends a scan with exit 2 naming the file (and
the line), before the emulator sees a single TTS request; never "unexpected … a bug"."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from audit.api.client import TTS_PATH
from audit.emulator import EmulatorServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> EmulatorServer:
    with EmulatorServer.with_org(n=6, seed=2) as running:
        yield running


def scan(server: EmulatorServer, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMALLEST_")}
    env.update(SMALLEST_API_KEY=server.api_key, SMALLEST_BASE_URL=server.base_url, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "audit", "scan", "--out", "out", *extra], capture_output=True,
                          text=True, timeout=120, env=env, cwd=cwd)


def _garbage(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)


def _foreign_table(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (run_id TEXT, note TEXT)")
        db.execute("INSERT INTO runs VALUES ('r1', 'x')")


def _bad_row(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, account TEXT NOT NULL, "
                   "base_url TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL, parameters TEXT "
                   "NOT NULL, exit_code INTEGER NOT NULL, counts TEXT NOT NULL, total INTEGER NOT NULL, "
                   "folder TEXT NOT NULL)")
        db.execute("INSERT INTO runs VALUES ('r1','scan','a','u','s','f','{not json',0,'{}',0,'d')")


@pytest.mark.parametrize("damage", [_garbage, _foreign_table, _bad_row], ids=["garbage", "foreign", "bad-row"])
def test_a_damaged_history_stops_the_scan_before_any_probe(server: EmulatorServer, tmp_path: Path, damage) -> None:  # noqa: ANN001
    (tmp_path / "out").mkdir()
    damage(tmp_path / "out" / "history.sqlite")
    before = len(server.state.requests(path=TTS_PATH))
    done = scan(server, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "history.sqlite" in done.stderr and ("damaged" in done.stderr or "cannot be opened" in done.stderr)
    assert "unexpected" not in done.stderr and "bug" not in done.stderr
    assert len(server.state.requests(path=TTS_PATH)) == before


WAIVERS = {
    "datetime.toml": ('[[exception]]\nvoice_id = "voice_a"\nreason = "r"\nowner = "o"\n'
                      "expires = 2026-12-31T10:00:00Z\n", "exception #1 (line 1)", "date-time"),
    "number-id.toml": ('[[exception]]\nvoice_id = "voice_a"\nreason = "r"\nowner = "o"\nexpires = "2026-12-31"\n\n'
                       '[[exception]]\nvoice_id = 12\nreason = "r"\nowner = "o"\nexpires = "2026-12-31"\n',
                       "exception #2 (line 7)", "voice_id = 12 is not text"),
    "unknown-field.toml": ('[[exception]]\nvoice_id = "voice_a"\nreason = "r"\nowner = "o"\nexpires = "2026-12-31"\n'
                           'expiry = "2027-01-01"\n', "exception #1 (line 1)", "unknown field(s) 'expiry'"),
    "empty-id.csv": ("voice_id,reason,owner,expires\nvoice_a,r,o,2026-12-31\n,,,,\n", "line 3", "cell(s) more"),
    "blank-id.csv": ("voice_id,reason,owner,expires\n  ,r,o,2026-12-31\n", "line 2", "has no voice_id"),
}


@pytest.mark.parametrize("name", list(WAIVERS))
def test_a_bad_exceptions_file_stops_the_scan_before_any_probe(server: EmulatorServer, tmp_path: Path,
                                                               name: str) -> None:
    text, where, what = WAIVERS[name]
    (tmp_path / name).write_text(text, encoding="utf-8")
    before = len(server.state.requests(path=TTS_PATH))
    done = scan(server, tmp_path, "--exceptions", name)
    assert done.returncode == 2, done.stderr
    assert f"{name}: {where}" in done.stderr and what in done.stderr, done.stderr
    assert "unexpected" not in done.stderr
    assert len(server.state.requests(path=TTS_PATH)) == before
