"""The README stays true: every command, flag and exit code it should document, it does."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from audit.cli import build_parser
from audit.core.errors import ExitCode

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_is_documented() -> None:
    for name in _subcommands():
        assert f"clone-audit {name}" in README, name


def test_every_scan_flag_is_documented() -> None:
    scan = _subcommands()["scan"]
    for action in scan._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert flag in README, flag


def test_every_exit_code_is_in_the_table() -> None:
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", README, re.M), code


def test_the_quick_start_is_two_commands_the_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "clone-audit demo" in README and "python -m pytest" in README
    assert "-m pytest" in ci and '".[test,lint]"' in ci
