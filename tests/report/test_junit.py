"""JUnit XML of a scan (`scan --junit FILE`, `report RUN --format junit`): what a CI's test
view shows, parsed back with xml.etree: a case per voice, failures, errors, skips and counts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit.cli import main
from audit.core.errors import ExitCode
from audit.emulator import EmulatorServer
from audit.report.junit import render_junit
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord, VoiceRow

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOSTILE = "Eve </testcase><x a=\"&\"> ]]> \x1b[31m\x00\u202e\ud800 \U0001F600"


def _record(*voices: VoiceRow, kind: RunKind = RunKind.SCAN) -> RunRecord:
    return RunRecord(kind=kind, run_id="20261201T090000Z-ab12", started_at=START,
                     finished_at=START + timedelta(seconds=42.5), base_url="https://api.example",
                     exit_code=ExitCode.FINDINGS, account="acct1234", voices=voices)


ROWS = (
    VoiceRow("voice_good000001", display_name="Ann", pool="standard", verdict="compliant"),
    VoiceRow("voice_bad0000001", display_name=HOSTILE, pool="pro", verdict="non-compliant", cause="short-wav",
             reason="HTTP 200 with 44 bytes: a header and no samples", probe_verdict="short-wav"),
    VoiceRow("voice_what000001", display_name="Cid", pool="unknown", verdict="unknown", cause="probe-error",
             reason="the probe failed: HTTP 503", probe_verdict="error"),
    VoiceRow("voice_kept000001", display_name="Dee", pool="standard", verdict="excepted",
             exception_owner="ops", exception_expires="2027-01-31",
             reason="excepted until 2027-01-31 by ops: kept for the IVR"),
    VoiceRow("voice_done000001", verdict="migrated", pool="both"),
)


def test_each_voice_is_a_test_case_failed_errored_or_skipped_as_its_verdict_says() -> None:
    text = render_junit(_record(*ROWS))
    root = ET.fromstring(text.encode("utf-8"))  # well-formed XML, hostile name and all
    (suite,) = root.findall("testsuite")
    for element in (root, suite):
        assert {k: element.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
            "tests": "5", "failures": "1", "errors": "1", "skipped": "1"}
    assert suite.get("time") == "42.500"
    assert datetime.fromisoformat(suite.get("timestamp") or "") == START
    cases = {c.get("name", "").split(" ")[0]: c for c in suite.findall("testcase")}
    assert list(cases) == [r.voice_id for r in ROWS]
    assert cases["voice_good000001"].get("name") == "voice_good000001 Ann" and len(cases["voice_good000001"]) == 0
    assert cases["voice_good000001"].get("classname") == "clone-audit.scan.standard"
    assert cases["voice_what000001"].get("classname") == "clone-audit.scan"  # the pool is not known
    failure = cases["voice_bad0000001"].find("failure")
    assert failure is not None and failure.get("message") == "short-wav"
    assert "HTTP 200 with 44 bytes" in (failure.text or "")
    error = cases["voice_what000001"].find("error")
    assert error is not None and error.get("message") == "probe-error" and "HTTP 503" in (error.text or "")
    skipped = cases["voice_kept000001"].find("skipped")
    assert skipped is not None and "ops" in (skipped.get("message") or "") and "2027-01-31" in (skipped.get("message") or "")
    assert len(cases["voice_done000001"]) == 0  # migrated: a pass
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["run_id"] == "20261201T090000Z-ab12" and props["exit_code"] == "1"


def test_a_hostile_display_name_is_escaped_not_markup_nor_a_control_character() -> None:
    text = render_junit(_record(ROWS[1]))
    name = ET.fromstring(text.encode("utf-8")).find("testsuite/testcase").get("name")  # type: ignore[union-attr]
    assert name is not None and name.startswith("voice_bad0000001 Eve </testcase><x a=\"&\"> ]]>")
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text and "\ud800" not in text
    assert "\\x1b" in name and "\U0001F600" in name  # visible escapes; a real emoji kept


def test_junit_is_refused_for_a_run_without_verdicts(tmp_path: Path) -> None:
    from audit.core.errors import UsageError
    from audit.pipeline.machine import junit_of

    with pytest.raises(UsageError, match="JUnit XML is made from a scan"):
        junit_of(_record(kind=RunKind.APPLY))


@pytest.mark.integration
def test_scan_junit_and_report_junit_agree_with_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out, junit = tmp_path / "out", tmp_path / "scan.xml"
    with EmulatorServer.with_org(n=12, seed=4, tts_concurrency=4) as server:
        monkeypatch.setenv("SMALLEST_API_KEY", server.api_key)
        monkeypatch.setenv("SMALLEST_BASE_URL", server.base_url)
        first = json.loads(_scan_json(["--out", str(out)], capsys))
        bad = [v["voice_id"] for v in json.loads((Path(first["run_json"])).read_text())["voices"]
               if v["verdict"] == "non-compliant"]
        assert bad, "the generated org has non-compliant voices"
        waivers = tmp_path / "waivers.csv"
        waivers.write_text(f"voice_id,reason,owner,expires\n{bad[0]},kept for the IVR,ops,2099-01-01\n", encoding="utf-8")
        code = main(["scan", "--out", str(out), "--exceptions", str(waivers), "--junit", str(junit)])
    shown = capsys.readouterr().out
    assert code == (ExitCode.FINDINGS if len(bad) > 1 else ExitCode.OK)
    assert f"JUnit: {junit}" in shown
    document = json.loads(next(p for p in sorted(out.glob("*/run.json")) if p.parent.name != first["run_id"]).read_text())
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    verdicts = document["summary"]["verdict"]
    assert suite.get("tests") == str(len(document["voices"]))
    assert suite.get("failures") == str(verdicts.get("non-compliant", 0)) == str(len(bad) - 1)
    assert suite.get("skipped") == "1" and suite.get("errors") == str(verdicts.get("unknown", 0))
    skipped = [c.get("name", "").split(" ")[0] for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert skipped == [bad[0]]
    # the same run re-rendered offline, no key needed
    monkeypatch.delenv("SMALLEST_API_KEY")
    assert main(["report", document["run_id"], "--format", "junit", "--out", str(out)]) == 0
    again = ET.fromstring(capsys.readouterr().out.encode("utf-8")).find("testsuite")
    assert again is not None
    assert [c.attrib for c in again.findall("testcase")] == [c.attrib for c in suite.findall("testcase")]


def _scan_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    main(["scan", *args, "--json"])
    return capsys.readouterr().out


@pytest.mark.parametrize("run_id, verdict", [("r1", "bad\x01\x1b[31m"), ("r\x0c1", "non-compliant"),
                                             ("r\x0b\x1b[2J", "non\x00compliant")])
def test_a_tampered_run_json_with_control_characters_still_makes_well_formed_xml(run_id: str, verdict: str) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    record = RunRecord(kind=RunKind.SCAN, run_id=run_id, started_at=at, finished_at=at, base_url="u",
                       exit_code=ExitCode.OK, account="a", voices=(VoiceRow("voice_x", verdict=verdict),))
    root = ET.fromstring(render_junit(record).encode("utf-8"))  # well-formed: it parses
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name", "").startswith("clone-audit")
    assert not any(ord(c) < 0x20 for c in suite.get("name", ""))
    (case,) = root.iter("testcase")
    (marked,) = list(case)
    assert marked.tag in ("failure", "error") and not any(ord(c) < 0x20 for c in marked.get("type", ""))
