"""Cutover over real HTTP: the TTS analytics log (client and emulator), a migrated org's
sample application patched and rolled back from the command line, usage of old ids, and
retire --quiet-since."""

from __future__ import annotations

import json
from dataclasses import replace

import csv
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from audit.api.client import WavesClient
from audit.core.config import ApiSettings
from audit.core.errors import RunError
from audit.core.secrets import Secret
from audit.emulator import EmulatorServer, ManualClock, TtsLogRecord
from audit.migrate.selection import ApplyOptions
from audit.pipeline.retire import retire_replaced
from tests.support.cli import clone_audit
from tests.support.emulator import running
from tests.support.migration import YES, apply, plan

pytestmark = pytest.mark.integration


def _settings(server: EmulatorServer) -> ApiSettings:
    return ApiSettings(base_url=server.base_url, concurrency=2, max_attempts=3, backoff_initial_s=0.01,
                       backoff_max_s=0.05, timeout_s=10)


def _speak(server: EmulatorServer, voice_id: str) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}", "Accept": "audio/wav"}
    answer = httpx.post(f"{server.base_url}/waves/v1/tts", headers=headers, timeout=10,
                        json={"text": "Hello there.", "voice_id": voice_id, "model": "lightning_v3.1"})
    assert answer.status_code == 200


async def test_the_analytics_log_is_read_page_by_page_and_records_real_calls() -> None:
    with EmulatorServer.with_org(n=30, seed=3, traffic_days=3) as server:
        history = server.state.tts_log()
        voice = next(c.voice_id for c in server.state.clones() if c.engine == "legacy" and
                     c.fields.get("status") == "completed")
        _speak(server, voice)
        async with WavesClient(_settings(server), Secret(server.api_key)) as client:
            everything = await client.tts_logs()
            recent = await client.tts_logs(since=datetime.now(UTC) - timedelta(minutes=1))
            first_page = await client.tts_logs(max_pages=1)
        calls = server.state.requests(path="/waves/v1/analytics/tts/logs")
    assert len(history) > 100  # a generated history, legacy voices included
    assert {r.voice_id for r in history} & {c.voice_id for c in server.state.clones() if c.engine == "legacy"}
    assert everything.complete and everything.total_count == len(history) + 1
    assert len(everything.calls) == len(history) + 1 and everything.pages == math.ceil((len(history) + 1) / 100)
    newest = everything.calls[0]
    assert newest.voice_id == voice and newest.characters == len("Hello there.") and newest.model == "lightning-v3.1"  # the log names models in the hyphen form
    assert recent.complete and recent.pages <= 2  # newest first: it stopped at the window's edge
    assert not first_page.complete and len(first_page.calls) == 100
    assert all(e.status == 200 for e in calls)


def test_a_page_size_over_100_is_refused_like_the_api() -> None:
    with EmulatorServer.with_org(n=5, seed=1) as server:
        answer = httpx.get(f"{server.base_url}/waves/v1/analytics/tts/logs?page=1&pageSize=101",
                           headers={"Authorization": f"Bearer {server.api_key}"})
    assert answer.status_code == 400 and answer.json()["error"][0]["path"] == ["pageSize"]


