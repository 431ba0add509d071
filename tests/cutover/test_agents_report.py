"""Voice agents in a migration's record: cutover.json, the cutover run's report in every format, history.

A real migration folder (scan, plan and apply against the emulator), then `cutover MAPPING
--agents --write --yes` in process against a fake Atoms account (respx).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import respx

from audit.cli.entry import main
from tests.support.atomsfake import BASE, FakeAtoms
from tests.support.cli import clone_audit, planned_account, run_history

pytestmark = pytest.mark.integration

KEY = "sk_live_AGENTSREPORT_0123456789abcdef"


def test_switched_agents_are_in_the_record_the_reports_and_the_history(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with planned_account(tmp_path, KEY, 20, 6) as account:
        plan_file = account.plan_file
        assert clone_audit("apply", str(plan_file), "--yes", "--limit", "2", env=account.env).returncode == 0
    mapping = plan_file.parent / "mapping.csv"
    ready = [r for r in csv.DictReader(io.StringIO(mapping.read_text(encoding="utf-8"), newline=""))
             if r["status"] == "ready"]
    old, new = ready[0]["old_voice_id"], ready[0]["new_voice_id"]
    fake = FakeAtoms()
    agent = fake.agent("Front desk", old)
    monkeypatch.setenv("SMALLEST_API_KEY", KEY)
    with respx.mock as router:
        fake.install(router)
        code = main(["cutover", str(mapping), "--agents", "--write", "--yes", "--base-url", BASE])
    out = capsys.readouterr().out
    assert code == 0, out
    assert agent.branches[0].head.config["synthesizer"]["voiceConfig"]["voiceId"] == new

    record = json.loads((plan_file.parent / "cutover.json").read_text(encoding="utf-8"))
    assert record["agents"]["found"] == 1 and record["agents"]["remaining"] == 0
    assert record["agents"]["items"][0]["path"] == "synthesizer.voiceConfig.voiceId"
    (switch,) = record["agent_writes"]
    assert switch["branches"][0]["state"] == "switched" and Path(switch["record_file"]).is_file()

    run_json = Path(re.findall(r"^Run: (.+)$", out, re.M)[-1])
    html = (run_json.parent / "report.html").read_text(encoding="utf-8")
    assert "Voice agents" in html and agent.id in html and "agent branches switched" in html
    (entry,) = [r for r in run_history(account.out) if r["folder"] and Path(r["folder"]) == run_json.parent]
    assert entry["kind"] == "cutover" and entry["exit_code"] == 0
    markdown = clone_audit("report", str(run_json.parent), "--format", "markdown", "--out", str(account.out))
    assert "| agent branches switched | 1 (0 not) |" in markdown.stdout, markdown.stdout + markdown.stderr
    as_json = clone_audit("report", str(run_json.parent), "--format", "json", "--out", str(account.out))
    assert '"agent_branches_switched": 1' in as_json.stdout, as_json.stdout[-2000:]
