"""`cutover --format sarif`: a SARIF 2.1.0 log that code scanning accepts, checked against the
OASIS schema, through the command line as a CI job runs it."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support.cli import clone_audit
from tests.support.cutover import NEW, OLD, write_mapping

SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
NOT_READY = "voice_BBBBBBBBBB"


def validate(log: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)


def _mapping(tmp_path: Path, name: str = "Ann") -> Path:
    path = tmp_path / "migration" / "mapping.csv"
    path.parent.mkdir()
    path.write_text("old_voice_id,new_voice_id,status,display_name\n"
                    f"{OLD},{NEW},ready,{name}\n{NOT_READY},,failed,Bob\n", encoding="utf-8")
    return path


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "app" / "voices dir").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "app" / "voices dir" / "café#1.py").write_text(
        f'A = "{OLD}"\n  é = "{NOT_READY}"  # {OLD}\n', encoding="utf-8")
    return repo


def _results(log: dict[str, Any]) -> list[dict[str, Any]]:
    return log["runs"][0]["results"]


def test_the_sarif_log_on_stdout_is_valid_and_names_each_occurrence_from_the_repository_root(tmp_path: Path) -> None:
    mapping, repo = _mapping(tmp_path), _repo(tmp_path)
    done = clone_audit("cutover", str(mapping), ".", "--format", "sarif", cwd=repo / "app")
    assert done.returncode == 1, done.stderr
    log = json.loads(done.stdout)  # stdout holds the log and nothing else
    validate(log)
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == repo.resolve().as_uri() + "/"
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["invocations"][0]["exitCode"] == 1
    driver = run["tool"]["driver"]
    assert driver["name"] == "clone-audit" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == ["old-voice-id", "old-voice-id-not-ready"]
    assert all(r["help"]["text"] for r in driver["rules"])
    found = [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]) for r in _results(log)]
    uri = {"uri": "app/voices%20dir/caf%C3%A9%231.py", "uriBaseId": "SRCROOT"}
    assert found == [
        ("old-voice-id", "error", {"artifactLocation": uri, "region": {"startLine": 1, "startColumn": 6, "endColumn": 22}}),
        ("old-voice-id-not-ready", "warning",
         {"artifactLocation": uri, "region": {"startLine": 2, "startColumn": 8, "endColumn": 24}}),
        ("old-voice-id", "error", {"artifactLocation": uri, "region": {"startLine": 2, "startColumn": 29, "endColumn": 45}}),
    ]
    ready, not_ready = _results(log)[0], _results(log)[1]
    assert NEW in ready["message"]["text"] and OLD in ready["message"]["text"]
    assert ready["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"] == NEW
    assert "status failed" in not_ready["message"]["text"] and "fixes" not in not_ready
    assert f"{OLD} → {NEW}" in done.stderr  # what the terminal shows went to stderr
    assert "Run:" not in done.stdout


def test_fingerprints_survive_a_line_moving_and_tell_two_occurrences_apart(tmp_path: Path) -> None:
    mapping, repo = _mapping(tmp_path), _repo(tmp_path)
    before = json.loads(clone_audit("cutover", str(mapping), str(repo), "--format", "sarif").stdout)
    target = repo / "app" / "voices dir" / "café#1.py"
    target.write_text("# a new first line\n" + target.read_text(encoding="utf-8"), encoding="utf-8")
    after = json.loads(clone_audit("cutover", str(mapping), str(repo), "--format", "sarif").stdout)
    prints = [[r["partialFingerprints"] for r in _results(log)] for log in (before, after)]
    assert prints[0] == prints[1] and len({json.dumps(p) for p in prints[0]}) == 3
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in _results(after)] == [2, 3, 3]


def test_sarif_to_a_file_outside_git_is_relative_to_the_path_given(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, name="Eve\x1b[31m\u202e")
    tree = tmp_path / "plain"
    (tree / "conf").mkdir(parents=True)
    (tree / "conf" / "voices.yaml").write_text(f"voice: {OLD}\n", encoding="utf-8")
    out = tmp_path / "cutover.sarif"
    done = clone_audit("cutover", str(mapping), str(tree), "--format", "sarif", "-o", str(out))
    assert done.returncode == 1, done.stderr
    assert f"SARIF: {out}" in done.stdout and f"{OLD} → {NEW}" in done.stdout  # the usual lines, and where the log went
    log = json.loads(out.read_text(encoding="utf-8"))
    validate(log)
    assert log["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"] == tree.resolve().as_uri() + "/"
    (result,) = _results(log)
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "conf/voices.yaml"
    raw = out.read_text(encoding="utf-8")
    assert "\x1b" not in raw and "\u202e" not in raw  # a hostile name is escaped, never raw


def test_a_clean_tree_is_an_empty_valid_log_with_exit_0(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "a.txt").write_text("nothing here\n", encoding="utf-8")
    done = clone_audit("cutover", str(mapping), str(tmp_path / "clean"), "--format", "sarif")
    assert done.returncode == 0, done.stderr
    log = json.loads(done.stdout)
    validate(log)
    assert _results(log) == [] and log["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_the_schema_check_rejects_a_broken_log(tmp_path: Path) -> None:
    """The validation above can fail: a region starting at column 0 is not SARIF."""
    mapping, repo = _mapping(tmp_path), _repo(tmp_path)
    log = json.loads(clone_audit("cutover", str(mapping), str(repo), "--format", "sarif").stdout)
    broken = copy.deepcopy(log)
    _results(broken)[0]["locations"][0]["physicalLocation"]["region"]["startColumn"] = 0
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


@pytest.mark.parametrize("args", [("--rollback", "x.json", "--format", "sarif"), ("M", ".", "-o", "x.sarif"),
                                  ("M", ".", "--format", "sarif", "--json")])
def test_sarif_flags_that_cannot_work_are_refused(tmp_path: Path, args: tuple[str, ...]) -> None:
    mapping = _mapping(tmp_path)
    done = clone_audit("cutover", *[str(mapping) if a == "M" else a for a in args], cwd=tmp_path)
    assert done.returncode == 2 and '"runs"' not in done.stdout


def test_o_never_replaces_the_mapping_or_a_scanned_file_and_its_log_is_never_scanned(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    source = f"V = '{OLD}'\n"
    (repo / "a.py").write_text(source, encoding="utf-8")
    before = mapping.read_text(encoding="utf-8")
    for target in (mapping, repo / "a.py"):
        done = clone_audit("cutover", str(mapping), str(repo), "--format", "sarif", "-o", str(target), cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "would replace it" in done.stderr
    assert mapping.read_text(encoding="utf-8") == before and (repo / "a.py").read_text(encoding="utf-8") == source

    log = repo / "cutover.sarif"
    for _ in range(2):  # the log written inside the tree, then written again: never one of its own results
        done = clone_audit("cutover", str(mapping), str(repo), "--format", "sarif", "-o", str(log), cwd=tmp_path)
        assert done.returncode == 1, done.stdout + done.stderr
        uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in json.loads(log.read_text(encoding="utf-8"))["runs"][0]["results"]]
        assert len(uris) == 1 and uris[0].endswith("a.py"), uris
