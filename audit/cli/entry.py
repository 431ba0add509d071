"""main(): run one command; every way out of it is an exit code and at most one error line.

Exit 1 means findings and nothing else: anything unexpected (a full disk, a read-only
folder, a damaged database, memory, a bug) is one line on stderr and exit 3, never a
traceback (`-vv` logs it for a bug report). Ctrl-C and SIGTERM exit 130 and 143; a
confirmation refused at the prompt is a cancel, not an error: one line, exit 130. A run
that got past argument parsing and failed is recorded in its output folder's history with
the code the process exits with (`audit.cli.failures`).
"""

from __future__ import annotations

import argparse
import importlib
import signal
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from audit.cli.parser import COMMANDS, build_parser
from audit.core.errors import Cancelled, CloneAuditError, ExitCode
from audit.runs.kind import RunKind

# Start-up imports only the parser: `--version` and `--help` answer before anything else is
# loaded. The console (rich), the output routing and the failure records (sqlite, the run
# store) are imported once a command runs, or when a failure needs them.

#: Exit status after Ctrl-C (SIGINT) and SIGTERM, the shell's 128 + signal number.
EXIT_SIGINT, EXIT_SIGTERM = int(ExitCode.INTERRUPTED), int(ExitCode.TERMINATED)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM, with what the interrupted command kept."""

    def __init__(self, kept: str, hint: str) -> None:
        super().__init__(kept)
        self.kept, self.hint = kept, hint


def command(name: str) -> Callable[[argparse.Namespace], int]:
    """The function that runs command `name`, its module imported now (not at start-up)."""
    module, function = COMMANDS[name]
    return getattr(importlib.import_module(f"audit.cli.commands.{module}"), function)  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    from audit.cli.output import routed
    from audit.console import configure_logging, no_colour

    if args.no_color:
        no_colour()
    configure_logging(args.verbose)
    terminated: list[int] = []
    started = datetime.now(UTC)

    def on_sigterm(signum: int, frame: Any) -> None:  # stop as Ctrl-C does: tasks cancelled, temp removed
        terminated.append(signum)
        on_sigint = signal.getsignal(signal.SIGINT)
        if callable(on_sigint):  # asyncio's (cancels the main task) or Python's (KeyboardInterrupt)
            on_sigint(signal.SIGINT, frame)
        else:  # SIGINT ignored, as for a job started in the background: stop all the same
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        writes_run = RunKind.parse(args.command) is not None  # its --json: one document, the rest on stderr
        with routed(quiet=getattr(args, "quiet", False), as_json=writes_run and getattr(args, "json", False)):
            return int(command(args.command)(args))
    except Interrupted as exc:
        from audit.console import print_error

        print_error(f"interrupted: {exc.kept}", exc.hint)
        code = EXIT_SIGTERM if terminated else EXIT_SIGINT
        return _failed(args, started, code, f"interrupted: {exc.kept}")
    except BaseException as exc:  # the one place where every failure becomes an exit code
        if isinstance(exc, SystemExit):
            raise
        code, message = _report_failure(exc, EXIT_SIGTERM if terminated else EXIT_SIGINT)
        return _failed(args, started, code, message)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _failed(args: argparse.Namespace, started: datetime, code: int, message: str) -> int:
    """Record a failed run; under --json its one JSON document still goes to stdout."""
    from audit.cli import failures
    from audit.cli.output import print_json
    from audit.runs.summary import summary

    failures.record(args, started, code, message)
    kind = RunKind.parse(getattr(args, "command", None))
    if getattr(args, "json", False) and kind is not None:
        print_json(summary(None, kind=kind, exit_code=code, error=message))
    return code


def _report_failure(exc: BaseException, interrupted_code: int) -> tuple[int, str]:
    """Print what went wrong in one line with a hint; the exit code it maps to, and the line."""
    import logging

    from audit.console import print_error, print_note

    leaf = _first_leaf(exc)
    if isinstance(leaf, Cancelled):  # the user said no: what was left alone, not an error
        print_note(leaf.message)
        return int(leaf.exit_code), leaf.message
    if isinstance(leaf, CloneAuditError):
        print_error(leaf.message, leaf.hint)
        return int(leaf.exit_code), leaf.message
    if isinstance(leaf, KeyboardInterrupt):
        print_error("interrupted", "Run the same command again: finished work is kept.")
        return interrupted_code, "interrupted"
    logging.getLogger(__name__).debug("unexpected failure", exc_info=leaf)
    message, hint = _describe(leaf)
    print_error(message, hint)
    return int(ExitCode.RUN_FAILED), message


def _first_leaf(exc: BaseException) -> BaseException:
    """The first real exception inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> tuple[str, str]:
    """(message, hint) for a failure outside the program's own error tree."""
    import errno
    import sqlite3

    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        reason = exc.strerror or str(exc) or type(exc).__name__
        if exc.errno == errno.ENOSPC:
            return f"the disk is full{where}", "Free some space (or choose another --out) and run again."
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return (f"cannot write{where}: {reason}",
                    "Choose a folder you can write to (--out) and run again.")
        return f"{reason}{where}", "Check the file or folder named, then run again."
    if isinstance(exc, MemoryError):
        return "out of memory", "Lower [api] concurrency or scan a smaller organisation, then run again."
    if isinstance(exc, sqlite3.Error):
        return (f"the ledger database failed: {exc}",
                "Check the disk and the ledger.sqlite file; move a damaged one aside and run apply again.")
    return (f"unexpected {type(exc).__name__}: {exc}",
            "This is a bug in clone-audit: run again with -vv and report what it logs.")
