"""The command line as a user runs it: real processes, real HTTP, exit codes, no leaked key."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, generate_archive, generate_org
from tests.support.cli import clone_audit

pytestmark = pytest.mark.integration

KEY = "sk_live_TESTSECRET_0123456789abcdef"
ANY_KEY = re.compile(r"sk_[A-Za-z0-9_]{6,}")


def written_text(folder: Path) -> str:
    """Every file written below `folder`, binary ones (the SQLite ledger) included."""
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def test_demo_tells_the_whole_story_and_never_shows_its_key(tmp_path: Path) -> None:
    done = clone_audit("demo", "--out", str(tmp_path), "--clones", "40", "-vv")
    assert done.returncode == 0, done.stderr
    runs = [p for p in tmp_path.iterdir() if p.is_dir()]
    (plan_dir,) = [p for p in runs if (p / "plan.json").exists()]

    def kind(folder: Path) -> str:
        return json.loads((folder / "run.json").read_text(encoding="utf-8"))["kind"]

    (apply_dir,) = [p for p in runs if kind(p) == "apply"]
    before_dir, after_dir = sorted(
        (p for p in runs if kind(p) == "scan"),
        key=lambda p: json.loads((p / "run.json").read_text(encoding="utf-8"))["started_at"],
    )
    assert (tmp_path / "history.sqlite").is_file()
    assert sorted(p.name for p in apply_dir.iterdir()) == [".clone-audit-run", "mapping.csv", "report.html", "run.json"]
    assert {"clones.csv", "report.html", "run.json", "plan.json", "plan.csv", "mapping.csv", "mapping.json",
            "ledger.sqlite"} <= {p.name for p in plan_dir.iterdir()}
    for scan_dir in (before_dir, after_dir):
        assert sorted(p.name for p in scan_dir.iterdir()) == [".clone-audit-run", "clones.csv", "report.html", "run.json"]
    assert "DEBUG" in done.stderr  # the most verbose level really was on
    assert not ANY_KEY.search(done.stdout + done.stderr + written_text(tmp_path))
    before = json.loads((before_dir / "run.json").read_text(encoding="utf-8"))
    after = json.loads((after_dir / "run.json").read_text(encoding="utf-8"))
    assert len(before["voices"]) == 40 and before["parameters"]["probe"]["policy"] == "all"
    mapping = json.loads((plan_dir / "mapping.json").read_text(encoding="utf-8"))
    ready = [m for m in mapping["mapping"] if m["status"] == "ready"]
    (mismatch,) = [m for m in mapping["mapping"] if m["status"] == "mismatch"]  # the one wrong speaker
    assert mismatch["fidelity"] == "mismatch" and mismatch["similarity"] < 0.84 and not mismatch["review"]
    assert all(m["fidelity"] == "match" for m in ready)
    assert f"{mismatch['old_voice_id']} → {mismatch['new_voice_id']} does not sound like its source" in done.stdout
    # the scan after the migration reads the mappings of the output folder: the mismatch is not migrated
    assert ready and after["summary"]["verdict"]["migrated"] == len(ready)
    (still,) = [v for v in after["voices"] if v["voice_id"] == mismatch["old_voice_id"]]
    assert still["verdict"] == "non-compliant" and "fidelity mismatch" in still["reason"]
    report = (apply_dir / "report.html").read_text(encoding="utf-8")
    assert "Old → new voice ids" in report and 'id="listen"' in report
    assert "Old → new voice ids" not in (plan_dir / "report.html").read_text(encoding="utf-8")  # the reviewed plan
    assert (plan_dir / "listen").is_dir() and len(list((plan_dir / "listen").iterdir())) <= 2 * 11
    assert f"Run: {after_dir / 'run.json'}" in done.stdout
    _the_demo_switches_the_agents_and_their_old_ids_go_quiet(done.stdout, runs, plan_dir, kind)


def _the_demo_switches_the_agents_and_their_old_ids_go_quiet(out: str, runs: list[Path], plan_dir: Path,
                                                             kind: Callable[[Path], str]) -> None:
    found = re.search(r"Voice agents: read (\d+); (\d+) place\(s\) in (\d+) agent\(s\) name an old voice id", out)
    assert found and int(found[2]) >= 6 and int(found[3]) >= 5, out
    assert "workflowGraph.nodes[1].data.synthesizer.voiceConfig.voiceId" in out  # a workflow node's own voice
    assert "branch weekend-hours · head" in out  # a branch that is not live is found too
    switched = re.search(r"(\d+) agent branch\(es\) switched", out)
    assert switched and int(switched[1]) >= 5
    assert len(re.findall(r"^  switched: ", out, re.M)) == int(switched[1])
    (draft,) = [line for line in out.splitlines() if line.startswith("  left alone: Support Triage")]
    assert "open draft" in draft and "Dana Whitfield" in draft  # the colleague's draft is never overwritten
    assert re.search(r"^  left alone: Collections: archived", out, re.M)
    mapping = json.loads((plan_dir / "mapping.json").read_text(encoding="utf-8"))["mapping"]
    (mismatch,) = [m["old_voice_id"] for m in mapping if m["status"] == "mismatch"]
    assert re.search(rf"^  left alone: .*{mismatch} is not ready", out, re.M)  # a row awaiting review stays
    cutover = json.loads((plan_dir / "cutover.json").read_text(encoding="utf-8"))
    assert cutover["agents"]["found"] == int(found[2])
    (written,) = cutover["agent_writes"]
    assert sum(b["state"] == "switched" for b in written["branches"]) == int(switched[1])
    sealed = json.loads(Path(written["record_file"]).read_text(encoding="utf-8"))
    gone = {c["old"] for e in sealed["agents"] if e["state"] == "published" for c in e["changes"]}
    assert mismatch not in gone and len(gone) >= 5
    # usage after the switch: every switched old id quiet; the ones left alone still called (so agents do call)
    quiet = re.search(r"Old ids quiet after the switch: (\d+) of (\d+) switched\.$", out, re.M)
    assert quiet and int(quiet[1]) == int(quiet[2]) == len(gone)
    calls = {row["old_voice_id"]: row["calls"] for row in cutover["usage"]["rows"]}
    assert cutover["usage"]["complete"] and all(calls[v] == 0 for v in gone)
    assert calls[mismatch] > 0 and re.search(rf"^  {mismatch}  [1-9]\d* call\(s\).* still called: left alone", out, re.M)
    shown = re.findall(r"^  (voice_\w+)  0 call\(s\).*  quiet  ", out, re.M)
    more = re.search(r"more switched old id\(s\) quiet, 0 call\(s\) each: (.+)$", out, re.M)
    assert set(shown) | set(more[1].split(", ") if more else []) == gone
    (cutover_dir,) = [p for p in runs if kind(p) == "cutover"]
    assert f"{cutover_dir / 'report.html'}" in out
    assert "Support Triage" in (cutover_dir / "report.html").read_text(encoding="utf-8")
    assert [p for p in runs if kind(p) == "usage"]

def test_scan_exits_1_on_findings_and_never_shows_the_key(tmp_path: Path) -> None:
    with EmulatorServer.with_org(n=30, seed=2, api_key=KEY, tts_concurrency=2) as server:
        base_url = server.base_url
        done = clone_audit("scan", "-vv", "--base-url", base_url, "--out", str(tmp_path),
                           "--concurrency", "2", env={"SMALLEST_API_KEY": KEY})
    assert done.returncode == 1, done.stderr
    assert KEY not in done.stdout + done.stderr + written_text(tmp_path)
    assert "non-compliant" in done.stderr
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert json.loads((run_dir / "run.json").read_text())["base_url"] == base_url


def test_fail_on_never_exits_0_with_the_same_findings(tmp_path: Path) -> None:
    with EmulatorServer.with_org(n=10, seed=2, api_key=KEY) as server:
        done = clone_audit("scan", "--base-url", server.base_url, "--out", str(tmp_path),
                           "--fail-on", "never", env={"SMALLEST_API_KEY": KEY})
    assert done.returncode == 0, done.stderr


def test_a_wrong_key_exits_3_with_a_hint(tmp_path: Path) -> None:
    with EmulatorServer.with_org(n=3, seed=1) as server:
        done = clone_audit("scan", "--base-url", server.base_url, "--out", str(tmp_path),
                           env={"SMALLEST_API_KEY": KEY})
    assert done.returncode == 3
    assert "401" in done.stderr and "SMALLEST_API_KEY" in done.stderr
    assert KEY not in done.stderr + done.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["history.sqlite"]  # no run folder: only the failed run's record


def test_a_missing_key_exits_2_with_a_hint(tmp_path: Path) -> None:
    done = clone_audit("scan", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "SMALLEST_API_KEY is not set" in done.stderr and "clone-audit demo" in done.stderr


def test_an_unreachable_api_exits_3(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[api]\nmax_attempts = 1\n")
    done = clone_audit("scan", "--config", str(config), "--base-url", "http://127.0.0.1:9",
                       env={"SMALLEST_API_KEY": KEY})
    assert done.returncode == 3
    assert "cannot connect" in done.stderr


def test_a_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[probe]\npolicy = 'sometimes'\n")
    done = clone_audit("scan", "--config", str(config), env={"SMALLEST_API_KEY": KEY})
    assert done.returncode == 2
    assert "[probe] policy" in done.stderr


def test_a_bad_flag_exits_2() -> None:
    assert clone_audit("scan", "--probe", "some").returncode == 2


def test_plan_apply_retire_from_the_command_line(tmp_path: Path) -> None:
    org = generate_org(30, 6)
    generate_archive(org, tmp_path / "archive", 6)
    config = EmulatorConfig(api_key=KEY, pending_s=0.05, processing_s=0.05, tts_concurrency=2)
    with EmulatorServer(EmulatorState(config, org.clones)) as server:
        env = {"SMALLEST_API_KEY": KEY, "SMALLEST_BASE_URL": server.base_url}
        out = tmp_path / "out"
        assert clone_audit("scan", "--out", str(out), env=env).returncode == 1
        (scan_dir,) = [p for p in out.iterdir() if p.is_dir()]
        seen = len(server.state.requests())
        planned = clone_audit("plan", "--archive", str(tmp_path / "archive"), "--out", str(out), env=env)
        assert f"Using the probe verdicts of the latest scan, {scan_dir}" in planned.stderr.replace("\n", "")
        assert planned.returncode == 1, planned.stderr  # some voices are blocked
        assert [e.method for e in server.state.requests()[seen:]] == ["GET"]  # plan: one list, nothing else
        plan_file = next(out.glob("*/plan.json"))
        unconfirmed = clone_audit("apply", str(plan_file), env=env)  # stdin is not a terminal
        assert unconfirmed.returncode == 2 and "no terminal to confirm on" in unconfirmed.stderr
        applied = clone_audit("apply", str(plan_file), "--yes", "--limit", "2", env=env)
        assert applied.returncode == 0, applied.stderr
        assert "verified 2" in applied.stdout
        retired = clone_audit("retire", str(plan_file), "--yes", env=env)
        assert retired.returncode == 0 and "delete these in the dashboard" in retired.stdout
        missing = clone_audit("apply", str(tmp_path / "nope.json"), "--yes", env=env)
        assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_review_accepts_a_mismatch_by_id_and_refuses_anything_else(tmp_path: Path) -> None:
    from audit.emulator.knobs import Fault

    org = generate_org(20, 6)
    generate_archive(org, tmp_path / "archive", 6)
    config = EmulatorConfig(api_key=KEY, pending_s=0.05, processing_s=0.05, tts_concurrency=2,
                            wrong_speaker=Fault(every=1), delete_mode="ok")  # every replacement is wrong
    with EmulatorServer(EmulatorState(config, org.clones)) as server:
        env = {"SMALLEST_API_KEY": KEY, "SMALLEST_BASE_URL": server.base_url}
        out = tmp_path / "out"
        clone_audit("scan", "--out", str(out), env=env)
        clone_audit("plan", "--archive", str(tmp_path / "archive"), "--out", str(out), env=env)
        plan_file = next(out.glob("*/plan.json"))
        applied = clone_audit("apply", str(plan_file), "--yes", "--limit", "2", env=env)
        assert applied.returncode == 1 and "mismatch 2" in applied.stdout, applied.stdout + applied.stderr
        rows = list(csv.DictReader((plan_file.parent / "mapping.csv").open(encoding="utf-8", newline="")))
        first, second = (r["old_voice_id"] for r in rows if r["status"] == "mismatch")
        kept = clone_audit("retire", str(plan_file), "--yes", env=env)
        assert kept.returncode == 1 and "Kept 2 legacy clone(s) whose replacement does not sound" in kept.stdout
        unknown = clone_audit("review", str(plan_file), "--accept", first, "voice_notinplan1", env={"USER": "bob"})
        assert unknown.returncode == 2 and "voice_notinplan1 is not in this migration" in unknown.stderr
        done = clone_audit("review", str(plan_file), "--accept", first, "--reject", second, env={"USER": "bob"})
        assert done.returncode == 0 and f"Accepted by bob: {first}" in done.stdout, done.stderr
        retired = clone_audit("retire", str(plan_file), "--yes", env=env)
        assert retired.returncode == 1 and "Deleted 1 legacy clone(s)." in retired.stdout
        assert server.state.clone(first) is None and server.state.clone(second) is not None
    rows = {r["old_voice_id"]: r for r in csv.DictReader((plan_file.parent / "mapping.csv").open(encoding="utf-8"))}
    assert (rows[first]["review"], rows[first]["reviewed_by"], rows[first]["status"]) == ("accepted", "bob", "ready")
    assert (rows[second]["review"], rows[second]["status"]) == ("rejected", "mismatch")
