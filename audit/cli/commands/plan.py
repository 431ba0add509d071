"""`clone-audit plan`: the dry run that writes a migration plan from the latest scan."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from audit.cli.entry import Interrupted
from audit.cli.output import finish, print_lines, print_outcome
from audit.cli.session import settings as load
from audit.cli.session import with_client
from audit.console import BarProgress, stderr
from audit.pipeline import plan as plan_flow
from audit.runs import store
from audit.runs.kind import RunKind


def run_plan(args: argparse.Namespace) -> int:
    settings = load(args)
    out = Path(settings.report.out_dir)
    scan_folder = args.scan or store.latest_scan(out, settings.api.base_url, timedelta(hours=settings.plan.expiry_hours))
    if scan_folder is None:
        stderr.print(
            "[yellow]No recent scan of this account found: verdicts rest on metadata alone, so a voice "
            "whose modelIds lies is missed. Run `clone-audit scan` first (or pass --scan DIR).[/]"
        )
    elif args.scan is None:
        stderr.print(f"Using the probe verdicts of the latest scan, {scan_folder}.")
    with BarProgress() as progress:
        try:
            planned = with_client(
                settings, lambda c: plan_flow.plan_migration(c, settings, out, progress, scan_folder=scan_folder)
            )
        except KeyboardInterrupt:
            raise Interrupted("no plan was written, and nothing on the account was changed.",
                              "Run `clone-audit plan` again.") from None
    print_outcome(planned.scan, planned.record)
    print_lines(planned.lines())
    for warning in planned.warnings():
        stderr.print(f"[yellow]{warning}[/]")
    return finish(args, planned.record, RunKind.PLAN, planned.exit_code, actions=planned.plan.totals(),
                  plan_file=str(planned.plan_path))
