"""`scan --usage DAYS` over real HTTP: each voice's calls, characters and last call equal what
the emulator's analytics log holds for the window (computed here from the log itself), the
scan's own probes are not counted, an incomplete read of the log is said and never read as "no
calls", the report leads with the non-compliant voices still called, and the plan made from
that scan goes most called first, so `apply --limit N` migrates the busiest voices."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.api.client import WavesClient
from audit.core.config import Settings
from audit.core.models import Action
from audit.core.secrets import Secret
from audit.emulator import EmulatorServer
from audit.migrate.selection import ApplyOptions
from audit.pipeline.plan import plan_migration
from audit.pipeline.scan import ScanRun, scan_organisation, write_scan_reports
from tests.support.emulator import running
from tests.support.migration import apply, replacements_on

pytestmark = pytest.mark.integration

DAYS = 7


def _with_usage(settings: Settings, days: int = DAYS, max_pages: int = 500) -> Settings:
    return replace(settings, report=replace(settings.report, usage_days=days, usage_max_pages=max_pages))


def _speak(server: EmulatorServer, voice_id: str, text: str) -> None:
    """A real caller's TTS call, made before the scan: it must be counted."""
    answer = httpx.post(f"{server.base_url}/waves/v1/tts", timeout=10,
                        headers={"Authorization": f"Bearer {server.api_key}", "Accept": "audio/wav"},
                        json={"text": text, "voice_id": voice_id, "model": "lightning_v3.1"})
    assert answer.status_code == 200


async def _scan(server: EmulatorServer, settings: Settings, out: Path) -> tuple[ScanRun, Path]:
    async with WavesClient(settings.api, Secret(server.api_key)) as client:
        run = await scan_organisation(client, settings)
    return run, write_scan_reports(run, out).folder


def _expected(server: EmulatorServer, since: datetime, until: datetime) -> dict[str, list[Any]]:
    """Calls, characters and last call per voice in [since, until), straight from the emulator's
    log, at the millisecond precision the API's timestamps carry."""
    expected: dict[str, list[Any]] = defaultdict(lambda: [0, 0, None])
    for record in server.state.tts_log():
        at = datetime.fromtimestamp(math.floor(record.at * 1000) / 1000, UTC)
        if since <= at < until:
            row = expected[record.voice_id]
            row[0] += 1
            row[1] += record.text_len
            row[2] = at if row[2] is None or at > row[2] else row[2]
    return expected


def _headline(folder: Path) -> str:
    found = re.search(r'id="headline">(.*?)</p>', (folder / "report.html").read_text(encoding="utf-8"), re.S)
    assert found
    return found.group(1)


