"""`clone-audit review PLAN --accept/--reject ID`: a person's decision on mismatched replacements
(without ids: the mismatches awaiting one, with their similarity and listening clips)."""

from __future__ import annotations

import argparse
import getpass
import os

from audit.cli.output import finish
from audit.console import terminal
from audit.core.errors import ExitCode, UsageError
from audit.pipeline import review as review_flow
from audit.runs.kind import RunKind


def run_review(args: argparse.Namespace) -> int:
    if not args.accept and not args.reject:  # what awaits a decision, and where to listen
        found = review_flow.awaiting_review(args.plan_file)
        for line in review_flow.awaiting_lines(found, args.plan_file):
            print(terminal(line, one_line=True))
        return finish(args, None, RunKind.REVIEW, ExitCode.OK, awaiting_review=[a.as_dict() for a in found])
    by = args.by or os.environ.get("USER") or _login_name()
    if not by:
        raise UsageError("who is reviewing is unknown ($USER is not set).", hint="Pass --by NAME.")
    done = review_flow.review_mismatches(args.plan_file, args.accept, args.reject, by)
    for line in done.lines():
        print(terminal(line, one_line=True))
    return finish(args, done.record, RunKind.REVIEW, done.exit_code)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""
