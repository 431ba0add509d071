"""`clone-audit review PLAN --accept/--reject ID`: a person's decision on mismatched replacements."""

from __future__ import annotations

import argparse
import getpass
import os

from audit.cli.output import print_run
from audit.console import terminal
from audit.core.errors import UsageError
from audit.pipeline import review as review_flow


def run_review(args: argparse.Namespace) -> int:
    by = args.by or os.environ.get("USER") or _login_name()
    if not by:
        raise UsageError("who is reviewing is unknown ($USER is not set).", hint="Pass --by NAME.")
    done = review_flow.review_mismatches(args.plan_file, args.accept, args.reject, by)
    for line in done.lines():
        print(terminal(line, one_line=True))
    print_run(done.record)
    return int(done.exit_code)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""
