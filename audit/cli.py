"""The command line: arguments → settings and objects → a pipeline call → an exit code.

Thin on purpose: no logic lives here beyond parsing, building the objects a command
needs, asking for confirmation, and catching a CloneAuditError once to print its
message and hint.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import getpass
import json
import os
import logging
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from audit import __version__
from audit.core.apikey import api_key_from_env
from audit.core.loading import load_settings
from audit.pipeline import apply as apply_flow
from audit.pipeline import cutover as cutover_flow
from audit.pipeline import history as history_flow
from audit.pipeline import plan as plan_flow
from audit.pipeline import report as report_flow
from audit.pipeline import retire as retire_flow
from audit.pipeline import review as review_flow
from audit.pipeline import scan as scan_flow
from audit.migrate.selection import ApplyOptions
from audit.api.client import WavesClient
from audit.api.limiter import level_to_remember
from audit.core import aio, userstate
from audit.core.config import Settings
from audit.console import REDACTOR, BarProgress, configure_logging, print_error, print_summary, stderr, terminal
from audit.core.errors import CloneAuditError, ExitCode, UsageError
from audit.core.runfolder import RUN_JSON, latest_scan, write_text
from audit.core.untrusted import json_visible
from audit.core.usage import parse_since
from audit.core.models import FailOn, ProbePolicy, Verdict
from audit.report.tables import records, summary, voice_frame
from audit.report.text import traffic, usage_banner
from rich.markup import escape

T = TypeVar("T")
log = logging.getLogger(__name__)


#: Exit status after Ctrl-C (SIGINT) and SIGTERM, the shell's 128 + signal number.
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


class Interrupted(Exception):
    """Ctrl-C or SIGTERM, with what the interrupted command kept."""

    def __init__(self, kept: str, hint: str) -> None:
        super().__init__(kept)
        self.kept, self.hint = kept, hint


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every way out of it is an exit code and at most one error line.

    Exit 1 means findings and nothing else: anything unexpected (a full disk, a read-only
    folder, a damaged database, memory, a bug) is one line on stderr and exit 3, never a
    traceback (`-vv` logs it for a bug report).
    """
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    terminated: list[int] = []

    def on_sigterm(signum: int, frame: Any) -> None:  # stop as Ctrl-C does: tasks cancelled, temp removed
        terminated.append(signum)
        on_sigint = signal.getsignal(signal.SIGINT)
        if callable(on_sigint):  # asyncio's (cancels the main task) or Python's (KeyboardInterrupt)
            on_sigint(signal.SIGINT, frame)
        else:  # SIGINT ignored, as for a job started in the background: stop all the same
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        with _quiet(getattr(args, "quiet", False)):
            return int(args.run(args))
    except Interrupted as exc:
        print_error(f"interrupted: {exc.kept}", exc.hint)
        return EXIT_SIGTERM if terminated else EXIT_SIGINT
    except BaseException as exc:  # the one place where every failure becomes an exit code
        if isinstance(exc, SystemExit):
            raise
        return _report_failure(exc, EXIT_SIGTERM if terminated else EXIT_SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    """--quiet: nothing on stdout or stderr while the command runs; errors print after it."""
    if not quiet:
        yield
        return
    stderr.quiet = True
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            yield
    finally:
        stderr.quiet = False


def _report_failure(exc: BaseException, interrupted_code: int) -> int:
    """Print what went wrong in one line with a hint; return the exit code it maps to."""
    leaf = _first_leaf(exc)
    if isinstance(leaf, CloneAuditError):
        print_error(leaf.message, leaf.hint)
        return int(leaf.exit_code)
    if isinstance(leaf, KeyboardInterrupt):
        print_error("interrupted", "Run the same command again: finished work is kept.")
        return interrupted_code
    log.debug("unexpected failure", exc_info=leaf)
    print_error(*_describe(leaf))
    return int(ExitCode.RUN_FAILED)


def _first_leaf(exc: BaseException) -> BaseException:
    """The first real exception inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> tuple[str, str]:
    """(message, hint) for a failure outside the program's own error tree."""
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clone-audit",
        description="Find Smallest AI voice clones that are silent on lightning-v3.1, and re-clone them.",
        epilog="Exit codes: 0 nothing to flag, 1 findings, 2 usage/config error, "
        "3 run could not complete, 4 some voices could not be checked.",
    )
    parser.add_argument("--version", action="version", version=f"clone-audit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = _command(commands, "scan", run_scan, "list every clone, probe it on v3.1, write the compliance report")
    _api_flags(scan)
    scan.add_argument("--probe", choices=[p.value for p in ProbePolicy], help="which clones to probe (default all)")
    scan.add_argument("--out", help="report folder; each run writes a subfolder (default reports)")
    scan.add_argument("--fail-on", choices=[f.value for f in FailOn], help="which findings exit 1 (default non-compliant)")
    scan.add_argument("--exceptions", metavar="FILE",
                      help="waived voices: CSV or TOML with voice_id, reason, owner, expires ([report] exceptions)")
    scan.add_argument("--usage", type=int, metavar="DAYS",
                      help="calls per voice over the last DAYS days, from the TTS analytics log; "
                      "non-compliant voices still called lead the report ([report] usage_days; 0: off)")
    scan.add_argument("--reuse-probes", metavar="DURATION",
                      help="keep a probe younger than DURATION (12h, 7d) of a voice unchanged since (default off)")
    _output_flags(scan)

    plan = _command(commands, "plan", run_plan, "from the latest scan, check each legacy voice's recording, write a migration plan (dry run)")
    _api_flags(plan)
    plan.add_argument("--scan", type=Path, metavar="DIR",
                      help="a scan's report folder whose probe verdicts to use (default: the latest recent scan in --out)")
    plan.add_argument("--archive", help="folder of the original recordings ([archive] folder)")
    plan.add_argument("--manifest", help="CSV voice_id,path[,language,display_name] ([archive] manifest)")
    plan.add_argument("--out", help="report folder; each plan writes a subfolder (default reports)")
    _output_flags(plan)

    apply = _command(commands, "apply", run_apply, "re-clone exactly what a plan says, verify, record old → new")
    apply.add_argument("plan_file", type=Path, metavar="PLAN", help="the plan.json a plan run wrote")
    _api_flags(apply)
    apply.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    apply.add_argument("--only", nargs="+", metavar="ID", default=[], help="only these old voice ids")
    apply.add_argument("--limit", type=int, help="at most N voices in this run (a canary batch)")
    apply.add_argument("--fail-fast", action="store_true", help="stop starting new voices at the first failure")
    apply.add_argument("--retry-failed", action="store_true", help="try voices the ledger records as failed again")
    apply.add_argument("--listen-all", action="store_true",
                       help="keep source/new-clone listening clips for every voice (default: flagged ones and a sample)")
    apply.add_argument("--trust-plan-edits", action="store_true",
                       help="apply a plan whose seal is missing, broken or made with another user's key "
                       "(review plan.json first; every other check still runs, and --archive must be "
                       "the folder the plan was made from)")
    apply.add_argument("--archive", help="folder of the original recordings ([archive] folder); with "
                       "--trust-plan-edits it must be the plan's archive folder")
    apply.add_argument("--quiet", action="store_true", help="print nothing but errors")

    retire = _command(commands, "retire", run_retire, "delete legacy clones whose replacement is verified (asks first)")
    retire.add_argument("plan_file", type=Path, metavar="PLAN", help="the plan.json that was applied")
    _api_flags(retire)
    retire.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    retire.add_argument("--quiet-since", metavar="DATE",
                        help="only old clones the TTS analytics log shows no call to since DATE (UTC)")
    retire.add_argument("--quiet", action="store_true", help="print nothing but errors")

    review = _command(commands, "review", run_review,
                      "accept or reject replacements that do not sound like their source (after listening)")
    review.add_argument("plan_file", type=Path, metavar="PLAN", help="the plan.json that was applied")
    review.add_argument("--accept", nargs="+", metavar="ID", default=[],
                        help="old voice ids whose mismatched replacement you listened to and keep")
    review.add_argument("--reject", nargs="+", metavar="ID", default=[],
                        help="old voice ids whose mismatched replacement you refuse (the original stays)")
    review.add_argument("--by", help="the reviewer's name recorded in the ledger (default: $USER)")

    cut = _command(commands, "cutover", run_cutover, "find old voice ids in code and config, patch them (dry run by default)")
    cut.add_argument("mapping", nargs="?", type=Path, metavar="MAPPING", help="the mapping.csv or mapping.json apply wrote")
    cut.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files and folders to scan")
    cut.add_argument("--write", action="store_true", help="rewrite the files (atomically; prints a rollback file)")
    cut.add_argument("--patch", type=Path, metavar="FILE", help="write the change as a patch for `git apply`")
    cut.add_argument("--rollback", type=Path, metavar="FILE", help="restore the files a --write changed, exactly")
    cut.add_argument("--rollback-dir", type=Path, metavar="DIR", help="where --write keeps its rollback file "
                     "(default: the mapping's folder); never inside the paths")
    cut.add_argument("--max-bytes", type=int, default=cutover_flow.DEFAULT_MAX_BYTES, metavar="N",
                     help=f"skip (and report) files larger than N bytes (default {cutover_flow.DEFAULT_MAX_BYTES})")
    cut.add_argument("--include-ignored", action="store_true",
                     help="also read files .gitignore excludes (say, .env files) in git work trees")

    use = _command(commands, "usage", run_usage, "calls per old voice id since a date, from the TTS analytics log")
    use.add_argument("mapping", nargs="?", type=Path, metavar="MAPPING",
                     help="mapping.csv or mapping.json (without it: every voice id called)")
    use.add_argument("--since", required=True, metavar="DATE", help="the cutover date (UTC midnight) or an ISO time")
    use.add_argument("--max-pages", type=int, default=500, metavar="N", help="read at most N pages of 100 calls (default 500)")
    _api_flags(use)

    report = _command(commands, "report", run_report, "re-render a past run offline (no API call), or compare two runs")
    report.add_argument("run_ref", metavar="RUN", help="a run id (see `clone-audit history`), its folder, or `latest`")
    report.add_argument("--against", metavar="RUN", help="compare with this run instead of the previous scan")
    report.add_argument("--format", choices=report_flow.FORMATS, default="html", help="output format (default html)")
    report.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: stdout)")
    report.add_argument("--out", help="the output folder holding the runs and their history (default reports)")
    report.add_argument("--config", type=Path, help="TOML config file (see config.example.toml)")
    _output_flags(report)

    hist = _command(commands, "history", run_history, "list past runs of this output folder, one line each")
    hist.add_argument("--out", help="the output folder (default reports)")
    hist.add_argument("--config", type=Path, help="TOML config file (see config.example.toml)")
    hist.add_argument("--json", action="store_true", help="one JSON document instead of lines")

    demo = _command(commands, "demo", run_demo, "the whole story against the built-in emulator")
    demo.add_argument("--out", default="reports", help="report folder (default reports)")
    demo.add_argument("--clones", type=int, default=60, help="clones in the generated organisation (default 60)")
    demo.add_argument("--seed", type=int, default=7, help="seed of the generated organisation (default 7)")

    emu = _command(commands, "emulator", run_emulator, "serve the Waves emulator on 127.0.0.1")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    emu.add_argument("--clones", type=int, default=500)
    emu.add_argument("--seed", type=int, default=7)
    emu.add_argument("--tts-concurrency", type=int, default=1, help="TTS requests allowed at once (default 1)")
    emu.add_argument("--tts-latency", type=float, default=0.0, metavar="S", help="seconds each TTS call takes, rendering included (default 0)")
    emu.add_argument("--create-latency", type=float, default=0.0, metavar="S",
                     help="seconds each clone create takes to answer (default 0)")
    emu.add_argument("--clone-processing", type=float, default=1.0, metavar="S",
                     help="seconds a new clone stays processing before it completes (default 1)")
    emu.add_argument("--retry-after", type=float, default=1.0, metavar="S", help="the 429's Retry-After (default 1)")
    emu.add_argument("--delete-mode", choices=["gone", "ok"], default="gone", help="DELETE answers 410 (today) or 200")
    emu.add_argument("--archive", type=Path, help="also write the org's archive of recordings to this folder")
    emu.add_argument("--traffic-days", type=float, default=0.0, metavar="DAYS",
                     help="seed the TTS analytics log with DAYS of generated calls per voice (default 0)")
    return parser


