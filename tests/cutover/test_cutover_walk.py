"""The walk lists exactly what it listed before it became one pass: on a tree with nested
and empty folders, symlinks in and out (to a file and to a folder), a broken symlink,
a binary, a file over --max-bytes, a .gitignore (honoured in a git work tree, with the
count of files it hid and the .env ones named), the tool's own run folder and a folder
with a copied marker; and the scan of that listing reads the text and passes the binary."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from audit.core.runmarker import RUN_MARKER, mark
from audit.cutover.confined import ConfinedReader, Refused, ThroughSymlink
from audit.cutover.mapping import MappingRow, VoiceMapping
from audit.cutover.scanner import scan_files
from audit.cutover.walk import list_files

OLD, NEW = "voice_oldoldold1", "voice_newnewnew1"
RUN_ID = "20260101T000000Z-abcd"
MAX_BYTES = 1000


def build(root: Path, outside: Path) -> None:
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{OLD}\n")
    files = {
        "a/b/c/deep.py": f"VOICE = '{OLD}'\n", "a/b/c/d/e/f/deeper.yaml": "x: 1\n", "a/top.cfg": "y\n",
        "a/img.bin": b"\x89PNG\x00\x00" + OLD.encode(), "big.txt": "z" * (MAX_BYTES + 1),
        ".gitignore": "*.log\n.env*\nbuild/\n", "debug.log": f"{OLD}\n", ".env.local": "KEY=1\n",
        "build/out.txt": f"{OLD}\n", "docs/runs/" + RUN_ID + "/voices.csv": f"{OLD}\n",
        "copied/voices.csv": f"{OLD}\n", "z.txt": "last\n",
    }
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            (root / name).write_bytes(body)
        else:
            (root / name).write_text(body)
    (root / "a" / "b" / "empty").mkdir()
    mark(root / "docs" / "runs" / RUN_ID, RUN_ID)
    (root / "copied" / RUN_MARKER).write_bytes((root / "docs" / "runs" / RUN_ID / RUN_MARKER).read_bytes())
    (root / "link_in").symlink_to(root / "a" / "b" / "c" / "deep.py")
    (root / "a" / "link_up").symlink_to(root / "a" / "b", target_is_directory=True)
    (root / "link_out").symlink_to(outside / "secret.txt")
    (root / "a" / "dir_out").symlink_to(outside, target_is_directory=True)
    (root / "broken").symlink_to(root / "nowhere")


LISTED = ["a/b/c/d/e/f/deeper.yaml", "a/b/c/deep.py", "a/img.bin", "a/top.cfg", "z.txt"]
SKIPPED = [  # path, checked or not
    ("a/dir_out", False), ("big.txt", True), ("broken", False), ("copied", True), ("docs/runs/" + RUN_ID, False),
    ("link_out", False),
]


@pytest.mark.parametrize("git", [False, True], ids=["folder", "git work tree"])
def test_the_walk_lists_the_same_files_and_skips_as_before(tmp_path: Path, git: bool) -> None:
    base = Path(os.path.realpath(tmp_path))
    root = base / "app"
    root.mkdir()
    build(root, base / "outside")
    if git:
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "add", "a/top.cfg"], check=True)

    listing = list_files([root], max_bytes=MAX_BYTES)

    ignored = [] if git else [".env.local", ".gitignore", "build/out.txt", "debug.log"]
    assert sorted(str(f.path.relative_to(root)) for f in listing.files) == sorted(LISTED + ignored + (
        [".gitignore"] if git else []))
    assert len(listing.files) == len({f.path for f in listing.files})
    assert {f.root for f in listing.files} == {root}
    assert sorted((str(s.path.relative_to(root)), s.unchecked) for s in listing.skipped) == SKIPPED
    assert listing.git_trees == int(git)
    assert listing.gitignored == (3 if git else 0)
    assert listing.gitignored_env == ([root / ".env.local"] if git else [])

    mapping = VoiceMapping(Path("mapping.csv"), (MappingRow(OLD, NEW, "name", "ready", True, ""),))
    scanned = scan_files(listing, mapping)
    assert scanned.files_scanned == len(listing.files) and scanned.binary == 1
    found = sorted(str(o.path.relative_to(root)) for o in scanned.occurrences)
    assert found == (["a/b/c/deep.py"] if git else ["a/b/c/deep.py", "build/out.txt", "debug.log"])


def test_the_walk_lists_every_file_of_a_deep_tree_once_in_order(tmp_path: Path) -> None:
    root = Path(os.path.realpath(tmp_path)) / "tree"
    names = [f"d{i}/m{j}/src/f{i}{j}.py" for i in range(3) for j in range(3)]
    for name in names:
        (root / name).parent.mkdir(parents=True)
        (root / name).write_text("x\n")
        (root / name).parent.with_name("empty").mkdir(exist_ok=True)

    listing = list_files([root, root / "d1"], max_bytes=MAX_BYTES)  # overlapping paths: each file once

    assert [str(f.path.relative_to(root)) for f in listing.files] == names
    assert not listing.skipped


def test_the_scan_reads_through_held_folders_but_never_through_a_symlink(tmp_path: Path) -> None:
    base = Path(os.path.realpath(tmp_path))
    root, outside = base / "app", base / "outside"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "one.txt").write_text("one\n")
    (root / "a" / "b" / "two.txt").write_text("two\n")
    outside.mkdir()
    (outside / "three.txt").write_text("secret\n")
    (root / "a" / "c").symlink_to(outside, target_is_directory=True)

    with ConfinedReader() as reader:
        assert reader.read(root, root / "a" / "b" / "one.txt")[0] == b"one\n"
        assert reader.read(root, root / "a" / "b" / "two.txt")[0] == b"two\n"
        with pytest.raises(ThroughSymlink):
            reader.read(root, root / "a" / "c" / "three.txt")
        with pytest.raises(Refused):
            reader.read(root / "a" / "b", root / "a" / "c" / "three.txt")  # outside its root
        assert reader.read(root, root / "a" / "b" / "one.txt")[0] == b"one\n"
