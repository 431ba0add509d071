"""`scan --fail-on new` / `--baseline RUN`: accept today's debt, fail on regressions. Scans of a
changing emulated org through the CLI's own entry point, with waivers beside the gate."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from audit.cli import main
from audit.compliance.gate import Baseline, judge
from audit.core.errors import ExitCode
from audit.core.models import Clone, Compatibility, FailOn, ProbeResult, ProbeVerdict, Verdict, VoiceResult
from audit.emulator import EmulatorServer
from audit.scan.rules import exit_code


def _result(voice_id: str, verdict: Verdict) -> VoiceResult:
    return VoiceResult(Clone(voice_id, voice_id), Compatibility.LEGACY_ONLY, ProbeResult(ProbeVerdict.SPEAKS), verdict, "")


def test_fail_on_new_counts_only_voices_not_non_compliant_in_the_baseline() -> None:
    results = [_result("voice_old0000001", Verdict.NON_COMPLIANT), _result("voice_new0000001", Verdict.NON_COMPLIANT),
               _result("voice_kept000001", Verdict.EXCEPTED)]
    assert exit_code(results, FailOn.NEW, {"voice_old0000001", "voice_new0000001"}) is ExitCode.OK
    assert exit_code(results, FailOn.NEW, {"voice_old0000001"}) is ExitCode.FINDINGS
    assert exit_code(results, FailOn.NEW) is ExitCode.FINDINGS  # no baseline: every non-compliant voice
    assert exit_code(results, FailOn.NON_COMPLIANT, {"voice_old0000001", "voice_new0000001"}) is ExitCode.FINDINGS
    gate = judge([("voice_old0000001", "Old"), ("voice_new0000001", "New")],
                 Baseline("r1", "2026-12-01T09:00:00+00:00", frozenset({"voice_old0000001"})))
    assert gate.new == ("voice_new0000001",) and gate.known == ("voice_old0000001",)
    assert "voice_new0000001 (New)" in gate.lines()[0] and "r1" in gate.lines()[0]
    fallback = judge([("voice_old0000001", "Old")], None, "no earlier scan of this account")
    assert fallback.new == ("voice_old0000001",) and "no earlier scan of this account" in fallback.lines()[0]


def _set_engine(server: EmulatorServer, voice_id: str, engine: str) -> None:
    record = server.state.clone(voice_id)
    assert record is not None
    server.state.remove_clone(voice_id)
    server.state.add_clone(replace(record, engine=engine))  # type: ignore[arg-type]


def _scan(out: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, dict]:
    code = main(["scan", "--out", str(out), *args])
    shown = capsys.readouterr().out
    run_json = Path(next(line for line in shown.splitlines() if line.startswith("Run: "))[5:])
    return code, shown, json.loads(run_json.read_text(encoding="utf-8"))


def _verdicts(document: dict, verdict: str) -> list[str]:
    return sorted(v["voice_id"] for v in document["voices"] if v["verdict"] == verdict)


@pytest.mark.integration
def test_the_gate_accepts_old_debt_fails_on_a_regression_and_lets_a_waiver_stand(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    with EmulatorServer.with_org(n=14, seed=4, tts_concurrency=4) as server:
        monkeypatch.setenv("SMALLEST_API_KEY", server.api_key)
        monkeypatch.setenv("SMALLEST_BASE_URL", server.base_url)
        code, shown, first = _scan(out, capsys, "--fail-on", "new")
        debt = _verdicts(first, "non-compliant")
        assert debt and code == ExitCode.FINDINGS  # no baseline yet: every non-compliant voice fails, and it says so
        assert "no earlier scan" in shown and first["gate"]["baseline_run_id"] is None
        assert first["gate"]["new"] == debt

        code, shown, again = _scan(out, capsys, "--fail-on", "new")
        assert code == ExitCode.FINDINGS, shown  # a failed gate is no baseline: re-running it accepts nothing
        assert again["gate"]["baseline_run_id"] is None and "clone-audit scan" in shown

        _, _, accepted = _scan(out, capsys)  # a plain scan records today's debt
        code, shown, second = _scan(out, capsys, "--fail-on", "new")
        assert code == ExitCode.OK, shown  # the same debt: accepted
        assert second["gate"]["baseline_run_id"] == accepted["run_id"] and second["gate"]["new"] == []
        assert "no voice is newly non-compliant" in shown

        fine = next(v for v in _verdicts(second, "compliant"))
        _set_engine(server, fine, "legacy")  # a regression
        code, shown, third = _scan(out, capsys, "--fail-on", "new")
        assert code == ExitCode.FINDINGS and third["gate"]["new"] == [fine]
        assert f"1 voice(s) newly non-compliant: {fine}" in shown and third["gate"]["baseline_run_id"] == second["run_id"]
        code, shown, rerun = _scan(out, capsys, "--fail-on", "new")  # the same command again, nothing accepted
        assert code == ExitCode.FINDINGS and rerun["gate"]["new"] == [fine], shown
        assert rerun["gate"]["baseline_run_id"] == second["run_id"] and second["run_id"] in shown
        html = (out / third["run_id"] / "report.html").read_text(encoding="utf-8")
        assert 'id="gate"' in html and fine in html.split('id="gate"')[1].split("</p>")[0]
        assert main(["report", third["run_id"], "--format", "markdown", "--out", str(out)]) == 0
        assert f"newly non-compliant: {fine}".replace("_", "\\_") in capsys.readouterr().out

        waivers = tmp_path / "waivers.csv"
        waivers.write_text(f"voice_id,reason,owner,expires\n{fine},fixing it this sprint,ops,2099-01-01\n",
                           encoding="utf-8")
        code, shown, fourth = _scan(out, capsys, "--fail-on", "new", "--exceptions", str(waivers))
        assert code == ExitCode.OK, shown  # waived: never a failure, baseline or not
        assert fourth["gate"]["new"] == []

        # --baseline RUN: against the first scan, the regressed voice is new (waiver left out)
        code, shown, fifth = _scan(out, capsys, "--baseline", first["run_id"])
        assert code == ExitCode.FINDINGS and fifth["gate"]["new"] == [fine]
        assert fifth["parameters"]["report"]["fail_on"] == "new"


@pytest.mark.integration
def test_a_scan_of_another_api_is_never_a_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    with EmulatorServer.with_org(n=8, seed=4, tts_concurrency=4) as one:
        monkeypatch.setenv("SMALLEST_API_KEY", one.api_key)
        monkeypatch.setenv("SMALLEST_BASE_URL", one.base_url)
        _, _, theirs = _scan(out, capsys)
    with EmulatorServer.with_org(n=8, seed=4, tts_concurrency=4) as other:
        monkeypatch.setenv("SMALLEST_API_KEY", other.api_key)
        monkeypatch.setenv("SMALLEST_BASE_URL", other.base_url)
        code, shown, mine = _scan(out, capsys, "--fail-on", "new")
        assert mine["gate"]["baseline_run_id"] is None and "no earlier scan of this account and API" in shown
        assert code == (ExitCode.FINDINGS if _verdicts(mine, "non-compliant") else ExitCode.OK)
        assert main(["scan", "--out", str(out), "--baseline", theirs["run_id"]]) == ExitCode.USAGE
        assert "another account or API" in capsys.readouterr().err
        assert main(["scan", "--out", str(out), "--fail-on", "unknown", "--baseline", mine["run_id"]]) == ExitCode.USAGE
