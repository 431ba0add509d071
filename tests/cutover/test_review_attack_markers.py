"""A run-folder marker the tool did not write proves nothing: a folder of the user's code
that someone planted a `.clone-audit-run` in (or copied a real one into) is never
reported clean, through the real command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from audit.core.runfolder import RunFolder
from audit.core.runmarker import FIRST_LINE, RUN_MARKER
from tests.support.cli import clone_audit
from tests.support.cutover import NEW, OLD, write_mapping

pytestmark = pytest.mark.integration


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    return write_mapping(tmp_path)


def _planted(folder: Path, how: str, tmp_path: Path) -> None:
    if how == "hand-written":
        (folder / RUN_MARKER).write_text(f"{FIRST_LINE}\nrun_id {folder.name}\n")
    elif how == "copied from a real run":
        real = RunFolder(tmp_path / "reports" / "20260101T000000Z-abcd").create()
        shutil.copy(real.path / RUN_MARKER, folder / RUN_MARKER)
    elif how == "legacy run.json":
        (folder / "run.json").write_text(json.dumps({"tool": "clone-audit", "run_id": folder.name}))


@pytest.mark.parametrize("how", ["hand-written", "copied from a real run", "legacy run.json"])
def test_a_planted_run_folder_marker_never_hides_an_old_id(tmp_path: Path, mapping: Path, how: str) -> None:
    src = tmp_path / "app" / "src"
    src.mkdir(parents=True)
    (src / "voices.py").write_text(f'VOICE = "{OLD}"\n')
    _planted(src, how, tmp_path)

    done = clone_audit("cutover", str(mapping), "app", cwd=tmp_path)

    assert "No old voice id left in these paths." not in done.stdout, done.stdout
    assert done.returncode in (1, 4), done.stdout + done.stderr  # found, or not checked: never "clean"
    written = clone_audit("cutover", str(mapping), "app", "--write", cwd=tmp_path)
    if (src / "voices.py").read_text() == f'VOICE = "{NEW}"\n':  # scanned like any folder, and patched
        assert written.returncode == 0, written.stdout + written.stderr
    else:  # not read: said so, exit 4 (partial), never "no old id left"
        assert written.returncode == 4 and "not checked: app/src:" in written.stdout, written.stdout
        assert "No old voice id left in these paths." not in written.stdout


def test_the_tools_own_run_folder_is_still_skipped_and_reported_clean(tmp_path: Path, mapping: Path) -> None:
    run = RunFolder(tmp_path / "app" / "reports" / "20260101T000000Z-abcd").create()
    (run.path / "mapping.csv").write_text(f"{OLD},{NEW},ready\n")

    done = clone_audit("cutover", str(mapping), "app", "--write", "--rollback-dir", str(tmp_path / "rb"),
                       cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "skipped: app/reports/20260101T000000Z-abcd: a clone-audit run folder" in done.stdout
    assert (run.path / "mapping.csv").read_text() == f"{OLD},{NEW},ready\n"


def test_a_planted_folder_named_like_a_run_with_an_unsealed_run_json_never_hides_an_old_id(
        tmp_path: Path, mapping: Path) -> None:
    repo = tmp_path / "repo"
    planted = repo / "20260101T000000Z-ab12"
    planted.mkdir(parents=True)
    (planted / "run.json").write_text(json.dumps({"tool": "clone-audit", "run_id": planted.name}))
    (planted / "app.py").write_text(f"V = '{OLD}'\n")

    sarif = clone_audit("cutover", str(mapping), "repo", "--format", "sarif", "-o", str(tmp_path / "out.sarif"),
                        cwd=tmp_path)
    assert sarif.returncode in (1, 4), sarif.stdout + sarif.stderr
    log = json.loads((tmp_path / "out.sarif").read_text(encoding="utf-8"))
    run = log["runs"][0]
    said = json.dumps(run["results"]) + json.dumps(run["invocations"][0].get("toolExecutionNotifications", []))
    assert planted.name in said  # a result in it, or a notification that it was not checked
    check = clone_audit("cutover", "--check", str(mapping), "repo", cwd=tmp_path)
    assert check.returncode in (1, 4), check.stdout + check.stderr
    written = clone_audit("cutover", str(mapping), "repo", "--write", "--rollback-dir", str(tmp_path / "rb"),
                          cwd=tmp_path)
    assert written.returncode in (1, 4), written.stdout + written.stderr
    assert "No old voice id left in these paths." not in written.stdout