def _command(
    commands: argparse._SubParsersAction, name: str, run: Callable[[argparse.Namespace], int], text: str
) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=text, description=text)
    sub.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")
    sub.set_defaults(run=run)
    return sub


def _output_flags(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--excel", action="store_true", default=None,
                     help="CSV starts with a UTF-8 BOM so Excel shows non-Latin names ([report] csv_bom)")
    sub.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _api_flags(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--config", type=Path, help="TOML config file (see config.example.toml)")
    sub.add_argument("--base-url", help="API base URL (default: $SMALLEST_BASE_URL, then the config, then https://api.smallest.ai)")
    sub.add_argument("--concurrency", type=int,
                     help="requests in flight at most (a ceiling: a 429 lowers it); default: found while working")
    sub.add_argument("--allow-insecure-http", action="store_true", default=None,
                     help="allow a plain http:// base URL off this machine (the key then crosses the network unencrypted)")


def _settings(args: argparse.Namespace) -> Settings:
    flag = lambda name: getattr(args, name, None)  # noqa: E731
    return load_settings(
        args.config,
        overrides={
            "api": {"base_url": flag("base_url"), "concurrency": flag("concurrency"),
                    "allow_insecure_http": flag("allow_insecure_http")},
            "probe": {"policy": flag("probe"), "reuse": flag("reuse_probes")},
            "report": {"out_dir": flag("out"), "fail_on": flag("fail_on"), "exceptions": flag("exceptions"),
                       "csv_bom": flag("excel"), "usage_days": flag("usage")},
            "archive": {"folder": flag("archive"), "manifest": flag("manifest")},
        },
    )


def _with_client(settings: Settings, work: Callable[[WavesClient], Awaitable[T]]) -> T:
    key = api_key_from_env()
    REDACTOR.add(key)

    api = settings.api
    discovering = api.concurrency <= 0
    remembered = userstate.remembered_limit(api.base_url, key, api.max_concurrency) if discovering else None

    async def run() -> T:
        client = WavesClient(api, key, remembered_limit=remembered)
        try:
            result = await work(client)
        except BaseException:
            await client.aclose()
            raise
        finally:  # what discovery learned is kept even when the work failed or was stopped
            used = client.concurrency()
            if (level := level_to_remember(used)) is not None:
                userstate.remember_limit(api.base_url, key, level, used.known is not None,
                                         datetime.now(UTC).isoformat(timespec="seconds"))
        # Ctrl-C or SIGTERM once the work is done: it stands, and saying "nothing was written"
        # about a plan or report that was would be a lie.
        with contextlib.suppress(asyncio.CancelledError):
            await client.aclose()
        return result

    return aio.run(run())


def _confirm(assume_yes: bool, bar: BarProgress) -> apply_flow.Confirm:
    def ask(what: str, count: int) -> bool:
        if assume_yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(f"about to {what}, but there is no terminal to confirm on.",
                             hint="Review the plan, then pass --yes.")
        with bar.paused():
            stderr.print(f"About to {escape(terminal(what, one_line=True))}.")
            return input(f"Type {count} to go on, anything else to stop: ").strip() == str(count)

    return ask


def run_scan(args: argparse.Namespace) -> int:
    settings = _settings(args)
    out = Path(settings.report.out_dir)
    with BarProgress() as progress:
        try:
            run = _with_client(settings, lambda c: scan_flow.scan_organisation(c, settings, progress, out_root=out))
            folder = scan_flow.write_scan_reports(run, out)
        except KeyboardInterrupt:
            done = f"after {progress.done:,} of {progress.total:,} probes" if progress.total else "before any probe"
            raise Interrupted(f"{done}: no report was written.",
                              "Run `clone-audit scan` again; the scan starts over (each probe costs ~45 "
                              "TTS characters).") from None
    _print_outcome(run, folder)
    if run.usage_window is not None:
        window = run.usage_window.as_dict()
        rows = records(voice_frame(run.results, run.finished_at, run.usage))
        for line in (usage_banner(window), traffic(rows, window)):
            if line:
                print(f"Usage: {line}")
    if any(r.verdict is Verdict.NON_COMPLIANT for r in run.results):
        print("Next: `clone-audit plan --archive DIR` plans re-cloning them from their original recordings.")
    return run.exit_code


def run_plan(args: argparse.Namespace) -> int:
    settings = _settings(args)
    out = Path(settings.report.out_dir)
    scan_folder = args.scan or latest_scan(
        out, settings.api.base_url, timedelta(hours=settings.plan.expiry_hours)
    )
    if scan_folder is None:
        stderr.print(
            "[yellow]No recent scan of this account found: verdicts rest on metadata alone, so a voice "
            "whose modelIds lies is missed. Run `clone-audit scan` first (or pass --scan DIR).[/]"
        )
    elif args.scan is None:
        stderr.print(f"Using the probe verdicts of the latest scan, {scan_folder}.")
    with BarProgress() as progress:
        try:
            planned = _with_client(
                settings, lambda c: plan_flow.plan_migration(c, settings, out, progress, scan_folder=scan_folder)
            )
        except KeyboardInterrupt:
            raise Interrupted("no plan was written, and nothing on the account was changed.",
                              "Run `clone-audit plan` again.") from None
    _print_outcome(planned.scan, planned.folder)
    totals = planned.plan.totals()
    forecast = planned.plan.forecast
    print(" · ".join(f"{k} {v}" for k, v in totals.items()))
    print(f"Would create {forecast['reclones']} clone(s) (~{forecast['estimated_seconds']} s); nothing was changed.")
    if forecast.get("within_quota") is False:
        stderr.print(
            f"[yellow]warning: {forecast['clones_now']} clone(s) now + {forecast['reclones']} new = "
            f"{forecast['clones_after']}, over the account's clone quota of {forecast['clone_quota']} "
            "([plan] clone_quota): apply would stop when the quota is full. Retire the replaced voices in "
            "batches (apply --limit N, then clone-audit retire) or delete unused clones first.[/]")
    print(f"Plan: {planned.plan_path}   review it, then: clone-audit apply {planned.plan_path}")
    return plan_flow.plan_exit_code(planned)


def run_apply(args: argparse.Namespace) -> int:
    settings = _settings(args)
    options = ApplyOptions(
        only=frozenset(args.only), limit=args.limit, fail_fast=args.fail_fast, retry_failed=args.retry_failed,
        trust_plan_edits=args.trust_plan_edits, listen_all=args.listen_all,
    )
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit {args.limit} must be at least 1.")
    started = time.monotonic()
    with BarProgress() as progress:
        run = _with_client(settings, lambda c: apply_flow.apply_plan(
            c, settings, args.plan_file, options, _confirm(args.yes, progress), progress,
            on_voice=lambda line: stderr.print(escape(terminal(line, one_line=True)))))
    minutes = (time.monotonic() - started) / 60
    if run.selection.todo and minutes > 0:
        stderr.print(f"{len(run.selection.todo) / minutes:.1f} voice(s) worked on per minute.")
    chosen = run.selection
    print(f"Worked on {len(chosen.todo)} voice(s); {len(chosen.verified)} verified earlier; "
          f"{run.adopted} found on the account by their marker.")
    print("Ledger: " + " · ".join(f"{k} {v}" for k, v in run.states.items() if v))
    if chosen.failed:
        print(f"{len(chosen.failed)} voice(s) failed or did not verify earlier: see mapping.csv, "
              "then run again with --retry-failed.")
    if run.held:
        print(f"{len(run.held)} voice(s) held: a clone carries a migrated-from marker for it that clone-audit "
              "cannot verify, so nothing was created:")
        for voice_id, why in sorted(run.held.items()):
            print(f"  {voice_id}: {why}")
    if chosen.beyond_limit:
        print(f"{chosen.beyond_limit} voice(s) left by --limit: run again to go on.")
    if chosen.expired:
        print(f"{len(chosen.expired)} voice(s) not started before the plan expired: run `clone-audit plan` again.")
    if run.stopped_early:
        print("Stopped at the first failure (--fail-fast); run again to go on.")
    print(f"Mapping: {run.folder / 'mapping.csv'}")
    if run.run_json is not None:
        print(f"Run: {run.run_json}")
    return run.exit_code


def run_retire(args: argparse.Namespace) -> int:
    settings = _settings(args)
    quiet_since = parse_since(args.quiet_since, flag="--quiet-since") if args.quiet_since else None
    with BarProgress() as bar:
        run = _with_client(
            settings, lambda c: retire_flow.retire_replaced(
                c, settings, args.plan_file, _confirm(args.yes, bar), quiet_since=quiet_since)
        )
    if run.still_called:
        print(f"Kept {len(run.still_called)} legacy clone(s) still called since {args.quiet_since}:")
        for u in run.still_called:
            print(f"  {u.voice_id}  {u.calls} call(s), last {u.last_call:%Y-%m-%d %H:%M} UTC" if u.last_call else
                  f"  {u.voice_id}  {u.calls} call(s)")
    print(f"Deleted {len(run.deleted)} legacy clone(s).")
    if not run.deleted and not run.for_dashboard:
        print(run.reason)
    if run.for_dashboard:
        print(f"{run.reason}:")
        for voice_id in run.for_dashboard:
            print(f"  {terminal(voice_id, one_line=True)}")
    if run.awaiting_review:
        print(f"Kept {len(run.awaiting_review)} legacy clone(s) whose replacement does not sound like its source; "
              f"listen in report.html, then `clone-audit review {args.plan_file} --accept ID` or `--reject ID`:")
        for voice_id in run.awaiting_review:
            print(f"  {terminal(voice_id, one_line=True)}")
    retired = [r for r in history_flow.list_runs(args.plan_file.parent.parent) if r.kind == "retire"]
    if retired:
        print(f"Run: {Path(retired[-1].folder) / RUN_JSON}")
    return ExitCode.FINDINGS if run.still_called or run.awaiting_review else ExitCode.OK


def run_review(args: argparse.Namespace) -> int:
    by = args.by or os.environ.get("USER") or _login_name()
    if not by:
        raise UsageError("who is reviewing is unknown ($USER is not set).", hint="Pass --by NAME.")
    done = review_flow.review_mismatches(args.plan_file, args.accept, args.reject, by)
    if done.accepted:
        print(f"Accepted by {done.by}: {', '.join(done.accepted)} (now ready; retire may delete the originals).")
    if done.rejected:
        print(f"Rejected by {done.by}: {', '.join(done.rejected)} (not ready; the originals stay).")
    print(f"Mapping: {done.folder / 'mapping.csv'}")
    return ExitCode.OK


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def run_cutover(args: argparse.Namespace) -> int:
    if args.rollback is not None:
        if args.mapping is not None or args.write or args.patch:
            raise UsageError("--rollback FILE takes no mapping, path, --write or --patch.")
        restored, note = cutover_flow.rollback(args.rollback)
        print(f"Restored {len(restored.restored)} file(s); {len(restored.already)} already original.")
        for path, reason in restored.refused:
            print(terminal(f"  refused {path}: {reason}", one_line=True))
        if note:
            stderr.print(note)
        return ExitCode.FINDINGS if restored.refused else ExitCode.OK
    if args.mapping is None or not args.paths:
        raise UsageError("cutover needs a MAPPING and at least one PATH.",
                         hint="clone-audit cutover reports/<id>/mapping.csv ./app ./config")
    if args.max_bytes < 1:
        raise UsageError(f"--max-bytes {args.max_bytes} must be at least 1.")
    options = cutover_flow.CutoverOptions(
        write=args.write, patch_file=args.patch, max_bytes=args.max_bytes,
        include_ignored=args.include_ignored, rollback_dir=args.rollback_dir,
    )
    with BarProgress() as progress:
        run = cutover_flow.cutover(args.mapping, args.paths, options, progress)
    for line in cutover_flow.describe(run, diff=not args.write and args.patch is None):
        print(line)
    if run.report_note:
        stderr.print(run.report_note)
    return run.exit_code


def run_usage(args: argparse.Namespace) -> int:
    settings = _settings(args)
    since = parse_since(args.since)
    if args.max_pages < 1:
        raise UsageError(f"--max-pages {args.max_pages} must be at least 1.")
    run = _with_client(settings, lambda c: cutover_flow.usage(c, args.mapping, since, max_pages=args.max_pages))
    for line in cutover_flow.describe_usage(run):
        print(line)
    if run.report_note:
        stderr.print(run.report_note)
    return run.exit_code


def run_report(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rendered = report_flow.render_run(Path(settings.report.out_dir), args.run_ref, args.format,
                                      against=args.against, bom=settings.report.csv_bom)
    if args.output is None:
        sys.stdout.write(rendered.text)
        return ExitCode.OK
    write_text(args.output, rendered.text)
    print(f"Wrote {args.output} ({args.format}) from {rendered.run_json}")
    return ExitCode.OK


def run_history(args: argparse.Namespace) -> int:
    settings = _settings(args)
    runs = history_flow.list_runs(Path(settings.report.out_dir))
    if args.json:
        print(json_visible(json.dumps([r.as_dict() for r in runs], ensure_ascii=False, indent=2)))
        return ExitCode.OK
    if not runs:
        stderr.print(f"No run recorded in {settings.report.out_dir} yet.")
    for r in runs:
        counts = " ".join(f"{k} {v}" for k, v in r.counts.items() if v)
        line = (f"{r.run_id}  {r.kind:<6}  {r.finished_at}  exit {r.exit_code}  {r.total:>6} voices  {counts}  "
                f"{r.base_url}  account {r.account or '-'}")
        print(terminal(line, one_line=True))
    return ExitCode.OK


def run_demo(args: argparse.Namespace) -> int:
    from audit.demo import run_demo as demo

    with BarProgress() as progress:
        story = demo(out_root=Path(args.out), clones=args.clones, seed=args.seed, progress=progress)
    _print_outcome(story.after, story.after_folder)
    print(story.summary())
    return ExitCode.OK


def run_emulator(args: argparse.Namespace) -> int:
    from audit.emulator import EmulatorConfig, generate_org, serve_forever

    config = EmulatorConfig(tts_concurrency=args.tts_concurrency, delete_mode=args.delete_mode, seed=args.seed,
                            traffic_days=args.traffic_days, retry_after=args.retry_after,
                            latency={"tts": args.tts_latency, "create": args.create_latency},
                            processing_s=args.clone_processing)
    org = generate_org(args.clones, args.seed)
    if args.archive is not None:
        from audit.emulator import generate_archive

        generate_archive(org, args.archive, args.seed)

    def ready(base_url: str, api_key: str) -> None:
        print(f"Waves emulator on {base_url} with {args.clones} clones (seed {args.seed}); Ctrl-C stops it.")
        print(f"export SMALLEST_BASE_URL={base_url}")
        print(f"export SMALLEST_API_KEY={api_key}", flush=True)

    serve_forever(config, org, host=args.host, port=args.port, on_ready=ready)
    return ExitCode.OK


def _print_outcome(run: scan_flow.ScanRun, folder: Path) -> None:
    print_summary(summary(voice_frame(run.results, run.finished_at)), f"Run {run.run_id}")
    if run.cost is not None:
        reused = f", {run.cost['probes_reused']} reused from earlier scans" if run.cost["probes_reused"] else ""
        stderr.print(f"Cost: {run.cost['tts_characters']:,} TTS characters in {run.cost['tts_probes']:,} probe(s){reused}.")
    if run.concurrency is not None:
        c = run.concurrency
        stderr.print(f"Account concurrency: {c['account_limit_found']} ({c['mode']}, started from "
                     f"{c['started_from']}); {c['answered_429']} of {c['requests']} request(s) answered 429.")
    print(f"Reports: {folder}", file=sys.stdout)
    print(f"Run: {folder / RUN_JSON}", file=sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
