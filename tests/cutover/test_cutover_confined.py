"""Cutover writes stay where they were scanned: a folder swapped for a symlink or a file
swapped for another after the scan is not written; what an occurrence keeps is bounded;
the tool's run folders carry their marker."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.core.models import NoProgress
from audit.core.runfolder import RunFolder, staged
from audit.core.runmarker import RUN_MARKER, is_run_folder
from audit.cutover.scanner import CONTEXT_CHARS
from audit.pipeline.cutover import CutoverOptions, cutover
from tests.support.cutover import OLD, write_mapping


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    return write_mapping(tmp_path)


class SwapAfterScan(NoProgress):
    """A progress bar that, as the scan reaches the last file, does `swap` (the scan of the
    earlier files is over; the write comes after)."""

    def __init__(self, swap: Callable[[], object]) -> None:
        self.swap, self.total, self.done = swap, 0, 0

    def start(self, total: int, description: str) -> None:
        self.total = total

    def advance(self, outcome: str | None = None) -> None:
        self.done += 1
        if self.done == self.total:
            self.swap()


def test_a_folder_swapped_for_a_symlink_after_the_scan_is_not_written_through(tmp_path: Path, mapping: Path) -> None:
    root, outside = tmp_path / "app", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    (root / "a" / "voices.conf").write_text(f"voice={OLD}\n")
    (root / "z.conf").write_text("last file\n")
    outside.mkdir()
    (outside / "voices.conf").write_text(f"voice={OLD}\n")

    def swap() -> None:
        shutil.rmtree(root / "a")
        (root / "a").symlink_to(outside, target_is_directory=True)

    run = cutover(mapping, [root], CutoverOptions(write=True), SwapAfterScan(swap))

    assert (outside / "voices.conf").read_text() == f"voice={OLD}\n"
    assert run.written is not None and not run.written.written
    assert "symlink" in run.written.refused[0][1]
    assert len(run.remaining) == 1


def test_a_file_swapped_for_another_with_the_same_bytes_is_not_written(tmp_path: Path, mapping: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "a.conf").write_text(f"voice={OLD}\n")
    (root / "z.conf").write_text("last file\n")
    kept = tmp_path / "kept.conf"

    def swap() -> None:  # the scanned file lives on under another name; a look-alike takes its place
        os.rename(root / "a.conf", kept)
        (root / "a.conf").write_text(f"voice={OLD}\n")

    run = cutover(mapping, [root], CutoverOptions(write=True), SwapAfterScan(swap))

    assert run.written is not None and not run.written.written
    assert "replaced by another file" in run.written.refused[0][1]
    assert (root / "a.conf").read_text() == kept.read_text() == f"voice={OLD}\n"


def test_a_file_edited_after_the_scan_is_not_in_the_patch(tmp_path: Path, mapping: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "a.conf").write_text(f"voice={OLD}\n")
    (root / "z.conf").write_text("last file\n")
    patch = tmp_path / "p.patch"
    run = cutover(mapping, [root], CutoverOptions(patch_file=patch),
                  SwapAfterScan(lambda: (root / "a.conf").write_text(f"voice={OLD} # edited\n")))
    assert patch.read_bytes() == b""
    assert [s.reason for s in run.scan.unchecked] == ["changed since it was scanned: not changed"]


def test_an_occurrence_keeps_a_bounded_excerpt_of_a_long_line(tmp_path: Path, mapping: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    line = (" " * 2500 + OLD) * 400 + "\n"  # about 1 MB on one line, 400 ids
    (root / "one-line.json").write_text(line)
    run = cutover(mapping, [root], CutoverOptions())
    occurrences = run.scan.occurrences
    assert len(occurrences) == 400
    assert all(OLD in o.context and len(o.context) <= 2 * CONTEXT_CHARS + len(OLD) for o in occurrences)
    assert [o.column for o in occurrences[:2]] == [2501, 2501 + 2500 + len(OLD)]
    assert {o.line for o in occurrences} == {1}


def test_every_folder_the_run_folder_code_creates_carries_the_marker(tmp_path: Path) -> None:
    run_id = "20260101T000000Z-abcd"
    with staged(tmp_path, run_id) as folder:
        assert (folder.path / RUN_MARKER).is_file()  # before any other file
    assert is_run_folder(tmp_path / run_id)
    created = RunFolder(tmp_path / "made").create()
    assert is_run_folder(created.path)
    look_alike = tmp_path / "look-alike"
    look_alike.mkdir()
    (look_alike / RUN_MARKER).symlink_to(tmp_path / run_id / RUN_MARKER)  # a symlinked marker proves nothing
    (look_alike / "run.json").write_text(json.dumps({"tool": "clone-audit", "run_id": "someone-else"}))
    assert not is_run_folder(look_alike)
