"""The argument parser: every command, its flags and help, and which module runs it.

Imports only light modules (enums and constants: `audit.core.choices`), never a pipeline: `COMMANDS` names the
module of `audit.cli.commands` and the function that runs each command, imported by
`audit.cli.entry` when that command is chosen. What ends each command's --help (environment,
exit codes, examples) is `audit.cli.helptext`'s; the parser's habits ("did you mean", -v/-q/
--no-color on either side of the command) are `audit.cli.parsing`'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from audit import __version__
from audit.cli import helptext
from audit.cli.parsing import Parser, add_global_flags
from audit.core.choices import DEFAULT_MAX_BYTES, FailOn, ProbePolicy
from audit.report.formats import ReportFormat
from audit.runs.kind import RunKind

#: command → (module in audit.cli.commands, function)
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("scan", "run_scan"),
    "plan": ("plan", "run_plan"),
    "apply": ("apply", "run_apply"),
    "retire": ("retire", "run_retire"),
    "review": ("review", "run_review"),
    "cutover": ("cutover", "run_cutover"),
    "usage": ("cutover", "run_usage"),
    "report": ("report", "run_report"),
    "history": ("report", "run_history"),
    "demo": ("demo", "run_demo"),
    "emulator": ("demo", "run_emulator"),
    "completion": ("completion", "run_completion"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="clone-audit",
        description="Find Smallest AI voice clones that are silent on lightning-v3.1, and re-clone them.",
        epilog=helptext.overview(),
    )
    parser.add_argument("--version", action="version", version=f"clone-audit {__version__}")
    add_global_flags(parser, top=True, quiet_help="print nothing but errors (and a run's `Run:` line or --json document)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = _command(commands, "scan", "list every clone, probe it on v3.1, write the compliance report")
    _api_flags(scan)
    scan.add_argument("--probe", choices=[p.value for p in ProbePolicy], help="which clones to probe (default all)")
    scan.add_argument("--out", help="report folder; each run writes a subfolder (default reports)")
    scan.add_argument("--fail-on", choices=[f.value for f in FailOn],
                      help="which findings exit 1 (default non-compliant; new: only voices not non-compliant "
                      "in the baseline scan)")
    scan.add_argument("--baseline", metavar="RUN",
                      help="with --fail-on new (implied): the scan to compare with, an id, folder or `latest` "
                      "(default: the previous scan of this account in --out)")
    scan.add_argument("--exceptions", metavar="FILE",
                      help="waived voices: CSV or TOML with voice_id, reason, owner, expires ([report] exceptions)")
    scan.add_argument("--usage", type=int, metavar="DAYS",
                      help="calls per voice over the last DAYS days, from the TTS analytics log; "
                      "non-compliant voices still called lead the report ([report] usage_days; 0: off)")
    scan.add_argument("--reuse-probes", metavar="DURATION",
                      help="keep a probe younger than DURATION (12h, 7d) of a voice unchanged since (default off)")
    scan.add_argument("--junit", type=Path, metavar="FILE",
                      help="also write the verdicts as JUnit XML to FILE: a test case per voice, non-compliant "
                      "a failure, unknown an error, excepted skipped")
    _output_flags(scan, writes_run=True)

    plan = _command(commands, "plan", "from the latest scan, check each legacy voice's recording, write a migration plan (dry run)")
    _api_flags(plan)
    plan.add_argument("--scan", type=Path, metavar="DIR",
                      help="a scan's report folder whose probe verdicts to use (default: the latest recent scan in --out)")
    plan.add_argument("--archive", help="folder of the original recordings ([archive] folder)")
    plan.add_argument("--manifest", help="CSV voice_id,path[,language,display_name] ([archive] manifest)")
    plan.add_argument("--out", help="report folder; each plan writes a subfolder (default reports)")
    _output_flags(plan, writes_run=True)

    apply = _command(commands, "apply", "re-clone exactly what a plan says, verify, record old → new")
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
    _result_flags(apply)

    retire = _command(commands, "retire", "delete legacy clones whose replacement is verified (asks first)")
    retire.add_argument("plan_file", type=Path, metavar="PLAN", help="the plan.json that was applied")
    _api_flags(retire)
    retire.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    retire.add_argument("--quiet-since", metavar="DATE",
                        help="only old clones the TTS analytics log shows no call to since DATE (UTC)")
    _result_flags(retire)

    review = _command(commands, "review", "accept or reject replacements that do not sound like their source (after listening)")
    review.add_argument("plan_file", type=Path, metavar="PLAN", help="the plan.json that was applied")
    review.add_argument("--accept", nargs="+", metavar="ID", default=[],
                        help="old voice ids whose mismatched replacement you listened to and keep")
    review.add_argument("--reject", nargs="+", metavar="ID", default=[],
                        help="old voice ids whose mismatched replacement you refuse (the original stays)")
    review.add_argument("--by", help="the reviewer's name recorded in the ledger (default: $USER)")
    _result_flags(review)

    cut = _command(commands, "cutover", "find old voice ids in code and config, patch them (dry run by default)")
    cut.add_argument("mapping", nargs="?", type=Path, metavar="MAPPING", help="the mapping.csv or mapping.json apply wrote")
    cut.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files and folders to scan")
    cut.add_argument("--write", action="store_true", help="rewrite the files (atomically; prints a rollback file)")
    cut.add_argument("--patch", type=Path, metavar="FILE", help="write the change as a patch for `git apply`")
    cut.add_argument("--rollback", type=Path, metavar="FILE", help="restore the files a --write changed, exactly")
    cut.add_argument("--rollback-dir", type=Path, metavar="DIR", help="where --write keeps its rollback file "
                     "(default: the mapping's folder); never inside the paths")
    cut.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, metavar="N",
                     help=f"skip (and report) files larger than N bytes (default {DEFAULT_MAX_BYTES})")
    cut.add_argument("--include-ignored", action="store_true",
                     help="also read files .gitignore excludes (say, .env files) in git work trees")
    cut.add_argument("--format", choices=["text", "sarif"], default="text",
                     help="sarif: the occurrences left as a SARIF 2.1.0 log for code scanning, on stdout "
                     "or in -o FILE (default text)")
    cut.add_argument("-o", "--output", type=Path, metavar="FILE", help="with --format sarif: write the log to FILE")
    cut.add_argument("--check", action="store_true", help="list each old id with its ready replacement (or why "
                     "none) and exit 1 if any is left; no diff, nothing written, no run recorded (pre-commit, CI)")
    cut.add_argument("--agents", action="store_true",
                     help="also find (and with --write switch) old ids in the Atoms voice agents' configs")
    cut.add_argument("--include-archived", action="store_true",
                     help="with --agents: read archived agents too")
    cut.add_argument("--scan-wait", type=float, default=300.0, metavar="S",
                     help="with --agents --write: wait at most S seconds for each publish's security scan (default 300)")
    cut.add_argument("--yes", action="store_true", help="with --agents --write: do not ask for confirmation")
    _api_flags(cut)
    _result_flags(cut)

    use = _command(commands, "usage", "calls per old voice id since a date, from the TTS analytics log")
    use.add_argument("mapping", nargs="?", type=Path, metavar="MAPPING",
                     help="mapping.csv or mapping.json (without it: every voice id called)")
    use.add_argument("--since", required=True, metavar="DATE", help="the cutover date (UTC midnight) or an ISO time")
    use.add_argument("--max-pages", type=int, default=500, metavar="N", help="read at most N pages of 100 calls (default 500)")
    use.add_argument("--out", help="without a MAPPING: the output folder whose recorded scans' probes are left out "
                     "(default reports)")
    _api_flags(use)
    _result_flags(use)

    report = _command(commands, "report", "re-render a past run offline (no API call), or compare two runs")
    report.add_argument("run_ref", metavar="RUN", help="a run id (see `clone-audit history`), its folder, or `latest`")
    report.add_argument("--against", metavar="RUN", help="compare with this run instead of the previous scan")
    report.add_argument("--format", choices=[f.value for f in ReportFormat], default=ReportFormat.HTML.value,
                        help="output format (default html)")
    report.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: stdout)")
    report.add_argument("--out", help="the output folder holding the runs and their history (default reports)")
    report.add_argument("--config", type=Path, help="TOML config file (see config.example.toml)")
    _output_flags(report, writes_run=False)

    hist = _command(commands, "history", "list past runs of this output folder, one line each")
    hist.add_argument("--out", help="the output folder (default reports)")
    hist.add_argument("--config", type=Path, help="TOML config file (see config.example.toml)")
    hist.add_argument("--json", action="store_true", help="one JSON document instead of lines")

    demo = _command(commands, "demo", "the whole story against the built-in emulator")
    demo.add_argument("--out", default="reports", help="report folder (default reports)")
    demo.add_argument("--clones", type=int, default=60, help="clones in the generated organisation (default 60)")
    demo.add_argument("--seed", type=int, default=7, help="seed of the generated organisation (default 7)")

    emu = _command(commands, "emulator", "serve the Waves emulator on 127.0.0.1")
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

    done = _command(commands, "completion", "print the shell completion script for bash, zsh or fish")
    done.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell to complete in")
    return parser


def _command(commands: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    assert name in COMMANDS, name
    sub = commands.add_parser(name, help=text, description=text, epilog=helptext.epilog(name),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    writes_run = RunKind.parse(name) is not None  # its --quiet still prints the `Run:` line
    quiet = "print nothing but errors and, last, the `Run: <run.json>` line" if writes_run else "print nothing but errors"
    add_global_flags(sub, top=False, quiet_help=quiet)
    return sub


def _output_flags(sub: argparse.ArgumentParser, *, writes_run: bool) -> None:
    sub.add_argument("--excel", action="store_true", default=None,
                     help="CSV starts with a UTF-8 BOM so Excel shows non-Latin names ([report] csv_bom)")
    if writes_run:
        _result_flags(sub)


def _result_flags(sub: argparse.ArgumentParser) -> None:
    """--json of a command that writes a run (its --quiet is every command's: `_command`)."""
    sub.add_argument("--json", action="store_true",
                     help="print one JSON document on stdout (kind, run_id, run_folder, run_json, exit_code, "
                     "counts) and nothing else: no `Run:` line (the folder is in it); progress and "
                     "messages go to stderr")


def _api_flags(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--config", type=Path, help="TOML config file (see config.example.toml)")
    sub.add_argument("--base-url", help="API base URL (default: $SMALLEST_BASE_URL, then the config, then https://api.smallest.ai)")
    sub.add_argument("--concurrency", type=int,
                     help="requests in flight at most (a ceiling: a 429 lowers it); default: found while working")
    sub.add_argument("--allow-insecure-http", action="store_true", default=None,
                     help="allow a plain http:// base URL off this machine (the key then crosses the network unencrypted)")
