"""The run folder: report sets published whole, stale staging cleaned, writes confined, --out checked."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit.core.errors import ExitCode, UsageError
from audit.core.runfolder import PathEscape, RunFolder, check_writable, clean_stale_staging, staged
from audit.runs.document import render
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord
from audit.runs.store import latest_scan

RUN_ID = "20260101T000000Z-abcd"


def test_a_staged_set_appears_whole_under_its_run_id(tmp_path: Path) -> None:
    with staged(tmp_path, RUN_ID) as folder:
        folder.write_text(folder.run_json, "{}")
        folder.write_text(folder.clones_csv, "voice_id\r\n")
        assert not (tmp_path / RUN_ID).exists()  # nothing where a reader looks, yet
    assert sorted(p.name for p in tmp_path.iterdir()) == [RUN_ID]
    assert sorted(p.name for p in (tmp_path / RUN_ID).iterdir()) == [".clone-audit-run", "clones.csv", "run.json"]


def test_an_interrupted_set_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), staged(tmp_path, RUN_ID) as folder:
        folder.write_text(folder.clones_csv, "voice_id\r\n")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_the_staging_of_a_killed_run_is_removed_by_the_next(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from audit.core.runfolder import staged\n"
        f"with staged(Path(sys.argv[1]), '{RUN_ID}') as f:\n"
        "    f.write_text(f.clones_csv, 'x'); print('in', flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "in\n"
    staging = tmp_path / f".{RUN_ID}.partial"
    assert clean_stale_staging(tmp_path, grace_s=0) == []  # alive: its lock is held
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert staging.is_dir()  # SIGKILL ran no cleanup
    assert clean_stale_staging(tmp_path, grace_s=0) == [staging]
    assert list(tmp_path.iterdir()) == []


def test_only_old_unlocked_staging_folders_of_ours_are_removed(tmp_path: Path) -> None:
    old = time.time() - 3600
    dead = tmp_path / ".20250101T000000Z-0001.partial"
    young = tmp_path / ".20250101T000000Z-0002.partial"
    alien = tmp_path / ".photos.partial"
    for folder in (dead, young, alien):
        (folder / "keep.txt").parent.mkdir()
        (folder / "keep.txt").write_text("x")
    os.utime(dead, (old, old))
    os.utime(alien, (old, old))
    assert clean_stale_staging(tmp_path) == [dead]
    assert young.is_dir() and alien.is_dir()


def test_a_locked_staging_folder_is_never_removed(tmp_path: Path) -> None:
    live = tmp_path / ".20250101T000000Z-0003.partial"
    live.mkdir()
    with open(live / ".lock", "ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert clean_stale_staging(tmp_path, grace_s=0) == []
    assert clean_stale_staging(tmp_path, grace_s=0) == [live]


def test_a_staging_folder_is_not_taken_for_a_scan(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    scan = RunRecord(kind=RunKind.SCAN, run_id=RUN_ID, started_at=now, finished_at=now, base_url="https://a",
                     exit_code=ExitCode.OK)
    staging = tmp_path / f".{RUN_ID}.partial"
    staging.mkdir()
    (staging / "run.json").write_text(render(scan), encoding="utf-8")
    assert latest_scan(tmp_path, "https://a", timedelta(days=1)) is None
    published = tmp_path / RUN_ID
    staging.rename(published)
    assert latest_scan(tmp_path, "https://a", timedelta(days=1)) == published  # the same run, once published


@pytest.mark.parametrize("voice_id", ["../../archive/Other", "/etc/passwd", "a/b", "x\x00y", "v" * 300, ""])
def test_a_fitted_file_stays_in_its_folder_whatever_the_id(tmp_path: Path, voice_id: str) -> None:
    folder = RunFolder(tmp_path / "run")
    target = folder.fitted_file(voice_id)
    folder.write_bytes(target, b"RIFF")
    assert target.parent == folder.fitted and target.read_bytes() == b"RIFF"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [target.name]


def test_a_write_through_a_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "archive"
    outside.mkdir()
    folder = RunFolder(tmp_path / "run").create()
    folder.fitted.symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathEscape):
        folder.write_bytes(folder.fitted_file("voice_abc"), b"RIFF")
    with pytest.raises(PathEscape):
        folder.write_text(folder.path / ".." / "archive" / "x.csv", "x")
    assert list(outside.iterdir()) == []


def test_an_output_folder_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UsageError) as caught:
        check_writable(blocker / "reports")
    assert caught.value.exit_code is ExitCode.USAGE and "--out" in caught.value.hint
    assert check_writable(tmp_path / "new" / "reports").is_dir()
    assert list((tmp_path / "new" / "reports").iterdir()) == []  # the probe file is gone


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_a_usage_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(UsageError):
            check_writable(tmp_path)
    finally:
        tmp_path.chmod(0o700)


def test_a_file_written_in_pieces_is_the_file_written_whole_with_every_secret_scrubbed(tmp_path: Path) -> None:
    """Streamed reports (run.json row by row, report.html as the template yields it) scrub and
    escape every piece: a key inside a piece never reaches the file, and the bytes are the same
    as writing the joined text at once."""
    from audit.core.runfolder import write_chunks, write_text
    from audit.core.secrets import register

    key = "sk_live_Pieces0123456789abcdefXYZ"
    register(key)
    pieces = ['{\n  "a": "caf\u00e9",\n', f'  "echo": "Bearer {key}",\n', '  "bidi": "\u202e",\n'] + ["  "] * 5000 + ["\n}\n"]
    write_chunks(tmp_path / "streamed.json", pieces)
    write_text(tmp_path / "whole.json", "".join(pieces))
    streamed = (tmp_path / "streamed.json").read_bytes()
    assert streamed == (tmp_path / "whole.json").read_bytes()
    assert key.encode() not in streamed and b"\\u202e" in streamed and "caf\u00e9".encode() in streamed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["streamed.json", "whole.json"]  # no temporary file left
