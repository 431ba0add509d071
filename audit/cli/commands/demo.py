"""`clone-audit demo` (the whole story on the built-in emulator) and `clone-audit emulator`."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.output import print_outcome, print_run
from audit.console import BarProgress
from audit.core.errors import ExitCode


def run_demo(args: argparse.Namespace) -> int:
    from audit.demo import run_demo as demo

    with BarProgress() as progress:
        story = demo(out_root=Path(args.out), clones=args.clones, seed=args.seed, progress=progress)
    print_outcome(story.after, story.after_record)
    print(story.summary())
    print_run(story.after_record)
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
