"""The GitHub Action (action.yml) run step by step as a runner runs it (tests/support/actions.py)
against the emulator on 127.0.0.1: it installs clone-audit from its own checkout into a fresh
venv, scans with the key from the `api-key` input, leaves the report folder and the JUnit file
where the upload step picks them up, names them in its outputs, never prints the key, and fails
the job as the scan exits. The example workflows of examples/github/ use it and cutover's SARIF
as GitHub expects."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from audit.emulator import EmulatorServer
from tests.support.actions import load, run_composite

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
EXAMPLES = ROOT / "examples" / "github"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SMALLEST_", "GITHUB_", "CLONE_AUDIT_"))}


def test_the_action_installs_scans_uploads_and_fails_as_the_scan_exits(tmp_path: Path) -> None:
    workspace, temp = tmp_path / "workspace", tmp_path / "runner"
    workspace.mkdir()
    temp.mkdir()
    with EmulatorServer.with_org(n=6, seed=3) as server:
        inputs = {"api-key": server.api_key, "base-url": server.base_url,
                  "args": "--fail-on 'non-compliant' --concurrency 2"}  # quoted as a user may quote
        run = run_composite(ACTION, inputs, workspace=workspace, runner_temp=temp, env=_env())
    names = [s.name for s in run.steps]
    text = run.output_text()
    assert server.api_key not in text + run.summary + json.dumps(run.outputs)

    install, scan = run.steps[names.index("Install clone-audit")], run.steps[names.index("Scan")]
    assert install.returncode == 0, install.stdout + install.stderr
    assert install.stdout.strip().startswith("clone-audit ")  # the version it installed
    assert (temp / "clone-audit-venv" / "bin" / "clone-audit").is_file()  # a venv of its own, not the tree
    assert scan.returncode == 0, scan.stdout + scan.stderr  # the scan's exit decides the last step

    code = int(run.outputs["exit-code"])
    run_folder = workspace / run.outputs["run-folder"]
    assert run.outputs["report-folder"] == "clone-audit-reports"
    assert run_folder.parent == workspace / "clone-audit-reports"
    assert (run_folder / "report.html").is_file()
    recorded = json.loads((run_folder / "run.json").read_text(encoding="utf-8"))
    assert (recorded["kind"], recorded["exit_code"]) == ("scan", code)
    assert "### clone-audit scan" in run.summary and "Reports:" in run.summary

    upload = run.steps[names.index("Upload the report")]
    assert upload.uses.startswith("actions/upload-artifact@")
    assert upload.with_["name"] == "clone-audit-report"
    assert "clone-audit-reports" in upload.with_["path"].split()

    assert run.outputs["junit-file"] == "clone-audit-junit.xml"
    junit = (workspace / "clone-audit-junit.xml").read_text(encoding="utf-8")
    assert "<testsuite" in junit and "<failure" in junit  # the scan's non-compliant voices, as failed tests
    assert "clone-audit-junit.xml" in upload.with_["path"].split()

    last = run.steps[names.index("Exit as the scan did")]
    if code == 0:
        assert last.skipped and run.failed is None
    else:
        assert run.failed is last and last.returncode == code
        assert f"clone-audit scan exited {code}" in last.stdout


def test_an_empty_key_fails_the_scan_step_before_any_request(tmp_path: Path) -> None:
    workspace, temp = tmp_path / "workspace", tmp_path / "runner"
    workspace.mkdir()
    temp.mkdir()
    action = load(ACTION)
    (scan,) = [s for s in action["runs"]["steps"] if s.get("id") == "scan"]
    only_scan = tmp_path / "action" / "action.yml"
    only_scan.parent.mkdir()
    only_scan.write_text(json.dumps({**action, "runs": {"using": "composite", "steps": [scan]}}), encoding="utf-8")
    run = run_composite(only_scan, {"api-key": ""}, workspace=workspace, runner_temp=temp, env=_env())
    assert run.failed is not None and run.failed.returncode == 2
    assert "api-key input is empty" in run.failed.stdout
    assert not (workspace / "clone-audit-reports").exists()


def test_the_example_workflows_use_the_action_and_upload_cutover_sarif() -> None:
    weekly = load(EXAMPLES / "weekly-scan.yml")
    assert "schedule" in weekly[True]  # YAML 1.1 reads the key `on` as true
    (job,) = weekly["jobs"].values()
    (scan,) = [s for s in job["steps"] if "clone-audit" in str(s.get("uses", ""))]
    assert scan["with"]["api-key"] == "${{ secrets.SMALLEST_API_KEY }}"
    assert set(scan["with"]) <= set(load(ACTION)["inputs"])

    pulls = load(EXAMPLES / "cutover-sarif.yml")
    assert "pull_request" in pulls[True]
    (job,) = pulls["jobs"].values()
    assert job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    (cutover,) = [s for s in steps if "clone-audit cutover" in str(s.get("run", ""))]
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@")]
    assert "--format sarif" in cutover["run"] and upload["with"]["sarif_file"] in cutover["run"]
    assert upload.get("if") == "always()"  # findings exit 1, and they are what is uploaded


def _only_scan_step(tmp_path: Path) -> Path:
    action = load(ACTION)
    (scan,) = [s for s in action["runs"]["steps"] if s.get("id") == "scan"]
    only_scan = tmp_path / "action" / "action.yml"
    only_scan.parent.mkdir()
    only_scan.write_text(json.dumps({**action, "runs": {"using": "composite", "steps": [scan]}}), encoding="utf-8")
    return only_scan


def test_args_that_cannot_be_split_fail_the_step_instead_of_scanning_without_them(tmp_path: Path) -> None:
    workspace, temp = tmp_path / "workspace", tmp_path / "runner"
    workspace.mkdir()
    temp.mkdir()
    with EmulatorServer.with_org(n=3, seed=3) as server:
        inputs = {"api-key": server.api_key, "base-url": server.base_url, "args": "--fail-on 'new --usage 7"}
        run = run_composite(_only_scan_step(tmp_path), inputs, workspace=workspace, runner_temp=temp, env=_env())
    assert run.failed is not None and run.failed.returncode == 2, run.output_text()
    assert "args input cannot be split" in run.failed.stdout and "::error" in run.failed.stdout
    assert not (workspace / "clone-audit-reports").exists()  # no scan ran without the flags


def test_history_is_kept_between_runs_by_the_cache_when_asked(tmp_path: Path) -> None:
    action = load(ACTION)
    assert action["inputs"]["history"]["default"] == "false"
    steps = action["runs"]["steps"]
    names = [s.get("name") for s in steps]
    (restore,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/cache/restore@")]
    (save,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/cache/save@")]
    assert names.index(restore["name"]) < names.index("Scan") < names.index(save["name"])
    assert names.index(save["name"]) < names.index("Exit as the scan did")  # saved whatever the scan found
    for step in (restore, save):
        assert step["if"] == "inputs.history == 'true'"
        assert step["with"]["path"].strip() == "${{ inputs.out }}"
    key = save["with"]["key"]
    assert key == restore["with"]["key"] and "github.run_id" in key
    assert "steps.history.outputs.key" in key  # one history per API and report folder
    assert restore["with"]["restore-keys"].strip() == "${{ steps.history.outputs.key }}-"
    (naming,) = [s for s in steps if s.get("id") == "history"]
    named = {}
    for base_url in ("https://api.example", "https://other.example"):
        only = tmp_path / base_url[8:] / "action.yml"
        only.parent.mkdir(parents=True)
        only.write_text(json.dumps({**action, "runs": {"using": "composite", "steps": [naming, restore]}}),
                        encoding="utf-8")
        run = run_composite(only, {"history": "true", "base-url": base_url, "api-key": "unused"},
                            workspace=tmp_path, runner_temp=only.parent, env=_env())
        assert run.failed is None, run.output_text()
        named[base_url] = run.steps[1].with_["restore-keys"]
        assert named[base_url].startswith("clone-audit-history-") and run.steps[1].with_["path"] == "clone-audit-reports"
    assert len(set(named.values())) == 2  # one history per API
    weekly = load(EXAMPLES / "weekly-scan.yml")
    (job,) = weekly["jobs"].values()
    (scan,) = [s for s in job["steps"] if "clone-audit" in str(s.get("uses", ""))]
    assert scan["with"].get("history") == "true" and "--fail-on new" in scan["with"].get("args", "")
