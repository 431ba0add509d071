"""`clone-audit report RUN` (re-render a past run offline) and `clone-audit history`.

Each imports what it runs when it runs: `history` reads the run store and renders nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from audit.cli.session import settings as load
from audit.console import stderr, terminal
from audit.core.errors import ExitCode
from audit.core.runfolder import write_text
from audit.core.untrusted import json_visible


def run_report(args: argparse.Namespace) -> int:
    from audit.pipeline import report as report_flow

    settings = load(args)
    rendered = report_flow.render_run(Path(settings.report.out_dir), args.run_ref, args.format,
                                      against=args.against, bom=settings.report.csv_bom)
    if args.output is None:
        sys.stdout.write(rendered.text)
        return ExitCode.OK
    write_text(args.output, rendered.text)
    print(f"Wrote {args.output} ({args.format}) from {rendered.run_json}")
    return ExitCode.OK


def run_history(args: argparse.Namespace) -> int:
    from audit.runs import store

    settings = load(args)
    runs = store.list_runs(Path(settings.report.out_dir))
    if args.json:
        print(json_visible(json.dumps([r.as_dict() for r in runs], ensure_ascii=False, indent=2)))
        return ExitCode.OK
    if not runs:
        stderr.print(f"No run recorded in {settings.report.out_dir} yet.")
    for r in runs:
        counts = " ".join(f"{k} {v}" for k, v in r.counts.items() if v)
        failed = f"  failed: {r.error}" if r.error is not None else ""
        line = (f"{r.run_id}  {r.kind:<7}  {r.finished_at}  exit {r.exit_code}  {r.total:>6} voices  {counts}  "
                f"{r.base_url}  account {r.account or '-'}{failed}")
        print(terminal(line, one_line=True))
    return ExitCode.OK
