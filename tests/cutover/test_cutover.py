"""Cutover on a generated tree: whole-token matches, the diff, git apply, the atomic write
that keeps encodings, line endings and modes, and the rollback that restores every byte."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.core.errors import ExitCode, UsageError
from audit.core.runfolder import staged
from audit.cutover.mapping import read_mapping
from audit.cutover.matcher import IdMatcher
from audit.cutover.textfile import Encoding, decode, encode, sniff
from audit.pipeline.cutover import CutoverOptions, cutover, rollback

OLD_A, NEW_A = "voice_AAAAAAAAAA", "voice_NNNNNNNNNN"
OLD_B, NEW_B = "voice_BBBBBBBBBB", "voice_MMMMMMMMMM"  # ready, a longer new id below
OLD_F = "voice_FFFFFFFFFF"  # failed: not ready
OLD_X = "voice_XXXXXXXXXX"  # verified, but a fidelity mismatch
MAPPING_CSV = (
    "old_voice_id,new_voice_id,display_name,language,source_sha256,verified,verified_at,status,detail,retired_at,fidelity\r\n"
    f"{OLD_A},{NEW_A},Emma,en,ab,speaks,2026-01-01T00:00:00+00:00,ready,,,match\r\n"
    f"{OLD_B},{NEW_B}xyz,'=Raj,en,cd,speaks,2026-01-01T00:00:00+00:00,ready,,,\r\n"
    f"{OLD_F},,Priya,en,ef,,,failed,refused sample,,\r\n"
    f"{OLD_X},voice_YYYYYYYYYY,Noah,en,ef,speaks,2026-01-01T00:00:00+00:00,ready,,,mismatch\r\n"
)

UTF16_TEXT = f"greeting voice = {OLD_A}\r\nfallback = {OLD_F}\r\n"
#: relative path → bytes. Expected matches are listed in EXPECTED.
TREE: dict[str, bytes] = {
    "app/settings.py": f'VOICE = "{OLD_A}"\nBACKUP = "{OLD_A}2"\nOTHER = "x{OLD_A}"\n'.encode(),
    "app/flows/ivr.yaml": f"steps:\r\n  - say: hello\r\n    voice_id: {OLD_B}\r\n  - voice: {OLD_A}-old\r\n".encode(),
    "app/.env": f"TTS_VOICE={OLD_A}\nLEGACY={OLD_F}\nMISMATCH={OLD_X}".encode(),  # no final newline
    "app/export.csv": f"\ufeffname,voice\r\nZoë,{OLD_B}\r\nÑandú,{OLD_A}\r\n".encode(),
    "app/latin1.txt": b"caf\xe9 " + OLD_A.encode() + b"\n",  # not UTF-8: bytes must survive
    "app/u16le.txt": b"\xff\xfe" + UTF16_TEXT.encode("utf-16-le"),
    "app/u16be.txt": b"\xfe\xff" + UTF16_TEXT.encode("utf-16-be"),
    "app/tags.json": json.dumps({"tags": [f"migrated-from:{OLD_A}"]}).encode(),
    "app/image.bin": b"\x89PNG\r\n\x1a\n\x00\x00" + OLD_A.encode(),
    "app/clean.md": b"nothing to see\n",
    "app/ignored.log": f"{OLD_A}\n".encode(),
    "app/node_modules/lib.js": f"'{OLD_A}'\n".encode(),
    "app/big.json": (f'"{OLD_A}"' + " " * 3000).encode(),
}
GITIGNORE = b"*.log\nnode_modules/\n"
EXPECTED = {  # (path, line, column, old id, ready)
    ("app/settings.py", 1, 10, OLD_A, True),
    ("app/flows/ivr.yaml", 3, 15, OLD_B, True),
    ("app/.env", 1, 11, OLD_A, True),
    ("app/.env", 2, 8, OLD_F, False),
    ("app/.env", 3, 10, OLD_X, False),
    ("app/export.csv", 2, 5, OLD_B, True),  # column counts characters after the BOM line start
    ("app/export.csv", 3, 7, OLD_A, True),
    ("app/latin1.txt", 1, 6, OLD_A, True),
    ("app/u16le.txt", 1, 18, OLD_A, True),
    ("app/u16le.txt", 2, 12, OLD_F, False),
    ("app/u16be.txt", 1, 18, OLD_A, True),
    ("app/u16be.txt", 2, 12, OLD_F, False),
}
IGNORED_BY_GIT = {("app/ignored.log", 1, 1, OLD_A, True), ("app/node_modules/lib.js", 1, 2, OLD_A, True)}


def _expected_after(rel: str, data: bytes) -> bytes:
    """The bytes a correct write produces, built independently of the code under test."""
    if rel.startswith("app/u16"):
        codec = "utf-16-le" if rel.endswith("le.txt") else "utf-16-be"
        return data[:2] + UTF16_TEXT.replace(OLD_A, NEW_A).encode(codec)
    if rel in ("app/tags.json", "app/image.bin", "app/clean.md", "app/ignored.log", "app/big.json",
               "app/node_modules/lib.js"):
        return data
    out = data.replace(f"{OLD_A}2".encode(), b"@KEEP1@").replace(f"x{OLD_A}".encode(), b"@KEEP2@")
    out = out.replace(f"{OLD_A}-old".encode(), b"@KEEP3@")
    out = out.replace(OLD_A.encode(), NEW_A.encode()).replace(OLD_B.encode(), f"{NEW_B}xyz".encode())
    return out.replace(b"@KEEP1@", f"{OLD_A}2".encode()).replace(b"@KEEP2@", f"x{OLD_A}".encode()).replace(
        b"@KEEP3@", f"{OLD_A}-old".encode())


def _make_tree(root: Path, *, git: bool) -> dict[str, bytes]:
    files = dict(TREE)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    os.chmod(root / "app/settings.py", 0o750)
    os.chmod(root / "app/.env", 0o600)
    (root / "app/link-inside.py").symlink_to(root / "app/settings.py")
    outside = root.parent / f"{root.name}-outside.txt"
    outside.write_bytes(f"{OLD_A}\n".encode())
    (root / "app/link-outside.txt").symlink_to(outside)
    (root / "app/linked-dir").symlink_to(root.parent, target_is_directory=True)
    if git:
        (root / ".gitignore").write_bytes(GITIGNORE)
        files[".gitignore"] = GITIGNORE
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "add", "app/settings.py"], check=True)
    return files


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    folder = tmp_path / "reports" / "run1"
    folder.mkdir(parents=True)
    path = folder / "mapping.csv"
    path.write_text(MAPPING_CSV, encoding="utf-8", newline="")
    return path


def _found(run, root: Path) -> set[tuple[str, int, int, str, bool]]:
    return {(str(o.path.relative_to(root)), o.line, o.column, o.old_voice_id, o.ready) for o in run.scan.occurrences}


def _bytes(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in files}


@pytest.mark.parametrize("git", [True, False], ids=["git", "plain"])
def test_scan_finds_whole_tokens_only_and_writes_nothing(tmp_path: Path, mapping: Path, git: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tree"
    files = _make_tree(root, git=git)
    monkeypatch.chdir(root)
    run = cutover(mapping, [root / "app"], CutoverOptions(max_bytes=2048))
    assert _found(run, root.resolve()) == (EXPECTED if git else EXPECTED | IGNORED_BY_GIT)
    assert _bytes(root, files) == files  # a dry run changes nothing
    assert run.exit_code is ExitCode.PARTIAL  # big.json was not checked, and says so
    reasons = {str(s.path.relative_to(root.resolve())) if s.path.is_relative_to(root.resolve()) else str(s.path): s.reason
               for s in run.scan.skipped}
    assert "larger than 2048 bytes" in reasons["app/big.json"]
    assert "outside the given paths" in reasons["app/link-outside.txt"]
    assert "outside the given paths" in reasons["app/linked-dir"]
    assert run.scan.binary == 1
    assert f"-VOICE = \"{OLD_A}\"\n+VOICE = \"{NEW_A}\"\n" in run.diff
    assert f"-MISMATCH={OLD_X}" not in run.diff and "\\ No newline at end of file" in run.diff
    assert "app/u16le.txt: utf-16-le text shown decoded" in run.diff


def test_include_ignored_reads_what_gitignore_excludes(tmp_path: Path, mapping: Path) -> None:
    root = tmp_path / "tree"
    _make_tree(root, git=True)
    run = cutover(mapping, [root / "app"], CutoverOptions(include_ignored=True))
    assert _found(run, root.resolve()) == EXPECTED | IGNORED_BY_GIT | {("app/big.json", 1, 2, OLD_A, True)}


@pytest.mark.parametrize("git", [True, False], ids=["git", "plain"])
def test_write_keeps_encodings_line_endings_and_modes_and_rollback_restores_every_byte(
    tmp_path: Path, mapping: Path, git: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    files = _make_tree(root, git=git)
    monkeypatch.chdir(root)
    modes = {rel: stat.S_IMODE(os.stat(root / rel).st_mode) for rel in files}
    run = cutover(mapping, [root / "app"], CutoverOptions(write=True, max_bytes=2048))
    after = _bytes(root, files)
    assert after == {rel: _expected_after(rel, data) if git or rel not in ("app/ignored.log", "app/node_modules/lib.js")
                     else data.replace(OLD_A.encode(), NEW_A.encode()) for rel, data in files.items()}
    assert {rel: stat.S_IMODE(os.stat(root / rel).st_mode) for rel in files} == modes
    assert run.remaining and all(not o.ready for o in run.remaining)
    assert run.exit_code is ExitCode.PARTIAL

    assert run.written is not None
    rollback_file = run.written.rollback_file
    assert not rollback_file.resolve().is_relative_to(root.resolve())
    assert rollback_file.parent == mapping.parent / "clone-audit-rollback"
    document = json.loads(rollback_file.read_text())
    entry = next(f for f in document["files"] if f["path"].endswith("settings.py"))
    assert entry["replacements"] == [{"line": 1, "column": 10, "offset": 9, "old": OLD_A, "new": NEW_A}]
    assert len(entry["sha256_before"]) == len(entry["sha256_after"]) == 64

    again = cutover(mapping, [root / "app"], CutoverOptions(max_bytes=2048))
    assert all(not o.ready for o in again.scan.occurrences)  # nothing ready is left to replace

    outcome = rollback(rollback_file).restored
    assert len(outcome.restored) == len(document["files"]) and not outcome.refused
    assert _bytes(root, files) == files
    assert {rel: stat.S_IMODE(os.stat(root / rel).st_mode) for rel in files} == modes
    outcome = rollback(rollback_file).restored  # a second rollback is harmless
    assert not outcome.restored and len(outcome.already) == len(document["files"])


def test_rollback_refuses_a_file_changed_since_and_restores_the_others(tmp_path: Path, mapping: Path) -> None:
    root = tmp_path / "tree"
    files = _make_tree(root, git=False)
    run = cutover(mapping, [root / "app"], CutoverOptions(write=True))
    assert run.written is not None
    (root / "app/.env").write_bytes(b"edited by hand\n")
    outcome = rollback(run.written.rollback_file).restored
    assert [p.name for p, _ in outcome.refused] == [".env"]
    assert "changed since" in outcome.refused[0][1]
    assert (root / "app/.env").read_bytes() == b"edited by hand\n"
    restored = _bytes(root, files)
    assert {k: v for k, v in restored.items() if k != "app/.env"} == {k: v for k, v in files.items() if k != "app/.env"}


def test_patch_file_applies_with_git_and_equals_the_write(tmp_path: Path, mapping: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tree"
    files = _make_tree(root, git=True)
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, symlinks=True)
    monkeypatch.chdir(root)
    patch = tmp_path / "cutover.patch"
    cutover(mapping, [Path("app")], CutoverOptions(patch_file=patch))
    assert _bytes(root, files) == files  # --patch alone writes only the patch
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=copy, check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=copy, check=True)
    cutover(mapping, [Path("app")], CutoverOptions(write=True))
    assert _bytes(copy, files) == _bytes(root, files)


def test_the_rollback_file_never_goes_inside_the_patched_tree(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _make_tree(root, git=False)
    inside = root / "migration" / "mapping.csv"
    inside.parent.mkdir()
    inside.write_text(MAPPING_CSV, encoding="utf-8")
    before = (root / "app/settings.py").read_bytes()
    with pytest.raises(UsageError, match="rollback file would go") as caught:
        cutover(inside, [root], CutoverOptions(write=True))
    assert "--rollback-dir" in caught.value.hint
    assert (root / "app/settings.py").read_bytes() == before
    run = cutover(inside, [root], CutoverOptions(write=True, rollback_dir=tmp_path / "rollbacks"))
    assert run.written is not None and run.written.rollback_file.parent == tmp_path / "rollbacks"
    assert "migration/mapping.csv" not in {str(o.path) for o in run.scan.occurrences}  # the mapping is left alone


def test_clone_audit_run_folders_inside_the_paths_are_left_alone(tmp_path: Path, mapping: Path) -> None:
    root = tmp_path / "tree"
    with staged(root / "reports", "20260101T000000Z-abcd") as folder:  # marked by the run folder code
        for target in (folder.run_json, folder.clones_csv, folder.mapping_csv, folder.cutover_dir / "r.json"):
            folder.write_text(target, OLD_A)
    (root / "conf.ini").write_text(f"voice={OLD_A}\n")
    for git in (False, True):
        if git:
            subprocess.run(["git", "init", "-q", str(root)], check=True)
        run = cutover(mapping, [root], CutoverOptions())
        assert [o.path.name for o in run.scan.occurrences] == ["conf.ini"]


def test_a_file_with_hard_links_is_not_split_from_its_other_names(tmp_path: Path, mapping: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "a.conf").write_text(f"voice={OLD_A}\n")
    os.link(root / "a.conf", tmp_path / "elsewhere.conf")
    run = cutover(mapping, [root], CutoverOptions(write=True))
    assert run.written is not None and not run.written.written
    assert "hard links" in run.written.refused[0][1]
    assert run.exit_code is ExitCode.FINDINGS


# -- the matcher and the text round trip ------------------------------------------------------


def test_matcher_matches_whole_tokens_only() -> None:
    matcher = IdMatcher(["voice_abcdefghij", "voice_abcdefghijKL"])
    text = ("voice_abcdefghij voice_abcdefghijKL voice_abcdefghijK xvoice_abcdefghij voice_abcdefghij_2 "
            "voice_abcdefghij-2 (voice_abcdefghij) 'voice_abcdefghijKL' migrated-from:voice_abcdefghij é"
            "voice_abcdefghij")
    assert [m.voice_id for m in matcher.find(text)] == [
        "voice_abcdefghij", "voice_abcdefghijKL", "voice_abcdefghij", "voice_abcdefghijKL"]


def test_matcher_handles_thousands_of_ids_in_one_pattern() -> None:
    ids = [f"voice_{i:010d}" for i in range(5000)]
    matcher = IdMatcher(ids)
    text = " ".join(ids[::997]) + " voice_9999999999"
    assert [m.voice_id for m in matcher.find(text)] == ids[::997]
    assert not matcher.might_contain(b"voice_9999999999 and nothing else")


@given(st.binary(max_size=300))
def test_any_8bit_text_round_trips_exactly(data: bytes) -> None:
    encoding = sniff(data)
    if encoding is not None and not encoding.is_utf16:
        assert encode(decode(data, encoding), encoding) == data


@given(st.text(max_size=200), st.sampled_from([Encoding.UTF16_LE, Encoding.UTF16_BE, Encoding.UTF8_BOM]))
def test_bom_files_round_trip_and_keep_their_bom(text: str, encoding: Encoding) -> None:
    # no lone surrogates; no NUL (binary in UTF-8, and FF FE 00 00 opens UTF-32, refused as binary)
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "")
    data = encode(text, encoding)
    assert sniff(data) is encoding and decode(data, encoding) == text and encode(decode(data, encoding), encoding) == data


# -- the mapping file ------------------------------------------------------------------------


def test_mapping_offers_only_ready_rows(mapping: Path) -> None:
    read = read_mapping(mapping)
    assert read.ready == {OLD_A: NEW_A, OLD_B: f"{NEW_B}xyz"}
    assert {r.old_voice_id: r.why_not for r in read.rows if not r.ready} == {
        OLD_F: "status failed", OLD_X: "fidelity mismatch"}
    assert read.by_old[OLD_B].display_name == "=Raj"  # the CSV's formula guard is undone


def test_mapping_json_reads_like_the_csv(tmp_path: Path, mapping: Path) -> None:
    rows = [{"old_voice_id": r.old_voice_id, "new_voice_id": r.new_voice_id, "display_name": r.display_name,
             "status": r.status, "fidelity": "mismatch" if r.why_not == "fidelity mismatch" else None}
            for r in read_mapping(mapping).rows]
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"plan_id": "p", "mapping": rows}))
    assert read_mapping(path).ready == read_mapping(mapping).ready


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.csv", None, "does not exist"),
    ("mapping.txt", "old_voice_id,new_voice_id,status\n", "neither .csv nor .json"),
    ("mapping.csv", "voice,new\nvoice_AAAAAAAAAA,voice_B\n", "no column old_voice_id"),
    ("mapping.csv", "old_voice_id,new_voice_id,status\n", "holds no rows"),
    ("mapping.csv", "old_voice_id,new_voice_id,status\nvoice,voice_NNNNNNNNNN,ready\n", "row 1: old_voice_id 'voice'"),
    ("mapping.csv", f"old_voice_id,new_voice_id,status\n{OLD_A},{NEW_A},ready\n{OLD_A},{OLD_B},ready\n",
     "mapped twice"),
    ("mapping.json", "{not json", "not valid JSON"),
    ("mapping.json", '{"rows": []}', "no `mapping` list"),
])
def test_a_bad_mapping_is_a_usage_error_naming_the_file(tmp_path: Path, name: str, content: str | None,
                                                        message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=message) as caught:
        read_mapping(path)
    assert str(path) in caught.value.message and caught.value.hint


# -- the command line ------------------------------------------------------------------------


def test_cutover_command_line_errors_exit_2(tmp_path: Path, mapping: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from audit.cli import main

    assert main(["cutover", str(mapping)]) == 2
    assert "needs a MAPPING and at least one PATH" in capsys.readouterr().err
    assert main(["cutover", "--rollback", str(tmp_path / "r.json"), str(mapping)]) == 2
    assert main(["cutover", "--rollback", str(tmp_path / "r.json")]) == 2
    assert "does not exist" in " ".join(capsys.readouterr().err.split())
    assert main(["cutover", str(tmp_path / "nope.csv"), str(tmp_path)]) == 2
    assert main(["cutover", str(mapping), str(tmp_path / "no-such-folder")]) == 2
    assert main(["usage", "--since", "yesterday-ish"]) == 2


def test_cutover_command_exits_0_when_no_old_id_is_left(tmp_path: Path, mapping: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from audit.cli import main

    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "a.yaml").write_text(f"voice: {NEW_A}\n")
    assert main(["cutover", str(mapping), str(tmp_path / "clean")]) == 0
    assert "No old voice id left in these paths." in capsys.readouterr().out


def test_cutover_says_how_many_files_gitignore_hid_and_names_env_files(
    tmp_path: Path, mapping: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from audit.cli import main

    root = tmp_path / "tree"
    _make_tree(root, git=True)
    (root / ".gitignore").write_bytes(GITIGNORE + b".env*\n")
    (root / "app/.env.local").write_text(f"TTS_VOICE={OLD_A}\n")
    assert main(["cutover", str(mapping), str(root / "app")]) == 1
    out = capsys.readouterr().out
    (hid,) = [line for line in out.splitlines() if ".gitignore hid" in line]
    assert " 4 file(s)" in hid  # ignored.log, node_modules/lib.js, .env, .env.local
    assert "app/.env," in hid and "app/.env.local" in hid and "--include-ignored" in hid
    run = cutover(mapping, [root / "app"], CutoverOptions(include_ignored=True))
    assert run.scan.gitignored == 0  # read, not hidden


@pytest.mark.parametrize("where", ["inside", "the-folder", "missing-folder", "link-inside"])
def test_a_patch_file_inside_the_scanned_paths_or_in_a_missing_folder_is_refused(
    tmp_path: Path, mapping: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    from audit.cli import main

    root = tmp_path / "tree"
    files = _make_tree(root, git=False)
    outside = tmp_path / "outside"
    outside.mkdir()
    # a link inside the scanned tree pointing out of it: the write would replace the link, inside
    (root / "app" / "flows" / "out.patch").symlink_to(outside / "cutover.patch")
    patch = {"inside": root / "app" / "flows" / "cutover.patch", "the-folder": root / "app",
             "missing-folder": tmp_path / "missing" / "cutover.patch",
             "link-inside": root / "app" / "flows" / "out.patch"}[where]
    assert main(["cutover", str(mapping), str(root / "app"), "--patch", str(patch)]) == 2
    assert "hint:" in capsys.readouterr().err
    assert _bytes(root, files) == files and not (root / "app" / "flows" / "cutover.patch").exists()
    assert not (tmp_path / "missing").exists() and not (mapping.parent / "clone-audit-rollback").exists()
    assert (root / "app" / "flows" / "out.patch").is_symlink() and not (outside / "cutover.patch").exists()
