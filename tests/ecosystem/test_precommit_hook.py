"""The pre-commit hook of .pre-commit-hooks.yaml through the real `pre-commit`, installed as the
git hook of a temporary repository: a commit adding an old voice id of the mapping fails and
names the ready replacement; a clean commit, or one beside an old id that is not staged, passes.

The hook's definition is read from the repository's manifest; most tests run it as a `repo: local`
hook with `language: system` (this environment's `clone-audit`), so they need no package index.
One test uses the manifest as a user's config does (`repo:` this repository at its HEAD commit,
`language: python`): pre-commit then pip-installs the package and its dependencies into a venv
of its own, from the package index (or pip's cache), as it would on a user's machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

import pytest

from tests.support.cli import clone_audit
from tests.support.cutover import NEW, OLD, write_mapping

ROOT = Path(__file__).resolve().parents[2]
NOT_READY = "voice_BBBBBBBBBB"


def _hook() -> dict[str, Any]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "clone-audit-cutover"]
    return dict(hook)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMALLEST_", "GIT_", "PRE_COMMIT"))}
    bin_dir = str(Path(sys.executable).parent)  # this environment's clone-audit and pre-commit
    return {**env, "PATH": bin_dir + os.pathsep + env.get("PATH", ""), "PRE_COMMIT_HOME": str(tmp_path / "cache"),
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def _git(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=120)


def _repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A git repository with the mapping committed and the hook installed as its pre-commit hook."""
    repo, env = tmp_path / "repo", _env(tmp_path)
    repo.mkdir()
    assert _git(repo, env, "init", "-q", "-b", "main").returncode == 0
    write_mapping(repo, ((OLD, NEW),))
    mapping = repo / "migration" / "mapping.csv"
    mapping.write_text(mapping.read_text(encoding="utf-8") + f"{NOT_READY},,failed\n", encoding="utf-8")
    hook = {**_hook(), "language": "system", "args": ["migration/mapping.csv"]}
    config = {"repos": [{"repo": "local", "hooks": [hook]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    installed = subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo, env=env,
                               capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    _git(repo, env, "add", "-A")
    first = _git(repo, env, "commit", "-q", "-m", "mapping")  # the mapping itself is never flagged
    assert first.returncode == 0, first.stdout + first.stderr
    return repo, env


def _commit(repo: Path, env: dict[str, str], *files: str) -> subprocess.CompletedProcess[str]:
    _git(repo, env, "add", *files)
    return _git(repo, env, "commit", "-m", "change")


def _commits(repo: Path, env: dict[str, str]) -> int:
    return int(_git(repo, env, "rev-list", "--count", "HEAD").stdout)


def test_the_manifest_runs_cutover_check_on_staged_text_files() -> None:
    hook = _hook()
    assert hook["entry"].split() == ["clone-audit", "cutover", "--check", "--"]  # the rest are paths
    assert hook["language"] == "python" and hook.get("pass_filenames", True)
    assert hook["types"] == ["text"]


def test_a_commit_adding_an_old_id_fails_and_names_the_ready_replacement(tmp_path: Path) -> None:
    repo, env = _repo(tmp_path)
    (repo / "app.py").write_text(f'VOICE = "{OLD}"\nOTHER = "{NOT_READY}"\n', encoding="utf-8")
    done = _commit(repo, env, "app.py")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert f"app.py:1:10  {OLD} → {NEW}" in output
    assert f"app.py:2:10  {NOT_READY}  not ready" in output
    assert _commits(repo, env) == 1  # nothing was committed
    assert (repo / "app.py").read_text(encoding="utf-8").startswith(f'VOICE = "{OLD}"')  # nor rewritten

    (repo / "app.py").write_text(f'VOICE = "{NEW}"\n', encoding="utf-8")  # the fix the message names
    fixed = _commit(repo, env, "app.py")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert _commits(repo, env) == 2


@pytest.mark.parametrize("name", ["--help", "-h", "--max-bytes=1", "--write"])
def test_a_staged_file_named_like_a_flag_is_a_path_and_never_hides_an_old_id(tmp_path: Path, name: str) -> None:
    repo, env = _repo(tmp_path)
    (repo / "app.py").write_text(f'VOICE = "{OLD}"\n', encoding="utf-8")
    (repo / name).write_text(f"docs {OLD}\n", encoding="utf-8")
    done = _commit(repo, env, "--", "app.py", name)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert f"app.py:1:10  {OLD} → {NEW}" in output and f"{name}:1:6  {OLD} → {NEW}" in output
    assert _commits(repo, env) == 1
    assert (repo / "app.py").read_text(encoding="utf-8") == f'VOICE = "{OLD}"\n'  # checked, not written


def test_only_staged_files_are_read(tmp_path: Path) -> None:
    repo, env = _repo(tmp_path)
    (repo / "legacy.txt").write_text(f"left for later: {OLD}\n", encoding="utf-8")  # in the tree, not staged
    (repo / "README.txt").write_text("no voice here\n", encoding="utf-8")
    done = _commit(repo, env, "README.txt")
    assert done.returncode == 0, done.stdout + done.stderr
    assert OLD not in done.stdout + done.stderr
    assert _commits(repo, env) == 2


def test_check_lists_without_diff_or_note_and_refuses_write(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path)
    (mapping.parent / "plan.json").write_text("{}", encoding="utf-8")  # a migration folder's: a dry run records there
    (tmp_path / "app.py").write_text(f'VOICE = "{OLD}"\n', encoding="utf-8")
    done = clone_audit("cutover", "--check", str(mapping), "app.py", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"app.py:1:10  {OLD} → {NEW}" in done.stdout
    assert "diff --git" not in done.stdout and "+++" not in done.stdout
    assert not (mapping.parent / "cutover.json").exists()  # a hook on every commit records nothing
    assert not done.stdout.rstrip().splitlines()[-1].startswith("Run: ")
    dry = clone_audit("cutover", str(mapping), "app.py", cwd=tmp_path)  # without --check: the diff and the record
    assert dry.returncode == 1 and "diff --git" in dry.stdout and (mapping.parent / "cutover.json").is_file()
    refused = clone_audit("cutover", "--check", "--write", str(mapping), "app.py", cwd=tmp_path)
    assert refused.returncode == 2
    assert (tmp_path / "app.py").read_text(encoding="utf-8") == f'VOICE = "{OLD}"\n'


@pytest.mark.integration
def test_the_hook_installs_from_this_repository_as_pre_commit_installs_it(tmp_path: Path) -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    repo, env = tmp_path / "repo", _env(tmp_path)
    repo.mkdir()
    assert _git(repo, env, "init", "-q", "-b", "main").returncode == 0
    write_mapping(repo, ((OLD, NEW),))
    hook = {"id": "clone-audit-cutover", "args": ["migration/mapping.csv"]}
    config = {"repos": [{"repo": str(ROOT), "rev": head.stdout.strip(), "hooks": [hook]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (repo / "app.py").write_text(f'VOICE = "{OLD}"\n', encoding="utf-8")
    (repo / "clean.py").write_text('VOICE = "elsewhere"\n', encoding="utf-8")
    _git(repo, env, "add", "-A")
    env = {**env, "PATH": os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                          if p != str(Path(sys.executable).parent))}  # not this clone-audit
    run = [sys.executable, "-m", "pre_commit", "run", "clone-audit-cutover", "--files"]
    flagged = subprocess.run([*run, "app.py"], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert flagged.returncode == 1, flagged.stdout + flagged.stderr
    assert f"app.py:1:10  {OLD} → {NEW}" in flagged.stdout
    clean = subprocess.run([*run, "clean.py"], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stdout + clean.stderr
