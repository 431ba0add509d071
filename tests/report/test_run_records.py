"""Every kind of run records the exit code its process returned, in run.json and in the history.

Driven through the real command line against the emulator: scan, plan, apply, review, retire,
cutover (dry run, write, rollback), usage, and runs that fail after their arguments were parsed.
The `Run:` line each prints is the run it wrote, never an older one.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, generate_archive, generate_org
from audit.emulator.knobs import Fault
from tests.support.cli import clone_audit, recorded, run_document, run_history

pytestmark = pytest.mark.integration

KEY = "sk_live_RUNRECORDS_0123456789abcdef"


def test_every_kind_of_run_records_the_exit_code_its_process_returned(tmp_path: Path) -> None:
    org = generate_org(24, 6)
    generate_archive(org, tmp_path / "archive", 6)
    config = EmulatorConfig(api_key=KEY, pending_s=0.05, processing_s=0.05, tts_concurrency=2,
                            wrong_speaker=Fault(every=2), traffic_days=2)
    out = tmp_path / "out"
    runs: list[tuple[subprocess.CompletedProcess[str], str]] = []  # checked against the history at the end

    def recording(done: subprocess.CompletedProcess[str], kind: str) -> dict[str, Any]:
        runs.append((done, kind))
        return run_document(done, kind)

    with EmulatorServer(EmulatorState(config, org.clones)) as server:
        env = {"SMALLEST_API_KEY": KEY, "SMALLEST_BASE_URL": server.base_url}
        scanned = clone_audit("scan", "--out", str(out), env=env)
        assert scanned.returncode == 1
        recording(scanned, "scan")

        planned = clone_audit("plan", "--archive", str(tmp_path / "archive"), "--out", str(out), env=env)
        assert planned.returncode == 1  # some voices are blocked
        plan = recording(planned, "plan")
        plan_file = out / plan["run_id"] / "plan.json"

        nothing_yet = clone_audit("retire", str(plan_file), "--yes", env=env)
        assert nothing_yet.returncode == 2  # no ledger: a failed run, recorded as one (checked below)

        applied = clone_audit("apply", str(plan_file), "--yes", "--limit", "2", env=env)
        assert applied.returncode == 1, applied.stderr  # one of the two speaks as someone else
        recording(applied, "apply")
        rows = list(csv.DictReader((plan_file.parent / "mapping.csv").open(encoding="utf-8", newline="")))
        (mismatch,) = [r["old_voice_id"] for r in rows if r["status"] == "mismatch"]
        (ready,) = [r for r in rows if r["status"] == "ready"]

        kept = clone_audit("retire", str(plan_file), "--yes", env=env)  # deletion is off: the dashboard
        assert kept.returncode == 1  # the mismatch is kept for a person to review
        retire = recording(kept, "retire")
        assert retire["retire"]["awaiting_review"] == [mismatch]
        assert retire["retire"]["for_dashboard"] == [ready["old_voice_id"]]

        reviewed = clone_audit("review", str(plan_file), "--accept", mismatch, env={"USER": "ann"})
        assert reviewed.returncode == 0
        recording(reviewed, "review")

        again = clone_audit("retire", str(plan_file), "--yes", env=env)
        assert again.returncode == 0
        recording(again, "retire")

        app = tmp_path / "app"
        app.mkdir()
        (app / "voices.py").write_text(f'VOICE = "{ready["old_voice_id"]}"\n', encoding="utf-8")
        mapping = plan_file.parent / "mapping.csv"
        dry = clone_audit("cutover", str(mapping), str(app))
        assert dry.returncode == 1  # the old id is still there
        recording(dry, "cutover")
        written = clone_audit("cutover", str(mapping), str(app), "--write")
        assert written.returncode == 0, written.stdout + written.stderr
        recording(written, "cutover")
        rollback_file = next(line.split(": ", 1)[1] for line in written.stdout.splitlines()
                             if line.startswith("Rollback file: "))
        undone = clone_audit("cutover", "--rollback", rollback_file)
        assert undone.returncode == 0
        recording(undone, "cutover")

        used = clone_audit("usage", str(mapping), "--since", "2000-01-01", env=env)
        assert used.returncode in (0, 1, 4)
        recording(used, "usage")

    history = run_history(out)  # asked once: each run's row is written once, when it ends
    for done, kind in runs:
        recorded(done, kind, out, history)
    (failed,) = [r for r in history if r["failed"]]
    assert (failed["kind"], failed["exit_code"], failed["folder"]) == ("retire", 2, "")
    assert "nothing was applied" in failed["error"]
    kinds = [r["kind"] for r in history]
    assert kinds.count("usage") == 1 and kinds.count("cutover") == 3 and kinds.count("retire") == 3


def test_a_run_that_fails_is_recorded_with_its_exit_code(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    config = tmp_path / "c.toml"
    config.write_text("[api]\nmax_attempts = 1\n")
    done = clone_audit("scan", "--config", str(config), "--out", str(out), "--base-url", "http://127.0.0.1:9",
                       env={"SMALLEST_API_KEY": KEY})
    assert done.returncode == 3
    (run,) = run_history(out)
    assert (run["kind"], run["exit_code"], run["failed"], run["base_url"]) == ("scan", 3, True, "http://127.0.0.1:9")
    assert "cannot connect" in run["error"] and KEY not in json.dumps(run)
    assert [p.name for p in out.iterdir()] == ["history.sqlite"]  # no half-written run folder


def test_a_failed_run_creates_no_output_folder(tmp_path: Path) -> None:
    done = clone_audit("scan", "--out", str(tmp_path / "never"), "--base-url", "http://127.0.0.1:9")
    assert done.returncode == 2  # no key
    assert not (tmp_path / "never").exists()
