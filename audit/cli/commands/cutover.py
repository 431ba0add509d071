"""`clone-audit cutover` (find, patch, write, roll back old ids in files; with `--agents` in voice
agents' configs too) and `clone-audit usage`."""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path

from audit.cli.output import finish, print_document, print_lines
from audit.cli.session import confirmer, with_client
from audit.cli.session import settings as load
from audit.console import BarProgress, stderr
from audit.core.errors import ExitCode, UsageError
from audit.core.usage import parse_since
from audit.pipeline import cutover as cutover_flow
from audit.pipeline import machine
from audit.runs.kind import RunKind


def run_cutover(args: argparse.Namespace) -> int:
    sarif = args.format == "sarif"
    if args.rollback is not None:
        from audit.cutover.agentrecord import is_agent_record

        if args.mapping is not None or args.write or args.patch or sarif or args.output:
            raise UsageError("--rollback FILE takes no mapping, path, --write, --patch, --format or -o.")
        if is_agent_record(args.rollback):
            return _agents_rollback(args)
        undone = cutover_flow.rollback(args.rollback)
        print_lines(undone.lines())
        if undone.report_note:
            stderr.print(undone.report_note)
        return finish(args, undone.record, RunKind.CUTOVER, undone.exit_code)
    if args.mapping is None or not (args.paths or args.agents):
        raise UsageError("cutover needs a MAPPING and at least one PATH, or --agents.",
                         hint="clone-audit cutover reports/<id>/mapping.csv ./app ./config (--agents: voice agents too)")
    if args.agents and args.patch is not None:
        raise UsageError("--patch writes a patch of files; voice agents are switched with --write.")
    if args.agents and args.scan_wait < 0:
        raise UsageError(f"--scan-wait {args.scan_wait} must be 0 or more.")
    if args.agents and sarif and (args.output is None or not args.paths):
        raise UsageError("--format sarif logs the files' occurrences: with --agents give PATHs and -o FILE.")
    if args.check and (args.write or args.patch is not None or args.agents):
        raise UsageError("--check only lists the old ids left in files: it takes no --write, --patch or --agents.")
    if args.output is not None and not sarif:
        raise UsageError("-o FILE writes the SARIF log: pass --format sarif with it.")
    if not args.paths:
        return _agents(args, ExitCode.OK)
    if args.max_bytes < 1:
        raise UsageError(f"--max-bytes {args.max_bytes} must be at least 1.")
    if sarif and args.output is None and args.json:
        raise UsageError("--format sarif without -o FILE prints the SARIF log on stdout, where --json would go.",
                         hint="Write the log to a file: --format sarif -o cutover.sarif.")
    if args.output is not None:
        machine.check_output(args.output, "-o", [args.mapping] if args.mapping else [], args.paths)
    if sarif and args.output is None:  # the log is the result on stdout: everything else goes to stderr
        with contextlib.nullcontext() if args.quiet else contextlib.redirect_stdout(sys.stderr):
            return _cutover(args, sarif=True)
    return _cutover(args, sarif=sarif)


def _cutover(args: argparse.Namespace, *, sarif: bool) -> int:
    started = datetime.now(UTC)
    options = cutover_flow.CutoverOptions(
        write=args.write, patch_file=args.patch, max_bytes=args.max_bytes,
        include_ignored=args.include_ignored, rollback_dir=args.rollback_dir, record=not args.check,
        exclude=(args.output,) if args.output is not None else (),
    )
    with BarProgress() as progress:
        run = cutover_flow.cutover(args.mapping, args.paths, options, progress)
    print_lines(run.lines(diff=not args.check and not args.write and args.patch is None))
    if run.report_note:
        stderr.print(run.report_note)
    if sarif:
        log = machine.cutover_sarif(run, args.paths, started, datetime.now(UTC))
        if args.output is None:
            print_document(log)
            if run.record is not None and run.record.run_json is not None:
                print(f"Run: {run.record.run_json}")  # on stderr: stdout holds the log alone
            return int(run.exit_code)
        machine.write(args.output, log)
        print(f"SARIF: {args.output} ({len(run.remaining)} result(s))")
    if args.agents:
        return _agents(args, run.exit_code)
    return finish(args, run.record, RunKind.CUTOVER, run.exit_code, occurrences=len(run.scan.occurrences),
                  occurrences_left=len(run.remaining))


def _agents(args: argparse.Namespace, files_code: ExitCode) -> int:
    """`--agents`: find (and with --write switch) old ids in the voice agents' configs; the exit
    code is the worse of the files' (when PATHs were given) and the agents'."""
    from audit.pipeline import agents as agents_flow

    settings = load(args)
    options = agents_flow.AgentOptions(write=args.write, include_archived=args.include_archived,
                                       scan_wait_s=args.scan_wait, rollback_dir=args.rollback_dir)
    with BarProgress() as progress:
        run = with_client(settings, lambda c: agents_flow.agents_cutover(
            c, args.mapping, options, confirmer(args.yes, progress), show=print_lines))
    print_lines(run.lines())
    if run.report_note:
        stderr.print(run.report_note)
    code = max(int(files_code), int(run.exit_code))
    if run.confirmed is False:  # a "no" at the question is a cancel: nothing was switched
        stderr.print("cancelled: nothing was switched.")
        code = int(ExitCode.CANCELLED)
    return finish(args, run.record, RunKind.CUTOVER, code, agent_places=len(run.hits),
                  agent_places_left=len(run.remaining))


def _agents_rollback(args: argparse.Namespace) -> int:
    from audit.pipeline import agentsundo
    from audit.pipeline.agents import AgentOptions

    if args.scan_wait < 0:
        raise UsageError(f"--scan-wait {args.scan_wait} must be 0 or more.")
    settings = load(args)
    options = AgentOptions(scan_wait_s=args.scan_wait)
    undone = with_client(settings, lambda c: agentsundo.agents_rollback(c, args.rollback, options))
    print_lines(undone.lines())
    if undone.report_note:
        stderr.print(undone.report_note)
    return finish(args, undone.record, RunKind.CUTOVER, undone.exit_code)


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
