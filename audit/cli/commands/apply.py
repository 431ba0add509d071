"""`clone-audit apply PLAN`: re-clone what the plan says, verify, record old → new."""

from __future__ import annotations

import argparse
import time

from rich.markup import escape

from audit.cli.output import finish
from audit.cli.session import confirmer, with_client
from audit.cli.session import settings as load
from audit.console import BarProgress, stderr, terminal
from audit.core.errors import UsageError
from audit.migrate.selection import ApplyOptions
from audit.pipeline import apply as apply_flow
from audit.runs.kind import RunKind


def run_apply(args: argparse.Namespace) -> int:
    settings = load(args)
    options = ApplyOptions(
        only=frozenset(args.only), limit=args.limit, fail_fast=args.fail_fast, retry_failed=args.retry_failed,
        trust_plan_edits=args.trust_plan_edits, listen_all=args.listen_all,
    )
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit {args.limit} must be at least 1.")
    started = time.monotonic()
    with BarProgress() as progress:
        run = with_client(settings, lambda c: apply_flow.apply_plan(
            c, settings, args.plan_file, options, confirmer(args.yes, progress), progress,
            on_voice=lambda line: stderr.print(escape(terminal(line, one_line=True)))))
    minutes = (time.monotonic() - started) / 60
    if run.selection.todo and minutes > 0:
        stderr.print(f"{len(run.selection.todo) / minutes:.1f} voice(s) worked on per minute.")
    for line in run.lines():
        print(terminal(line, one_line=True))
    return finish(args, run.record, RunKind.APPLY, run.exit_code)
