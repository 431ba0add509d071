"""`clone-audit scan`: list, probe and judge every clone; write the compliance report."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.entry import Interrupted
from audit.cli.output import finish, print_lines, print_outcome
from audit.cli.session import settings as load
from audit.cli.session import with_client
from audit.console import BarProgress, stderr
from audit.pipeline import machine
from audit.pipeline import scan as scan_flow
from audit.runs.kind import RunKind


def run_scan(args: argparse.Namespace) -> int:
    if args.baseline is not None and args.fail_on is None:
        args.fail_on = "new"  # --baseline RUN is a baseline gate
    settings = load(args)
    out = Path(settings.report.out_dir)
    if args.junit is not None:
        machine.check_output(args.junit, "--junit")
    with BarProgress() as progress:
        try:
            run = with_client(settings, lambda c: scan_flow.scan_organisation(c, settings, progress, out_root=out,
                                                                              baseline=args.baseline))
            record = scan_flow.write_scan_reports(run, out)
        except KeyboardInterrupt:
            done = f"after {progress.done:,} of {progress.total:,} probes" if progress.total else "before any probe"
            raise Interrupted(f"{done}: no report was written.",
                              "Run `clone-audit scan` again; the scan starts over (each probe costs ~45 "
                              "TTS characters).") from None
    print_outcome(run, record)
    for warning in run.warnings():  # on stderr: what could not be checked and why, what verdicts rest on
        stderr.print(warning, markup=False, highlight=False)
    print_lines(run.lines())
    if args.junit is not None:
        machine.write(args.junit, machine.junit_of(record))
        print(f"JUnit: {args.junit}")
    return finish(args, record, RunKind.SCAN, record.exit_code)
