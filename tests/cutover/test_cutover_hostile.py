"""`clone-audit cutover` against a hostile tree, through the real command line: a symlink
swapped in for a tracked folder, an edited or foreign rollback file, run folders inside
the scanned tree (and folders that only look like them), mappings with cycles, and file
names git must quote."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from audit.migrate.selection import ApplyOptions

from audit.api.client import WavesClient
from audit.core.runmarker import RUN_MARKER
from audit.core.secrets import Secret
from audit.pipeline.cutover import CutoverOptions, cutover
from audit.pipeline.retire import retire_replaced
from tests.support.cli import clone_audit
from tests.support.emulator import running
from tests.support.migration import YES, apply, plan
from tests.support.cutover import NEW, OLD, write_mapping


pytestmark = pytest.mark.integration

OLD_B, NEW_B = "voice_BBBBBBBBBB", "voice_MMMMMMMMMM"


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    return write_mapping(tmp_path, ((OLD, NEW), (OLD_B, NEW_B)))


def _rollback_file(stdout: str) -> Path:
    return Path(next(line.split(": ", 1)[1] for line in stdout.splitlines() if line.startswith("Rollback file: ")))


def test_a_tracked_folder_replaced_by_a_symlink_to_outside_is_not_written_through(
    tmp_path: Path, mapping: Path
) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    (repo / "config").mkdir(parents=True)
    (repo / "config" / "voices.yaml").write_text(f"voice: {OLD}\n")
    (repo / "app.py").write_text(f'VOICE = "{OLD}"\n')
    _git("init", "-q", ".", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-qm", "start", cwd=repo)
    outside.mkdir()
    (outside / "voices.yaml").write_text(f"voice: {OLD}\n")  # the same name and bytes, behind the link
    shutil.rmtree(repo / "config")
    (repo / "config").symlink_to(outside, target_is_directory=True)

    done = clone_audit("cutover", str(mapping), ".", "--write", cwd=repo)

    assert done.returncode == 0, done.stdout + done.stderr
    assert (outside / "voices.yaml").read_text() == f"voice: {OLD}\n"  # never written through the link
    assert (repo / "app.py").read_text() == f'VOICE = "{NEW}"\n'
    assert "config: symlink to" in done.stdout and "not followed" in done.stdout
    assert "Wrote 1 replacement(s) in 1 file(s)." in done.stdout


def _write_and_edit(tmp_path: Path, mapping: Path) -> tuple[Path, Path, dict]:
    root = tmp_path / "app"
    root.mkdir()
    (root / "a.conf").write_text(f"voice={OLD}\n")
    (root / "untouched.conf").write_text("hello\n")
    done = cutover(mapping, [root], CutoverOptions(write=True))  # in process: the refusal below is the CLI's
    assert done.written is not None and len(done.written.written) == 1
    rollback = done.written.rollback_file
    return root, rollback, json.loads(rollback.read_text(encoding="utf-8"))


def _edits(root: Path, victim: Path) -> dict[str, object]:
    """Ways to turn a rollback file into an instruction: each must be refused."""
    def files(document: dict) -> dict:
        return document["files"][0]

    return {
        "another file outside the roots": lambda d: files(d).update(path=str(victim)),
        "another root": lambda d: (d["roots"].append(str(victim.parent)),
                                   files(d).update(root=str(victim.parent), path=str(victim))),
        "a file the write never touched": lambda d: files(d).update(path=str(root / "untouched.conf")),
        "other bytes put back": lambda d: files(d)["replacements"][0].update(old=OLD_B),
        "the hash of other bytes": lambda d: files(d).update(sha256_before="0" * 64),
        "the seal dropped": lambda d: d.pop("seal"),
    }


@pytest.mark.parametrize("edit", ["another file outside the roots", "another root", "a file the write never touched",
                                  "other bytes put back", "the hash of other bytes", "the seal dropped"])
def test_an_edited_rollback_file_is_refused_and_nothing_is_written(tmp_path: Path, mapping: Path, edit: str) -> None:
    root, rollback, document = _write_and_edit(tmp_path, mapping)
    victim = tmp_path / "victim.conf"
    victim.write_text(f"token={NEW}\n")
    _edits(root, victim)[edit](document)
    rollback.write_text(json.dumps(document, indent=2), encoding="utf-8")
    before = {p: p.read_bytes() for p in (victim, root / "a.conf", root / "untouched.conf")}

    done = clone_audit("cutover", "--rollback", str(rollback), cwd=tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert str(rollback) in message and "refused" in message and "Nothing was restored" in message
    assert {p: p.read_bytes() for p in before} == before


def test_a_rollback_file_sealed_by_another_user_is_refused(tmp_path: Path, mapping: Path) -> None:
    root, rollback, _ = _write_and_edit(tmp_path, mapping)
    other_user = tmp_path / "other-state"
    done = clone_audit("cutover", "--rollback", str(rollback), cwd=tmp_path,
                       env={"CLONE_AUDIT_STATE_DIR": str(other_user)})
    assert done.returncode == 2 and "a key this user does not have" in " ".join(done.stderr.split())
    assert (root / "a.conf").read_text() == f"voice={NEW}\n"
    undone = clone_audit("cutover", "--rollback", str(rollback), cwd=tmp_path)  # its own user: restored
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert (root / "a.conf").read_text() == f"voice={OLD}\n"


def test_a_restore_never_follows_a_symlink_swapped_in_after_the_write(tmp_path: Path, mapping: Path) -> None:
    root = tmp_path / "app"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "a.conf").write_text(f"voice={OLD}\n")
    rollback = _rollback_file(clone_audit("cutover", str(mapping), str(root), "--write", cwd=tmp_path).stdout)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.conf").write_text(f"voice={NEW}\n")  # the bytes the write produced, elsewhere
    shutil.rmtree(root / "conf")
    (root / "conf").symlink_to(outside, target_is_directory=True)
    done = clone_audit("cutover", "--rollback", str(rollback), cwd=tmp_path)
    assert done.returncode == 1 and "symlink" in done.stdout
    assert (outside / "a.conf").read_text() == f"voice={NEW}\n"


@pytest.mark.parametrize(("rows", "line", "what"), [
    (f"{OLD},{OLD},ready\n", 2, "mapped to itself"),
    (f"{OLD},{NEW},ready\n{NEW},{OLD},ready\n", 2, f"mapped to {NEW}, which is itself an old id (line 3"),
    (f"{OLD_B},{NEW_B},failed\n{OLD},{OLD_B},ready\n", 3, f"mapped to {OLD_B}, which is itself an old id (line 2"),
])
def test_a_mapping_whose_ids_are_both_old_and_new_is_refused_with_its_line(
    tmp_path: Path, rows: str, line: int, what: str
) -> None:
    mapping = tmp_path / "mapping.csv"
    mapping.write_text("old_voice_id,new_voice_id,status\n" + rows, encoding="utf-8")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.conf").write_text(f"{OLD} {OLD_B} {NEW}\n")
    done = clone_audit("cutover", str(mapping), "app", "--write", cwd=tmp_path)
    message = " ".join(done.stderr.split())
    assert done.returncode == 2 and f"mapping.csv, line {line}:" in message and what in message
    assert (tmp_path / "app" / "a.conf").read_text() == f"{OLD} {OLD_B} {NEW}\n"


def test_folders_that_merely_hold_a_ledger_or_run_json_are_scanned(tmp_path: Path, mapping: Path) -> None:
    root = tmp_path / "app"
    for folder, files in {
        "db": {"ledger.sqlite": "not ours", "voices.conf": f"voice={OLD}\n"},
        "export": {"run.json": json.dumps({"tool": "other", "run_id": "export"}), "clones.csv": f"{OLD}\n"},
        "20250101T000000Z-abcd": {"run.json": json.dumps({"tool": "clone-audit", "run_id": "another-name"}),
                                  "mapping.csv": f"{OLD}\n"},
        "20250102T000000Z-beef": {"run.json": json.dumps({"tool": "clone-audit", "run_id": "20250102T000000Z-beef"}),
                                  "mapping.csv": f"{OLD}\n"},  # unsealed: not read, but not clean
    }.items():
        (root / folder).mkdir(parents=True)
        for name, text in files.items():
            (root / folder / name).write_text(text)
    done = clone_audit("cutover", str(mapping), "app", cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr  # the unsealed run folder was not checked
    found = {line.split(":", 1)[0] for line in done.stdout.splitlines() if f"{OLD} →" in line}
    assert found == {"app/db/voices.conf", "app/export/clones.csv", "app/20250101T000000Z-abcd/mapping.csv"}
    # a run.json anyone can write proves nothing: the folder is left alone, but said not checked
    assert "not checked: app/20250102T000000Z-beef: a run.json names it a clone-audit run" in done.stdout


NAMES = ["tab\there.conf", "new\nline.conf", 'quote".conf', "back\\slash.conf", "caf\u00e9.conf", "plain name.conf"]


def test_patch_file_names_are_quoted_as_git_expects(tmp_path: Path, mapping: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    for name in NAMES:
        (repo / "app" / name).write_text(f"voice={OLD}\n")
    (repo / "app" / "wide\t.ini").write_bytes(b"\xff\xfe" + f"voice={OLD}\r\n".encode("utf-16-le"))
    _git("init", "-q", ".", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-qm", "start", cwd=repo)
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy)
    patch = tmp_path / "cutover.patch"

    done = clone_audit("cutover", str(mapping), "app", "--patch", str(patch), cwd=repo)

    assert done.returncode == 1, done.stdout + done.stderr
    assert b'diff --git "a/app/tab\\there.conf" "b/app/tab\\there.conf"' in patch.read_bytes()
    assert b'+++ "b/app/caf\\303\\251.conf"' in patch.read_bytes()
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=copy, check=True, capture_output=True)
    subprocess.run(["git", "apply", str(patch)], cwd=copy, check=True, capture_output=True)
    assert clone_audit("cutover", str(mapping), "app", "--write", cwd=repo).returncode == 0
    for path in (repo / "app").iterdir():
        assert (copy / "app" / path.name).read_bytes() == path.read_bytes(), path.name
    assert os.listdir(copy / "app") and all(OLD not in p.read_bytes().decode("utf-8", "replace")
                                            for p in (copy / "app").iterdir())


async def test_run_folders_of_every_kind_inside_the_scanned_tree_are_never_rewritten(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with running(20, 5, tmp_path) as (server, settings):
        planned = await plan(server, settings, tmp_path / "reports")  # a scan's folder and a plan's
        await apply(server, settings, planned.plan_path, ApplyOptions())
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            await retire_replaced(client, settings, planned.plan_path, YES)
    mapping = planned.folder / "mapping.csv"
    old = next(r["old_voice_id"] for r in csv.DictReader(mapping.open(encoding="utf-8")) if r["status"] == "ready")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "voices.conf").write_text(f"voice={old}\n")
    rollbacks = tmp_path_factory.mktemp("rollbacks")
    first = clone_audit("cutover", str(mapping), "app", "--write", cwd=tmp_path)  # a cutover's own folder
    assert first.returncode == 0, first.stdout + first.stderr
    (tmp_path / "app" / "voices.conf").write_text(f"voice={old}\n")
    runs = {p.parent for p in (tmp_path / "reports").glob(f"*/{RUN_MARKER}")}
    kinds = {json.loads((p / "run.json").read_text(encoding="utf-8")).get("kind", "plan") for p in runs}
    assert kinds >= {"scan", "plan", "apply", "retire", "cutover"}, kinds
    records = {f: f.read_bytes() for run in runs for f in run.rglob("*") if f.is_file() and f.name != "cutover.json"}

    done = clone_audit("cutover", str(mapping), ".", "--write", "--rollback-dir", str(rollbacks), cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert {f: f.read_bytes() for f in records} == records
    assert old in mapping.read_text(encoding="utf-8")
    assert (tmp_path / "app" / "voices.conf").read_text() != f"voice={old}\n"
    assert sum("a clone-audit run folder" in line for line in done.stdout.splitlines()) == len(runs)
