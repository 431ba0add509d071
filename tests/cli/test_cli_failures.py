"""Whatever goes wrong outside the program, the user gets one line, a hint and exit 3 (never 1,
which means findings, and never a traceback)."""

from __future__ import annotations

import argparse
import errno
import sqlite3
from pathlib import Path

import pytest

from audit import cli
from audit.cli.commands import scan as scan_command
from audit.core.errors import ExitCode, UsageError


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder: a failed run is recorded in ./reports when that folder exists."""
    monkeypatch.chdir(tmp_path)


def _run_failing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: BaseException) -> tuple[int, str]:
    def explode(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr(scan_command, "run_scan", explode)
    code = cli.main(["scan"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "reports/x/run.json"), "disk is full"),
        (PermissionError(errno.EACCES, "Permission denied", "reports/x"), "cannot write"),
        (OSError(errno.EROFS, "Read-only file system", "reports/x"), "cannot write"),
        (MemoryError(), "out of memory"),
        (sqlite3.DatabaseError("database disk image is malformed"), "ledger database failed"),
        (RuntimeError("boom"), "unexpected RuntimeError"),
        (ExceptionGroup("tasks", [ValueError("bad value")]), "unexpected ValueError"),
    ],
)
def test_unexpected_failures_are_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: BaseException, words: str
) -> None:
    code, err = _run_failing(monkeypatch, capsys, exc)
    assert code == ExitCode.RUN_FAILED
    assert words in err and "hint:" in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1


def test_an_error_of_the_program_inside_a_task_group_keeps_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run_failing(monkeypatch, capsys, ExceptionGroup("tasks", [UsageError("bad --out", hint="pick one")]))
    assert code == ExitCode.USAGE
    assert "bad --out" in err and "pick one" in err


def test_the_file_named_by_the_failure_is_in_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, err = _run_failing(monkeypatch, capsys, OSError(errno.ENOSPC, "No space left on device", "reports/r1/run.json"))
    assert "reports/r1/run.json" in err