def _sample_app(root: Path, mapping: list[dict[str, str]]) -> dict[str, bytes]:
    """An application folder that uses every old id: code, an IVR flow, an env file, JSON,
    a CSV export (CRLF) and a UTF-16 config."""
    ids = [m["old_voice_id"] for m in mapping]
    files = {
        "src/tts.py": "".join(f'VOICES["{m["display_name"][:10]!r}"] = "{m["old_voice_id"]}"\n' for m in mapping).encode(),
        "flows/main.yaml": ("steps:\n" + "".join(f"  - voice_id: {i}\n" for i in ids)).encode(),
        ".env": f"DEFAULT_VOICE={ids[0]}\n".encode(),
        "config/voices.json": ("[" + ", ".join(f'"{i}"' for i in ids) + "]").encode(),
        "exports/voices.csv": ("voice\r\n" + "".join(f"{i}\r\n" for i in ids)).encode(),
        "config/legacy.ini": b"\xff\xfe" + f"voice={ids[0]}\r\n".encode("utf-16-le"),
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


async def test_migrate_then_cut_over_a_sample_app_and_roll_back(tmp_path: Path) -> None:
    clock = ManualClock(ticking=True)
    with running(30, 4, tmp_path, clock) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        await apply(server, settings, planned.plan_path, ApplyOptions())
        mapping_csv = planned.folder / "mapping.csv"
        with mapping_csv.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        ready = {r["old_voice_id"]: r["new_voice_id"] for r in rows if r["status"] == "ready"}
        assert len(ready) >= 3 and len(ready) == len(rows)
        app = tmp_path / "app"
        original = _sample_app(app, rows)
        env = {"SMALLEST_API_KEY": server.api_key, "SMALLEST_BASE_URL": server.base_url}

        dry = clone_audit("cutover", str(mapping_csv), "app", cwd=tmp_path, env=env)
        assert dry.returncode == 1, dry.stderr
        assert f"app/.env:1:15  {rows[0]['old_voice_id']} → {ready[rows[0]['old_voice_id']]}" in dry.stdout
        assert "+++ b/app/flows/main.yaml" in dry.stdout
        assert {p.relative_to(app).as_posix(): p.read_bytes() for p in app.rglob("*") if p.is_file()} == original

        since = datetime.fromtimestamp(clock.now(), UTC)  # after the scan's probes, which the log counts too
        clock.advance(1.0)
        written = clone_audit("cutover", str(mapping_csv), "app", "--write", cwd=tmp_path, env=env)
        assert written.returncode == 0, written.stdout + written.stderr
        assert "No old voice id left in these paths." in written.stdout
        rollback_file = Path(next(line.split(": ", 1)[1] for line in written.stdout.splitlines()
                                  if line.startswith("Rollback file: ")))
        assert rollback_file.parent == planned.folder / "cutover"
        patched = {rel: (app / rel).read_bytes() for rel in original}
        for rel, data in patched.items():
            text = data.decode("utf-16") if rel.endswith(".ini") else data.decode()
            assert not any(old in text for old in ready), rel
            assert any(new in text for new in ready.values()), rel
        assert patched["exports/voices.csv"].count(b"\r\n") == original["exports/voices.csv"].count(b"\r\n")
        assert patched["config/legacy.ini"].startswith(b"\xff\xfe")
        assert clone_audit("cutover", str(mapping_csv), "app", cwd=tmp_path, env=env).returncode == 0

        old_id = rows[0]["old_voice_id"]
        _speak(server, old_id)  # a caller the cutover missed, still calling the legacy voice
        used = clone_audit("usage", str(mapping_csv), "--since", since.isoformat(), env=env)
        assert used.returncode == 1, used.stderr
        assert f"{old_id}  1 call(s)" in used.stdout and f"1 of {len(rows)} old id(s) called" in used.stdout
        report = _latest_cutover_report(planned.folder.parent)
        assert "Cutover of callers" in report and old_id in report and str(rollback_file) in report

        undone = clone_audit("cutover", "--rollback", str(rollback_file), cwd=tmp_path, env=env)
        assert undone.returncode == 0, undone.stdout + undone.stderr
        assert {rel: (app / rel).read_bytes() for rel in original} == original
        assert "rolled back" in _latest_cutover_report(planned.folder.parent)
        assert "Cutover of callers" not in (planned.folder / "report.html").read_text(encoding="utf-8")  # reviewed


async def test_retire_quiet_since_keeps_old_clones_that_are_still_called(tmp_path: Path) -> None:
    clock = ManualClock(ticking=True)
    with running(30, 4, tmp_path, clock, delete_mode="ok") as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        await apply(server, settings, planned.plan_path, ApplyOptions(limit=3))
        with (planned.folder / "mapping.csv").open(newline="", encoding="utf-8") as handle:
            old_ids = [r["old_voice_id"] for r in csv.DictReader(handle) if r["status"] == "ready"]
        called = old_ids[0]
        cutover_at = datetime.fromtimestamp(clock.now(), UTC)  # after the scan's own probes, which the log counts too
        clock.advance(1.0)
        server.state.add_tts_log([
            TtsLogRecord(clock.now(), called, "lightning_v3.1", "en", 40),  # after the cutover
            TtsLogRecord(clock.now() - 5 * 86400, old_ids[1], "lightning_v3.1", "en", 40),  # before it
        ])
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            run = (await retire_replaced(client, settings, planned.plan_path, YES, quiet_since=cutover_at)).retired
        remaining = {c.voice_id for c in server.state.clones()}
    assert [u.voice_id for u in run.still_called] == [called] and run.still_called[0].calls == 1
    assert called in remaining
    assert set(run.deleted) == set(old_ids[1:]) and not set(run.deleted) & remaining


async def test_retire_quiet_since_deletes_nothing_when_the_log_ignores_the_page_asked(tmp_path: Path) -> None:
    """An analytics route answering page 1 to every page: the calls on later pages are never
    seen, so whether the old ids are quiet is unknown and retire deletes nothing."""
    with running(30, 4, tmp_path, delete_mode="ok") as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        await apply(server, settings, planned.plan_path, ApplyOptions(limit=3))
        with (planned.folder / "mapping.csv").open(newline="", encoding="utf-8") as handle:
            old_ids = [r["old_voice_id"] for r in csv.DictReader(handle) if r["status"] == "ready"]
        quiet_since = datetime.now(UTC) - timedelta(days=1)
        now = time.time()
        server.state.add_tts_log([TtsLogRecord(now - 600, old_ids[0], "lightning_v3.1", "en", 40)]
                                 + [TtsLogRecord(now - i, old_ids[1], "lightning_v3.1", "en", 40) for i in range(150)])
        server.state.config = replace(server.state.config, analytics_ignores_page=True)
        before = {c.voice_id for c in server.state.clones()}
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            with pytest.raises(RunError, match="asked for page 2"):
                await retire_replaced(client, settings, planned.plan_path, YES, quiet_since=quiet_since)
        assert {c.voice_id for c in server.state.clones()} == before and set(old_ids) <= before


async def test_retire_quiet_since_reads_at_most_usage_max_pages(tmp_path: Path) -> None:
    """`[report] usage_max_pages` bounds retire's read of the log as it bounds a scan's: a log
    longer than that since DATE is not read back to DATE, and nothing is deleted."""
    with running(30, 4, tmp_path, delete_mode="ok") as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        await apply(server, settings, planned.plan_path, ApplyOptions(limit=3))
        quiet_since = datetime.now(UTC) - timedelta(days=1)
        now = time.time()
        server.state.add_tts_log([TtsLogRecord(now - i, "voice_other", "lightning_v3.1", "en", 40) for i in range(250)])
        settings = replace(settings, report=replace(settings.report, usage_max_pages=2))
        before = {c.voice_id for c in server.state.clones()}
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            with pytest.raises(RunError, match=r"\(2 pages read\)"):
                await retire_replaced(client, settings, planned.plan_path, YES, quiet_since=quiet_since)
        asked = server.state.requests(path="/waves/v1/analytics/tts/logs")
        assert {c.voice_id for c in server.state.clones()} == before and len(asked) == 2


def _latest_cutover_report(out_root: Path) -> str:
    """The report of the newest cutover run: a cutover writes a run of its own and leaves the
    plan's reviewed report as it was."""
    runs = [p for p in out_root.iterdir() if (p / "run.json").is_file()
            and json.loads((p / "run.json").read_text(encoding="utf-8")).get("kind") == "cutover"]
    assert runs, "no cutover run was written"
    return (max(runs, key=lambda p: (p / "run.json").stat().st_mtime_ns) / "report.html").read_text(encoding="utf-8")
