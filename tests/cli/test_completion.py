"""`clone-audit completion bash|zsh|fish`: a script the shell accepts that completes every
command, a command's flags and a flag's choices (bash driven as a shell drives it on Tab)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from audit.cli.parser import COMMANDS
from tests.support.cli import clone_audit

#: Ask bash what it would offer for the words so far, as its Tab does (COMP_WORDS, COMP_CWORD).
BASH_TAB = """
source <("$PYTHON" -m audit completion bash)
complete -p clone-audit
offer() {{
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${{#COMP_LINE}}; COMPREPLY=()
    $(complete -p clone-audit | sed -E 's/.*-F ([^ ]+).*/\\1/')
    echo "offered: ${{COMPREPLY[*]}}"
}}
{calls}
"""


def bash_offers(*words: tuple[str, ...]) -> tuple[str, list[list[str]]]:
    calls = "\n".join("offer " + " ".join(f"'{w}'" for w in line) for line in words)
    done = subprocess.run(["bash", "-c", BASH_TAB.format(calls=calls)], capture_output=True, text=True,
                          timeout=60, env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    offered = [line.removeprefix("offered: ").split() for line in done.stdout.splitlines() if line.startswith("offered:")]
    return done.stdout, offered


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_sources_the_script_and_completes_commands_flags_and_choices() -> None:
    registered, (every, scan, plan_etc, probe, fail_on) = bash_offers(
        ("clone-audit", ""), ("clone-audit", "sc"), ("clone-audit", "p"),
        ("clone-audit", "scan", "--pro"), ("clone-audit", "scan", "--fail-on", ""))
    assert "complete " in registered and registered.rstrip().split("\n")[0].endswith(" clone-audit")
    assert set(every) == set(COMMANDS)
    assert scan == ["scan"] and sorted(plan_etc) == ["plan"]
    assert probe == ["--probe"]
    assert sorted(fail_on) == ["never", "new", "non-compliant", "unknown"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_every_command(shell: str) -> None:
    done = clone_audit("completion", shell)
    assert done.returncode == 0, done.stderr
    for name in COMMANDS:
        assert name in done.stdout, name
    long_flag = {"zsh": "--{}", "fish": "-l {}"}[shell]  # fish names a long flag without its dashes
    assert long_flag.format("probe") in done.stdout and long_flag.format("no-color") in done.stdout
    if shutil.which(shell):  # the shell itself accepts it, where it is installed
        checked = subprocess.run([shell, "-n"], input=done.stdout, capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr


def test_an_unknown_shell_is_a_usage_error_naming_the_shells() -> None:
    done = clone_audit("completion", "tcshh")
    assert done.returncode == 2 and "bash" in done.stderr and "fish" in done.stderr
