"""`clone-audit retire PLAN`: delete the legacy clones a verified migration replaced."""

from __future__ import annotations

import argparse

from audit.cli.output import finish
from audit.cli.session import confirmer, with_client
from audit.cli.session import settings as load
from audit.console import BarProgress, terminal
from audit.core.usage import parse_since
from audit.pipeline import retire as retire_flow
from audit.runs.kind import RunKind


def run_retire(args: argparse.Namespace) -> int:
    settings = load(args)
    quiet_since = parse_since(args.quiet_since, flag="--quiet-since") if args.quiet_since else None
    with BarProgress() as bar:
        run = with_client(settings, lambda c: retire_flow.retire_replaced(
            c, settings, args.plan_file, confirmer(args.yes, bar), quiet_since=quiet_since))
    for line in run.lines(args.plan_file):
        print(terminal(line, one_line=True))
    return finish(args, run.record, RunKind.RETIRE, run.exit_code)
