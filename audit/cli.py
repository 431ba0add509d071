"""The command line: arguments → settings and objects → a pipeline call → an exit code.

Thin on purpose: no logic lives here beyond parsing, building the objects a command
needs, and catching a CloneAuditError once to print its message and hint.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__, pipeline
from .client import WavesClient
from .config import api_key_from_env, load_settings
from .console import REDACTOR, BarProgress, configure_logging, print_error, print_summary
from .errors import CloneAuditError, ExitCode
from .models import FailOn, ProbePolicy
from .report.tables import summary, voice_frame


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        return int(args.run(args))
    except CloneAuditError as exc:
        print_error(exc.message, exc.hint)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print_error("interrupted", "")
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clone-audit",
        description="Find Smallest AI voice clones that are silent on lightning-v3.1.",
        epilog="Exit codes: 0 nothing to flag, 1 findings, 2 usage/config error, "
        "3 run could not complete, 4 some voices could not be checked.",
    )
    parser.add_argument("--version", action="version", version=f"clone-audit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = _command(commands, "scan", run_scan, "list every clone, probe it on v3.1, write the compliance report")
    scan.add_argument("--config", type=Path, help="TOML config file (see config.example.toml)")
    scan.add_argument("--base-url", help="API base URL (default: $SMALLEST_BASE_URL, then the config, then https://api.smallest.ai)")
    scan.add_argument("--probe", choices=[p.value for p in ProbePolicy], help="which clones to probe (default all)")
    scan.add_argument("--concurrency", type=int, help="requests in flight at once (the account's limit; default 1)")
    scan.add_argument("--out", help="report folder; each run writes a subfolder (default reports)")
    scan.add_argument("--fail-on", choices=[f.value for f in FailOn], help="which findings exit 1 (default non-compliant)")

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
    emu.add_argument("--delete-mode", choices=["gone", "ok"], default="gone", help="DELETE answers 410 (today) or 200")
    return parser


def _command(
    commands: argparse._SubParsersAction, name: str, run: Callable[[argparse.Namespace], int], text: str
) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=text, description=text)
    sub.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")
    sub.set_defaults(run=run)
    return sub


def run_scan(args: argparse.Namespace) -> int:
    settings = load_settings(
        args.config,
        overrides={
            "api": {"base_url": args.base_url, "concurrency": args.concurrency},
            "probe": {"policy": args.probe},
            "report": {"out_dir": args.out, "fail_on": args.fail_on},
        },
    )
    key = api_key_from_env()
    REDACTOR.add(key)

    async def scan() -> pipeline.ScanRun:
        async with WavesClient(settings.api, key) as client:
            with BarProgress() as progress:
                return await pipeline.scan_organisation(client, settings, progress)

    run = asyncio.run(scan())
    files = pipeline.write_scan_reports(run, Path(settings.report.out_dir))
    _print_outcome(run, files.folder)
    return run.exit_code


def run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo as demo

    with BarProgress() as progress:
        run, files = demo(out_root=Path(args.out), clones=args.clones, seed=args.seed, progress=progress)
    _print_outcome(run, files.folder)
    print(
        f"Demo finished: a real scan would have exited {int(run.exit_code)} "
        f"({run.exit_code.name.lower().replace('_', ' ')}). Open {files.html}"
    )
    return ExitCode.OK


def run_emulator(args: argparse.Namespace) -> int:
    from .emulator import EmulatorConfig, generate_org, serve_forever

    config = EmulatorConfig(tts_concurrency=args.tts_concurrency, delete_mode=args.delete_mode, seed=args.seed)

    def ready(base_url: str, api_key: str) -> None:
        print(f"Waves emulator on {base_url} with {args.clones} clones (seed {args.seed}); Ctrl-C stops it.")
        print(f"export SMALLEST_BASE_URL={base_url}")
        print(f"export SMALLEST_API_KEY={api_key}", flush=True)

    serve_forever(config, generate_org(args.clones, args.seed), host=args.host, port=args.port, on_ready=ready)
    return ExitCode.OK


def _print_outcome(run: pipeline.ScanRun, folder: Path) -> None:
    print_summary(summary(voice_frame(run.results, run.finished_at)), f"Run {run.run_id}")
    print(f"Reports: {folder}", file=sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
