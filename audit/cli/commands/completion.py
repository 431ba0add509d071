"""`clone-audit completion {bash,zsh,fish}`: print the shell's completion script.

The script is made by shtab from the argument parser itself, so it completes every command,
flag and choice the parser has, and never drifts from it; it is static (sourcing it runs no
Python), and shtab is imported here only, so start-up does not pay for it. Arguments naming a
file or a folder complete paths.
"""

from __future__ import annotations

import argparse
import sys

from audit.cli.parser import build_parser
from audit.core.errors import ExitCode

#: Metavars of arguments that name a folder; any other argument typed Path (or a FILE) names a file.
_FOLDERS = {"DIR"}
_FILES = {"FILE", "PLAN", "MAPPING", "PATH"}


def run_completion(args: argparse.Namespace) -> int:
    import shtab

    parser = build_parser()
    for sub in _subparsers(parser):
        for action in sub._actions:
            if action.metavar in _FOLDERS or action.dest in ("out", "archive"):
                action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
            elif action.metavar in _FILES or action.dest in ("config", "manifest", "exceptions", "plan_file"):
                action.complete = shtab.FILE  # type: ignore[attr-defined]
    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    return ExitCode.OK


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found += list(action.choices.values())
    return found
