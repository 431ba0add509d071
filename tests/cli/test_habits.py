"""The habits of command lines people already use (pip-audit, Trivy, gh), through the real CLI:
"did you mean", -v and --quiet on either side of the command, NO_COLOR and --no-color,
errors and logs kept whole off a terminal, the default config location and
CLONE_AUDIT_CONFIG, and every command's --help naming its environment, exit codes and examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audit.cli import build_parser
from audit.cli.helptext import ENVIRONMENT
from audit.core.errors import ExitCode
from tests.support.cli import clone_audit

COLOUR = re.compile(r"\x1b\[(?:\d+;)*3[0-7](?:;\d+)*m")  # an SGR sequence that sets a foreground colour


def _subcommands() -> dict[str, object]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return dict(action.choices)  # type: ignore[arg-type]


# --- did you mean ---------------------------------------------------------------------------------

def test_a_mistyped_command_names_the_closest_one() -> None:
    done = clone_audit("scna")
    assert done.returncode == ExitCode.USAGE
    assert re.search(r"did you mean .?scan\b", done.stderr), done.stderr


def test_a_mistyped_flag_names_the_closest_flag_of_that_command() -> None:
    done = clone_audit("scan", "--probes", "all")
    assert done.returncode == ExitCode.USAGE
    assert re.search(r"did you mean .?--probe\b", done.stderr), done.stderr
    early = clone_audit("--json", "history", "--out", "no-such-folder")  # its flag before the command
    assert early.returncode == ExitCode.USAGE and "clone-audit history --json" in early.stderr, early.stderr
    wrong_value = clone_audit("scan", "--fail-on", "non-complaint")
    assert wrong_value.returncode == ExitCode.USAGE and "did you mean 'non-compliant'" in wrong_value.stderr


def test_nothing_close_suggests_nothing() -> None:
    done = clone_audit("scan", "--zzzzzz")
    assert done.returncode == ExitCode.USAGE and "did you mean" not in done.stderr


# --- -v and --quiet before or after the command ---------------------------------------------------

@pytest.mark.parametrize("argv", [["-v", "history"], ["history", "-v"], ["--verbose", "history"]])
def test_verbose_works_before_or_after_the_command(tmp_path: Path, argv: list[str]) -> None:
    done = clone_audit(*argv, "--out", str(tmp_path), env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert done.returncode == 0, done.stderr
    assert "INFO" in done.stderr and "no config file" in done.stderr  # -v's info lines
    plain = clone_audit("history", "--out", str(tmp_path), env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert "INFO" not in plain.stderr


@pytest.mark.parametrize("argv", [["--quiet", "history"], ["history", "--quiet"], ["-q", "history"]])
def test_quiet_works_before_or_after_the_command(tmp_path: Path, argv: list[str]) -> None:
    done = clone_audit(*argv, "--out", str(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert "No run recorded" in clone_audit("history", "--out", str(tmp_path)).stderr


# --- colour ----------------------------------------------------------------------------------------

def _error_output(*flags: str, env: dict[str, str]) -> str:
    done = clone_audit(*flags, "history", "--config", "no-such-config.toml", env={"FORCE_COLOR": "1", **env})
    assert done.returncode == ExitCode.USAGE and "no-such-config.toml" in done.stderr
    return done.stderr


def test_no_color_flag_and_variable_switch_colour_off() -> None:
    assert COLOUR.search(_error_output(env={}))  # FORCE_COLOR: coloured, as on a terminal
    assert not COLOUR.search(_error_output("--no-color", env={}))
    done = clone_audit("history", "--no-color", "--config", "no-such-config.toml", env={"FORCE_COLOR": "1"})
    assert done.returncode == ExitCode.USAGE and not COLOUR.search(done.stderr)
    assert not COLOUR.search(_error_output(env={"NO_COLOR": "1"}))
    assert COLOUR.search(_error_output(env={"NO_COLOR": ""}))  # the standard: only a non-empty value counts


# --- nothing hard-wrapped off a terminal ----------------------------------------------------------

def test_usage_errors_are_not_wrapped_when_stderr_is_not_a_terminal() -> None:
    done = clone_audit("apply", env={"COLUMNS": "40"})  # PLAN missing
    assert done.returncode == ExitCode.USAGE
    (usage,) = [line for line in done.stderr.splitlines() if line.startswith("usage:")]
    assert usage.startswith("usage: clone-audit apply [-h]") and usage.endswith("PLAN"), done.stderr


def test_a_long_path_in_an_error_hint_and_log_stays_on_one_line(tmp_path: Path) -> None:
    deep = tmp_path / ("a-long-folder-name-" * 6) / ("another-long-folder-" * 5)
    deep.mkdir(parents=True)
    config = deep / "config.toml"
    config.write_text(f'[report]\nout_dir = "{tmp_path.as_posix()}"\n', encoding="utf-8")
    narrow = {"COLUMNS": "40"}
    logged = clone_audit("history", "-v", env={**narrow, "CLONE_AUDIT_CONFIG": str(config)})
    assert logged.returncode == 0, logged.stderr
    assert any(str(config) in line and "INFO" in line for line in logged.stderr.splitlines()), logged.stderr
    missing = deep / "missing.toml"
    failed = clone_audit("history", env={**narrow, "CLONE_AUDIT_CONFIG": str(missing)})
    assert failed.returncode == ExitCode.USAGE
    lines = failed.stderr.splitlines()
    assert any(line.startswith("error:") and str(missing) in line for line in lines), failed.stderr
    assert any(line.startswith("hint:") and "CLONE_AUDIT_CONFIG" in line for line in lines), failed.stderr


# --- where the config file is ---------------------------------------------------------------------

def _config(path: Path, out: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[report]\nout_dir = "{out.as_posix()}"\n', encoding="utf-8")
    return path


def _reads(done_stderr: str, out: Path) -> bool:
    return f"No run recorded in {out}" in done_stderr


def test_the_config_file_comes_from_the_flag_then_the_variable_then_the_xdg_location(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    _config(xdg / "clone-audit" / "config.toml", tmp_path / "from-xdg")
    named = _config(tmp_path / "named.toml", tmp_path / "from-variable")
    flagged = _config(tmp_path / "flagged.toml", tmp_path / "from-flag")

    by_default = clone_audit("history", "-v", env={"XDG_CONFIG_HOME": str(xdg)})
    assert by_default.returncode == 0 and _reads(by_default.stderr, tmp_path / "from-xdg"), by_default.stderr
    assert str(xdg / "clone-audit" / "config.toml") in by_default.stderr  # -v says which file
    by_variable = clone_audit("history", "-v", env={"XDG_CONFIG_HOME": str(xdg), "CLONE_AUDIT_CONFIG": str(named)})
    assert _reads(by_variable.stderr, tmp_path / "from-variable") and str(named) in by_variable.stderr
    by_flag = clone_audit("history", "--config", str(flagged),
                          env={"XDG_CONFIG_HOME": str(xdg), "CLONE_AUDIT_CONFIG": str(named)})
    assert _reads(by_flag.stderr, tmp_path / "from-flag"), by_flag.stderr


def test_without_xdg_config_home_the_default_is_under_the_home_folder(tmp_path: Path) -> None:
    _config(tmp_path / ".config" / "clone-audit" / "config.toml", tmp_path / "from-home")
    done = clone_audit("history", env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": ""})
    assert done.returncode == 0 and _reads(done.stderr, tmp_path / "from-home"), done.stderr


def test_a_missing_default_is_fine_but_a_missing_named_file_is_an_error(tmp_path: Path) -> None:
    fine = clone_audit("history", "--out", str(tmp_path), env={"XDG_CONFIG_HOME": str(tmp_path / "empty")})
    assert fine.returncode == 0, fine.stderr
    for env, flags in (({"CLONE_AUDIT_CONFIG": str(tmp_path / "gone.toml")}, ()),
                       ({}, ("--config", str(tmp_path / "gone.toml")))):
        done = clone_audit("history", *flags, env={"XDG_CONFIG_HOME": str(tmp_path / "empty"), **env})
        assert done.returncode == ExitCode.USAGE
        assert str(tmp_path / "gone.toml") in done.stderr and "hint:" in done.stderr, done.stderr


# --- --help: environment, exit codes, examples ------------------------------------------------------

def _section(text: str, title: str) -> list[str]:
    """The indented lines under `title:` in a help text."""
    lines = text.splitlines()
    start = lines.index(f"{title}:") + 1
    body = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        body.append(line.strip())
    return body


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_command_help_names_its_environment_exit_codes_and_two_examples(name: str) -> None:
    text = _subcommands()[name].format_help()  # type: ignore[attr-defined]
    variables = [line.split()[0] for line in _section(text, "environment variables")]
    assert "NO_COLOR" in variables and set(variables) <= set(ENVIRONMENT), variables
    codes = [int(line.split()[0]) for line in _section(text, "exit codes")]
    assert {0, 2} <= set(codes) and set(codes) <= {int(c) for c in ExitCode}, codes
    examples = _section(text, "examples")
    assert len(examples) >= 2 and all(e.startswith(f"clone-audit {name}") for e in examples), examples


def test_help_of_a_command_that_reads_the_api_names_the_key_and_the_config_variable() -> None:
    done = clone_audit("apply", "--help")
    assert done.returncode == 0
    variables = [line.split()[0] for line in _section(done.stdout, "environment variables")]
    for variable in ("SMALLEST_API_KEY", "SMALLEST_BASE_URL", "CLONE_AUDIT_CONFIG", "XDG_CONFIG_HOME", "NO_COLOR"):
        assert variable in variables, variables
    assert any(line.startswith("130") and "cancelled" in line for line in _section(done.stdout, "exit codes"))
