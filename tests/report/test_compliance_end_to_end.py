"""Periodic compliance on the emulator: history across scans of a changing org, offline reports,
waivers. Real HTTP, real SQLite history, the CLI's own entry point."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit.api.client import WavesClient
from audit.cli import main
from audit.core.config import ApiSettings, ProbeSettings, ReportSettings, Settings
from audit.core.errors import ExitCode
from audit.core.models import ProbePolicy, ProbeVerdict, Verdict
from audit.core.secrets import Secret
from audit.emulator import EmulatorServer
from audit.emulator.state import CloneRecord
from audit.pipeline.scan import ScanRun, scan_organisation, write_scan_reports

pytestmark = pytest.mark.integration


def _settings(server: EmulatorServer, **report: object) -> Settings:
    return Settings(
        api=ApiSettings(base_url=server.base_url, concurrency=4, backoff_initial_s=0.01, backoff_max_s=0.05),
        probe=ProbeSettings(policy=ProbePolicy.ALL),
        report=ReportSettings(**report),  # type: ignore[arg-type]
    )


async def _scan(server: EmulatorServer, out: Path, **report: object) -> tuple[ScanRun, Path]:
    settings = _settings(server, out_dir=str(out), **report)
    async with WavesClient(settings.api, Secret(server.api_key)) as client:
        run = await scan_organisation(client, settings, out_root=out)
    return run, write_scan_reports(run, out).folder


def _set_engine(server: EmulatorServer, voice_id: str, engine: str) -> None:
    record = server.state.clone(voice_id)
    assert record is not None
    server.state.remove_clone(voice_id)
    server.state.add_clone(replace(record, engine=engine))  # type: ignore[arg-type]


def _history(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text(encoding="utf-8"))["history"]


async def test_three_scans_of_a_changing_org_say_what_changed_and_draw_a_trend(tmp_path: Path) -> None:
    with EmulatorServer.with_org(n=30, seed=4, tts_concurrency=4) as server:
        first, first_dir = await _scan(server, tmp_path)
        speaking = sorted(r.clone.voice_id for r in first.results
                          if r.verdict is Verdict.COMPLIANT and r.probe.verdict is ProbeVerdict.SPEAKS)
        short = sorted(r.clone.voice_id for r in first.results if r.probe.verdict is ProbeVerdict.SHORT_WAV)
        assert len(speaking) >= 3 and len(short) >= 3
        # Between scan 1 and 2: two voices fixed, one regressed, one gone, one new.
        for voice_id in short[:2]:
            _set_engine(server, voice_id, "v3.1")
        _set_engine(server, speaking[0], "legacy")
        server.state.remove_clone(speaking[1])
        template = server.state.clone(speaking[2])
        assert template is not None
        server.state.add_clone(CloneRecord("voice_brandnew0001", "legacy", {**template.fields, "displayName": "New"}))
        second, second_dir = await _scan(server, tmp_path)
        # Between scan 2 and 3: the regressed voice is fixed again.
        _set_engine(server, speaking[0], "v3.1")
        third, third_dir = await _scan(server, tmp_path)

    changes = _history(second_dir)["changes"]
    assert changes["previous_run_id"] == first.run_id
    counts = changes["counts"]
    assert (counts["new"], counts["fixed"], counts["regressed"], counts["gone"]) == (1, 2, 1, 1)
    assert sorted(changes["fixed"]) == short[:2] and changes["regressed"] == [speaking[0]]
    assert changes["new"] == ["voice_brandnew0001"] and changes["gone"] == [speaking[1]]
    assert set(short[2:]) <= set(changes["still_failing"])

    history = _history(third_dir)
    assert history["changes"]["previous_run_id"] == second.run_id
    assert history["changes"]["fixed"] == [speaking[0]] and history["changes"]["regressed"] == []
    trend = history["trend"]
    assert [p["run_id"] for p in trend] == [first.run_id, second.run_id, third.run_id]
    bad = [sum(r.verdict is Verdict.NON_COMPLIANT for r in run.results) for run in (first, second, third)]
    assert [p["counts"].get("non-compliant", 0) for p in trend] == bad
    html = (third_dir / "report.html").read_text(encoding="utf-8")
    assert html.count('class="point"') == 3  # three points on the trend chart
    # A voice still failing since scan 1 is dated from scan 1; the new one from scan 2.
    rows = {row["voice_id"]: row for row in csv.DictReader(io.StringIO((third_dir / "clones.csv").read_text()))}
    assert rows[short[2]]["first_noncompliant"] == first.finished_at.date().isoformat()
    assert rows["voice_brandnew0001"]["first_noncompliant"] == second.finished_at.date().isoformat()
    assert rows[speaking[0]]["change"] == "fixed"


async def test_report_rerenders_any_run_offline_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    with EmulatorServer.with_org(n=20, seed=5, tts_concurrency=4) as server:
        first, _ = await _scan(server, tmp_path)
        _set_engine(server, next(r.clone.voice_id for r in first.results
                                 if r.probe.verdict is ProbeVerdict.SHORT_WAV), "v3.1")
        second, second_dir = await _scan(server, tmp_path)
        monkeypatch.delenv("SMALLEST_API_KEY", raising=False)  # no key: nothing could call the API
        seen = len(server.state.requests())
        out = ["--out", str(tmp_path)]
        assert main(["report", second.run_id, "--format", "markdown", *out]) == 0
        markdown = capsys.readouterr().out
        assert main(["report", "latest", "--format", "json", *out]) == 0
        document = json.loads(capsys.readouterr().out)
        assert main(["report", second.run_id, "--against", first.run_id, "-o", str(tmp_path / "r.html"), *out]) == 0
        assert "Wrote" in capsys.readouterr().out
        assert main(["report", str(second_dir), "--format", "csv", "--excel", "-o", str(tmp_path / "r.csv"),
                     "--quiet", *out]) == 0
        quiet = capsys.readouterr()
        assert main(["history", "--json", *out]) == 0
        runs = json.loads(capsys.readouterr().out)
        assert len(server.state.requests()) == seen  # not one request reached the emulator
    assert markdown.startswith(f"## clone-audit scan `{second.run_id}`") and "| non-compliant |" in markdown
    assert "1 fixed" in markdown
    assert document["run_id"] == second.run_id and document["history"]["changes"]["counts"]["fixed"] == 1
    assert len(document["voices"]) == 20 and document["headline"].startswith(
        f"{document['summary']['verdict']['non-compliant']} of 20 voices")
    assert "1 fixed" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert (tmp_path / "r.csv").read_bytes().startswith(b"\xef\xbb\xbf") and quiet.out == quiet.err == ""
    assert [r["run_id"] for r in runs] == [first.run_id, second.run_id] and runs[0]["kind"] == "scan"
    assert runs[0]["account"] == Secret(server.api_key).fingerprint() and server.api_key not in json.dumps(runs)


def _exceptions(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["voice_id,reason,owner,expires"] + [f"{v},kept for the IVR until the new one ships,ops,{d}"
                                                   for v, d in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_a_waived_voice_does_not_fail_the_run_but_an_expired_waiver_does(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    later, earlier = (today + timedelta(days=30)).isoformat(), (today - timedelta(days=1)).isoformat()
    with EmulatorServer.with_org(n=20, seed=6, tts_concurrency=4) as server:
        plain, _ = await _scan(server, tmp_path / "plain")
        bad = sorted(r.clone.voice_id for r in plain.results if r.verdict is Verdict.NON_COMPLIANT)
        assert bad and plain.exit_code is ExitCode.FINDINGS
        waived = _exceptions(tmp_path / "ok.csv", [(v, later) for v in bad] + [("voice_notonaccount", later)])
        excepted, excepted_dir = await _scan(server, tmp_path / "waived", exceptions=str(waived))
        lapsed = _exceptions(tmp_path / "lapsed.csv", [(v, later) for v in bad[1:]] + [(bad[0], earlier)])
        expired, expired_dir = await _scan(server, tmp_path / "expired", exceptions=str(lapsed))
    assert excepted.exit_code is ExitCode.OK
    assert {r.clone.voice_id for r in excepted.results if r.verdict is Verdict.EXCEPTED} == set(bad)
    document = json.loads((excepted_dir / "run.json").read_text(encoding="utf-8"))
    assert document["summary"]["verdict"]["excepted"] == len(bad)
    assert document["summary"]["verdict"]["non-compliant"] == 0
    assert [w["voice_id"] for w in document["exceptions"]["unknown_ids"]] == ["voice_notonaccount"]
    html = (excepted_dir / "report.html").read_text(encoding="utf-8")
    assert f"Excepted by waiver ({len(bad)})" in html and "voice_notonaccount" in html
    assert expired.exit_code is ExitCode.FINDINGS
    (still,) = [r for r in expired.results if r.clone.voice_id == bad[0]]
    assert still.verdict is Verdict.NON_COMPLIANT and still.reason.startswith(f"waiver expired on {earlier}")
    assert "1 waiver(s) expired" in (expired_dir / "report.html").read_text(encoding="utf-8")
