"""`clone-audit cutover` (find, patch, write, roll back old ids in files; with `--agents` in voice
agents' configs too) and `clone-audit usage`."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.output import finish, print_lines
from audit.cli.session import confirmer, with_client
from audit.cli.session import settings as load
from audit.console import BarProgress, stderr
from audit.core.errors import ExitCode, UsageError
from audit.core.usage import parse_since
from audit.pipeline import cutover as cutover_flow
from audit.runs.kind import RunKind


def run_cutover(args: argparse.Namespace) -> int:
    if args.rollback is not None:
        from audit.cutover.agentrecord import is_agent_record

        if is_agent_record(args.rollback):
            if args.mapping is not None or args.write or args.patch:
                raise UsageError("--rollback FILE takes no mapping, path, --write or --patch.")
            return _agents_rollback(args)
        if args.mapping is not None or args.write or args.patch:
            raise UsageError("--rollback FILE takes no mapping, path, --write or --patch.")
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
    if not args.paths:
        return _agents(args, ExitCode.OK)
    if args.max_bytes < 1:
        raise UsageError(f"--max-bytes {args.max_bytes} must be at least 1.")
    options = cutover_flow.CutoverOptions(
        write=args.write, patch_file=args.patch, max_bytes=args.max_bytes,
        include_ignored=args.include_ignored, rollback_dir=args.rollback_dir,
    )
    with BarProgress() as progress:
        run = cutover_flow.cutover(args.mapping, args.paths, options, progress)
    print_lines(run.lines(diff=not args.write and args.patch is None))
    if run.report_note:
        stderr.print(run.report_note)
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
    return finish(args, run.record, RunKind.CUTOVER, code, agent_places=len(run.hits),
                  agent_places_left=len(run.remaining))


def _agents_rollback(args: argparse.Namespace) -> int:
    from audit.pipeline import agentsundo

    settings = load(args)
    undone = with_client(settings, lambda c: agentsundo.agents_rollback(c, args.rollback))
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
