"""`clone-audit cutover` (find, patch, write, roll back old ids in files) and `clone-audit usage`."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.output import finish, print_lines
from audit.cli.session import settings as load
from audit.cli.session import with_client
from audit.console import BarProgress, stderr
from audit.core.errors import UsageError
from audit.core.usage import parse_since
from audit.pipeline import cutover as cutover_flow
from audit.runs.kind import RunKind


def run_cutover(args: argparse.Namespace) -> int:
    if args.rollback is not None:
        if args.mapping is not None or args.write or args.patch:
            raise UsageError("--rollback FILE takes no mapping, path, --write or --patch.")
        undone = cutover_flow.rollback(args.rollback)
        print_lines(undone.lines())
        if undone.report_note:
            stderr.print(undone.report_note)
        return finish(args, undone.record, RunKind.CUTOVER, undone.exit_code)
    if args.mapping is None or not args.paths:
        raise UsageError("cutover needs a MAPPING and at least one PATH.",
                         hint="clone-audit cutover reports/<id>/mapping.csv ./app ./config")
    if args.max_bytes < 1:
        raise UsageError(f"--max-bytes {args.max_bytes} must be at least 1.")
    if args.check and (args.write or args.patch is not None):
        raise UsageError("--check only lists the old ids left: it takes no --write or --patch.")
    options = cutover_flow.CutoverOptions(
        write=args.write, patch_file=args.patch, max_bytes=args.max_bytes,
        include_ignored=args.include_ignored, rollback_dir=args.rollback_dir, record=not args.check,
    )
    with BarProgress() as progress:
        run = cutover_flow.cutover(args.mapping, args.paths, options, progress)
    print_lines(run.lines(diff=not args.check and not args.write and args.patch is None))
    if run.report_note:
        stderr.print(run.report_note)
    return finish(args, run.record, RunKind.CUTOVER, run.exit_code, occurrences=len(run.scan.occurrences),
                  occurrences_left=len(run.remaining))


def run_usage(args: argparse.Namespace) -> int:
    settings = load(args)
    since = parse_since(args.since)
    if args.max_pages < 1:
        raise UsageError(f"--max-pages {args.max_pages} must be at least 1.")
    out_root = Path(settings.report.out_dir)  # without a mapping: whose recorded probes to leave out
    run = with_client(settings, lambda c: cutover_flow.usage(c, args.mapping, since, max_pages=args.max_pages,
                                                             out_root=out_root if out_root.is_dir() else None))
    print_lines(run.lines())
    if run.report_note:
        stderr.print(run.report_note)
    return finish(args, run.record, RunKind.USAGE, run.exit_code, usage=run.facts())