async def test_usage_per_voice_is_the_log_of_the_window_without_the_scans_own_probes(tmp_path: Path) -> None:
    with running(40, 5, tmp_path, traffic_days=DAYS) as (server, settings):
        legacy = [c for c in server.state.clones() if c.engine == "legacy" and c.fields.get("status") == "completed"]
        quiet = {v for v in (c.voice_id for c in legacy)} - {r.voice_id for r in server.state.tts_log()}
        caller = sorted(quiet)[0]  # a legacy voice the history never called: one real call now
        _speak(server, caller, "Your appointment is at nine.")
        run, folder = await _scan(server, _with_usage(settings), tmp_path / "out")
        log = server.state.tts_log()
        probes = [e for e in server.state.requests(path="/waves/v1/tts")][1:]  # after the caller's call
    until = run.started_at
    assert run.usage_window is not None and run.usage_window.complete
    assert run.usage_window.until == until and run.usage_window.since == until - timedelta(days=DAYS)
    expected = _expected(server, until - timedelta(days=DAYS), until)
    document = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert document["usage"]["complete"] is True and document["usage"]["days"] == DAYS
    rows = {v["voice_id"]: v for v in document["voices"]}
    for voice_id, row in rows.items():
        calls, chars, last = expected.get(voice_id, [0, 0, None])
        assert (row["usage_calls"], row["usage_chars"]) == (calls, chars), voice_id
        assert row["usage_last_call"] == (None if last is None else last.isoformat(timespec="seconds")), voice_id
    assert sum(r["usage_calls"] for r in rows.values()) == document["usage"]["calls"] > 100
    # the scan's own probes are in the log, after the run's start, and counted nowhere
    probe_records = [r for r in log if r.at >= until.timestamp()]
    assert len(probe_records) == len(probes) > 10
    probed_quiet = quiet - {caller}
    assert probed_quiet and {r.voice_id for r in probe_records} >= probed_quiet
    assert all(rows[v]["usage_calls"] == 0 for v in probed_quiet)
    assert rows[caller]["usage_calls"] == 1 and rows[caller]["usage_chars"] == len("Your appointment is at nine.")
    # the findings lead with the voices most called
    findings = [v for v in document["voices"] if v["verdict"] in ("non-compliant", "unknown")]
    assert [v["usage_calls"] for v in findings] == sorted((v["usage_calls"] for v in findings), reverse=True)
    assert document["voices"][: len(findings)] == findings
    failing = [v for v in findings if v["verdict"] == "non-compliant"]
    called = [v for v in failing if v["usage_calls"]]
    n_calls = sum(v["usage_calls"] for v in called)
    assert called and f"{len(called):,} of the {len(failing):,} answer silence to real callers: " \
        f"{n_calls:,} calls in {DAYS} days." in _headline(folder)
    csv_head = (folder / "clones.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "usage_calls,usage_chars,usage_last_call" in csv_head
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "Calls to non-compliant voices in the last 7 days" in html and "calls (7 d)" in html


async def test_an_incomplete_read_of_the_log_is_said_and_never_read_as_no_calls(tmp_path: Path) -> None:
    with running(40, 5, tmp_path, traffic_days=DAYS) as (server, settings):
        run, folder = await _scan(server, _with_usage(settings, max_pages=1), tmp_path / "out")
    document = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    usage = document["usage"]
    assert usage["complete"] is False and usage["pages"] == 1 and usage["covered_since"] > usage["since"]
    page = _expected(server, datetime.fromisoformat(usage["covered_since"]), run.started_at)
    counted = {v["voice_id"]: v["usage_calls"] for v in document["voices"] if v["usage_calls"] is not None}
    assert counted and len(counted) < len(document["voices"])  # the others are unknown (null), not 0
    assert all(n > 0 for n in counted.values())
    for voice_id, n in counted.items():  # a lower bound: at least what the page covers
        assert n >= page[voice_id][0]
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="usage-incomplete"' in html and "Counts are lower bounds" in html
    assert _headline(folder).count("At least") == 1


async def test_the_plan_goes_most_called_first_and_apply_limit_takes_the_busiest(tmp_path: Path) -> None:
    with running(40, 5, tmp_path, traffic_days=DAYS) as (server, settings):
        settings = _with_usage(settings)
        _, folder = await _scan(server, settings, tmp_path / "out")
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            planned = await plan_migration(client, settings, tmp_path / "out", scan_folder=folder)
        scanned = {v["voice_id"]: v["usage_calls"] for v in
                   json.loads((folder / "run.json").read_text(encoding="utf-8"))["voices"]}
        reclones = [e for e in planned.plan.entries if e.action is Action.RECLONE]
        calls = [e.recent_calls for e in reclones]
        assert len(reclones) >= 4 and len(set(calls)) > 1
        assert calls == sorted(calls, reverse=True)  # type: ignore[type-var]
        assert all(e.recent_calls == scanned[e.voice_id] for e in planned.plan.entries)
        run = await apply(server, settings, planned.plan_path, ApplyOptions(limit=2))
        migrated = set(replacements_on(server))
    assert migrated == {e.voice_id for e in reclones[:2]} and run.states["verified"] == 2
    assert all(e.recent_calls <= min(calls[:2]) for e in reclones[2:])  # type: ignore[operator]
    plan_csv = (planned.folder / "plan.csv").read_text(encoding="utf-8")
    assert plan_csv.splitlines()[0].endswith(",recent_calls")
    html = (planned.folder / "report.html").read_text(encoding="utf-8")
    assert 'id="plan-usage"' in html and f"{reclones[0].recent_calls:,} calls" in html
