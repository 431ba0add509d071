"""The command line as a script reads it: every command that writes a run ends with its
`Run:` line, under --quiet too, and --json prints one JSON document a script can parse.

Driven through the real command line against the emulator, one applied migration shared by
the module (apply with a mismatch, review, retire, cutover, usage; then scan and plan again).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from audit.core.userstate import ENV_STATE_DIR
from audit.emulator.knobs import Fault
from audit.report.tables import DATE_COLUMNS
from tests.support.cli import Planned, clone_audit, planned_account

pytestmark = pytest.mark.integration

KEY = "sk_live_SCRIPTING_0123456789abcdef"


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Planned, subprocess.CompletedProcess[str]]]:
    """24 voices scanned and planned, two applied: one verified, one speaking as someone else.
    Its env (used by every call) names the module's own per-user state folder: the plan's seal
    and the rollback file's are made with its key."""
    tmp = tmp_path_factory.mktemp("scripting")
    state = tmp_path_factory.mktemp("scripting-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_STATE_DIR, str(state))
        with planned_account(tmp, KEY, 24, 6, wrong_speaker=Fault(every=2), traffic_days=2) as planned:
            planned = dataclasses.replace(planned, env={**planned.env, ENV_STATE_DIR: str(state)})
            done = clone_audit("apply", str(planned.plan_file), "--yes", "--limit", "2", env=planned.env)
            assert done.returncode == 1, done.stdout + done.stderr
            yield planned, done


def run_line(done: subprocess.CompletedProcess[str], kind: str) -> dict[str, Any]:
    """The last stdout line is `Run: <run.json>` of a run of `kind` that exited as the process did."""
    lines = done.stdout.rstrip("\n").splitlines()
    assert lines and lines[-1].startswith("Run: "), (done.stdout, done.stderr)
    run_json = Path(lines[-1].removeprefix("Run: "))
    document = json.loads(run_json.read_text(encoding="utf-8"))
    assert (document["kind"], document["exit_code"]) == (kind, done.returncode), done.stderr
    return document


def quiet(done: subprocess.CompletedProcess[str], kind: str) -> dict[str, Any]:
    """Under --quiet, the `Run:` line is all stdout holds."""
    assert len(done.stdout.splitlines()) == 1, (done.stdout, done.stderr)
    return run_line(done, kind)


def summary(done: subprocess.CompletedProcess[str], kind: str) -> dict[str, Any]:
    """--json: stdout is one JSON document naming the run's kind, folder and the process's exit code."""
    document = json.loads(done.stdout)
    assert (document["kind"], document["exit_code"]) == (kind, done.returncode), done.stderr
    assert "Run: " not in done.stdout
    folder = Path(document["run_folder"])
    stored = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert (stored["run_id"], stored["kind"], stored["exit_code"]) == (document["run_id"], kind, done.returncode)
    return document


def test_migration_commands_end_with_their_run_under_quiet_and_json(
    applied: tuple[Planned, subprocess.CompletedProcess[str]], tmp_path: Path,
) -> None:
    planned, first = applied
    plan, env = str(planned.plan_file), planned.env
    run_line(first, "apply")
    quiet(clone_audit("apply", plan, "--yes", "--limit", "1", "--quiet", env=env), "apply")
    done = summary(clone_audit("apply", plan, "--yes", "--limit", "1", "--json", env=env), "apply")
    assert done["outcomes"] and sum(done["outcomes"].values()) == done["voices"]

    retired = summary(clone_audit("retire", plan, "--yes", "--json", env=env), "retire")
    assert retired["retire"]["awaiting_review"] == 1  # the mismatch waits for a person
    quiet(clone_audit("retire", plan, "--yes", "--quiet", env=env), "retire")

    rows = json.loads((planned.plan_file.parent / "mapping.json").read_text(encoding="utf-8"))["mapping"]
    (mismatch,) = [r["old_voice_id"] for r in rows if r["status"] == "mismatch"]
    listed = clone_audit("review", plan, env=env)  # no id: what awaits a decision, and where to listen
    assert listed.returncode == 0, listed.stderr
    waiting = json.loads(clone_audit("review", plan, "--json", env=env).stdout)["awaiting_review"]
    assert [w["old_voice_id"] for w in waiting] == [mismatch]
    (line,) = [line for line in listed.stdout.splitlines() if mismatch in line]
    assert f"{waiting[0]['similarity']:.2f}" in line
    assert all(Path(clip).is_file() and clip in line for clip in waiting[0]["clips"])
    reviewed = summary(clone_audit("review", plan, "--accept", mismatch, "--json", env={**env, "USER": "ann"}), "review")
    assert reviewed["review"] == {"accepted": 1, "rejected": 0}

    ready = [r["old_voice_id"] for r in rows if r["status"] == "ready"]
    app = tmp_path / "app"
    app.mkdir()
    (app / "voices.py").write_text(f'VOICE = "{ready[0]}"\n', encoding="utf-8")
    mapping = str(planned.plan_file.parent / "mapping.csv")
    dry = summary(clone_audit("cutover", mapping, str(app), "--json", env=env), "cutover")
    assert dry["exit_code"] == 1 and dry["cutover"]["scan"]["remaining"] == 1
    quiet(clone_audit("cutover", mapping, str(app), "--quiet", env=env), "cutover")
    written = quiet(clone_audit("cutover", mapping, str(app), "--write", "--quiet", env=env), "cutover")
    rollback_file = written["cutover"]["write"]["rollback_file"]
    assert ready[0] not in (app / "voices.py").read_text(encoding="utf-8")
    undone = summary(clone_audit("cutover", "--rollback", rollback_file, "--json", env=env), "cutover")
    assert undone["cutover"]["rollback"]["restored"] == 1

    quiet(clone_audit("usage", mapping, "--since", "2000-01-01", "--quiet", env=env), "usage")
    used = summary(clone_audit("usage", mapping, "--since", "2000-01-01", "--json", env=env), "usage")
    assert used["cutover"]["usage"]["old_ids"] == len(rows)
    # without a mapping there is no run: the document itself holds what the log said
    bare = clone_audit("usage", "--since", "2000-01-01", "--out", str(planned.out), "--json", env=env)
    read = json.loads(bare.stdout)["usage"]
    assert read["complete"] is True and read["called"] and read["own_calls"]["runs"] >= 1

    scan_folder = Path(planned.scanned.stdout.splitlines()[-1].removeprefix("Run: ")).parent
    for table in (planned.plan_file.parent / "mapping.csv", scan_folder / "clones.csv", planned.plan_file.parent / "clones.csv"):
        for row in csv.DictReader(table.open(encoding="utf-8", newline="")):
            for column in DATE_COLUMNS & row.keys():
                if row[column]:
                    datetime.fromisoformat(row[column])  # a date or a time, nothing else


def test_scan_and_plan_end_with_their_run_under_quiet_and_json(
    applied: tuple[Planned, subprocess.CompletedProcess[str]],
) -> None:
    planned, _ = applied
    out, env = str(planned.out), planned.env
    run_line(planned.scanned, "scan")
    quiet(clone_audit("scan", "--out", out, "--quiet", env=env), "scan")
    scanned = summary(clone_audit("scan", "--out", out, "--json", env=env), "scan")
    assert scanned["voices"] == 24 and sum(scanned["verdicts"].values()) == 24  # a replacement is not a voice

    before = sorted(planned.out.glob("*/plan.json"))
    no_archive = clone_audit("plan", "--out", out, env=env)
    assert no_archive.returncode == 2 and "--archive" in no_archive.stderr and "[archive]" in no_archive.stderr
    assert sorted(planned.out.glob("*/plan.json")) == before  # no plan was written

    archive = str(planned.plan_file.parent.parent.parent / "archive")
    quiet(clone_audit("plan", "--archive", archive, "--out", out, "--quiet", env=env), "plan")
    plan = summary(clone_audit("plan", "--archive", archive, "--out", out, "--json", env=env), "plan")
    assert sum(plan["actions"].values()) == len(planned.server.state.clones())  # replacements included
    assert Path(plan["plan_file"]).is_file() and Path(plan["plan_file"]).parent == Path(plan["run_folder"])


def test_a_failed_run_under_json_still_prints_one_document(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[api]\nmax_attempts = 1\n")
    done = clone_audit("scan", "--config", str(config), "--out", str(tmp_path / "out"), "--json",
                       "--base-url", "http://127.0.0.1:9", env={"SMALLEST_API_KEY": KEY})
    document = json.loads(done.stdout)
    assert done.returncode == 3
    assert (document["kind"], document["exit_code"], document["run_folder"]) == ("scan", 3, None)
    assert document["error"]
