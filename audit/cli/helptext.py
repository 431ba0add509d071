"""What every command's `--help` ends with: the environment variables it reads, its exit codes
and two examples.

One table of environment variables (`ENVIRONMENT`) and one of exit codes (`EXIT_CODES`, from
`audit.core.errors.ExitCode`), shared by every command: a command names which rows apply to it
(`HELP`) and, where exit 1 or 4 means something of its own, says what. `epilog(name)` renders
the three sections for `argparse.RawDescriptionHelpFormatter`. Imports nothing heavy: `--help`
must answer at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.core.errors import ExitCode

#: Every environment variable clone-audit reads, and what for.
ENVIRONMENT: dict[str, str] = {
    "SMALLEST_API_KEY": "the organisation's API key (read from here only: never a flag or a config key)",
    "SMALLEST_BASE_URL": "the API's address, below --base-url and above [api] base_url",
    "CLONE_AUDIT_CONFIG": "the config file when --config is not given (a missing one is an error)",
    "XDG_CONFIG_HOME": "the default config file is $XDG_CONFIG_HOME/clone-audit/config.toml "
                       "(unset: ~/.config/clone-audit/config.toml), read when it exists",
    "CLONE_AUDIT_STATE_DIR": "this user's state folder: account locks, the plan-sealing key, "
                             "the concurrency found (default: the OS's user state folder)",
    "USER": "the reviewer's name when --by is not given",
    "NO_COLOR": "any non-empty value: no colour, as --no-color",
    "FORCE_COLOR": "colour even when stderr is not a terminal (NO_COLOR and --no-color win)",
}

#: What each exit code means, whatever the command (a command may say more about 1 and 4).
EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "nothing to flag",
    ExitCode.FINDINGS: "findings",
    ExitCode.USAGE: "usage or configuration error",
    ExitCode.RUN_FAILED: "the run could not complete (API unreachable, authentication failed, quota full)",
    ExitCode.PARTIAL: "partial: some voices could not be checked",
    ExitCode.INTERRUPTED: "stopped by Ctrl-C",
    ExitCode.TERMINATED: "stopped by SIGTERM",
}

_API = ("SMALLEST_API_KEY", "SMALLEST_BASE_URL", "CLONE_AUDIT_CONFIG", "XDG_CONFIG_HOME", "CLONE_AUDIT_STATE_DIR")
_CONFIG = ("CLONE_AUDIT_CONFIG", "XDG_CONFIG_HOME")
_RUN = (ExitCode.OK, ExitCode.FINDINGS, ExitCode.USAGE, ExitCode.RUN_FAILED, ExitCode.PARTIAL,
        ExitCode.INTERRUPTED, ExitCode.TERMINATED)
_NO_FINDINGS = (ExitCode.OK, ExitCode.USAGE, ExitCode.RUN_FAILED, ExitCode.INTERRUPTED)
_CANCELLED = "stopped by Ctrl-C, or the confirmation refused (cancelled: nothing changed)"


@dataclass(frozen=True)
class CommandHelp:
    """The end of one command's --help: the variables it reads, its exit codes, two examples."""

    environment: tuple[str, ...]
    codes: tuple[ExitCode, ...]
    examples: tuple[str, str]
    meaning: dict[ExitCode, str] = field(default_factory=dict)  # what a code means for this command


HELP: dict[str, CommandHelp] = {
    "scan": CommandHelp(_API, _RUN, (
        "clone-audit scan --probe legacy --out reports",
        "clone-audit scan --fail-on new --junit junit.xml   # gate on regressions since the last scan"),
        {ExitCode.FINDINGS: "non-compliant voices (with --fail-on unknown, unknown ones too; with --fail-on new, "
                            "only those not non-compliant in the baseline scan, or all with no baseline); "
                            "a waived voice never fails the run"}),
    "plan": CommandHelp(_API, _RUN, (
        "clone-audit plan --archive /srv/voice-recordings",
        "clone-audit plan --scan reports/<scan id> --archive /srv/voice-recordings --manifest manifest.csv"),
        {ExitCode.FINDINGS: "blocked voices (no usable recording)"}),
    "apply": CommandHelp(_API, _RUN[:4] + _RUN[5:], (
        "clone-audit apply reports/<id>/plan.json --limit 3",
        "clone-audit apply reports/<id>/plan.json --yes --fail-fast"),
        {ExitCode.FINDINGS: "voices that failed or did not verify", ExitCode.INTERRUPTED: _CANCELLED}),
    "retire": CommandHelp(_API, _RUN[:4] + _RUN[5:], (
        "clone-audit retire reports/<id>/plan.json",
        "clone-audit retire reports/<id>/plan.json --quiet-since 2026-06-01 --yes"),
        {ExitCode.FINDINGS: "clones kept: still called (--quiet-since), awaiting review, or records disagree",
         ExitCode.INTERRUPTED: _CANCELLED}),
    "review": CommandHelp(("USER", "CLONE_AUDIT_STATE_DIR"), _NO_FINDINGS[:3], (
        "clone-audit review reports/<id>/plan.json",
        "clone-audit review reports/<id>/plan.json --accept <old id> --by alice")),
    "cutover": CommandHelp(_API, _RUN, (
        "clone-audit cutover reports/<id>/mapping.csv src/ config/ --format sarif -o cutover.sarif",
        "clone-audit cutover reports/<id>/mapping.csv --agents --write   # the voice agents, after a diff"),
        {ExitCode.FINDINGS: "occurrences of old voice ids left (in files, or with --agents in agent "
                            "configurations, or an agent's security scan failed)",
         ExitCode.PARTIAL: "a file or an agent could not be checked",
         ExitCode.INTERRUPTED: "stopped by Ctrl-C, or --agents --write's confirmation refused (cancelled: "
                               "nothing switched)"}),
    "usage": CommandHelp(_API, _RUN, (
        "clone-audit usage reports/<id>/mapping.csv --since 2026-06-01",
        "clone-audit usage --since 2026-06-01 --json"),
        {ExitCode.FINDINGS: "an old voice id is still called",
         ExitCode.PARTIAL: "the log could not be read back to the date"}),
    "report": CommandHelp(_CONFIG, _NO_FINDINGS, (
        "clone-audit report latest -o report.html",
        "clone-audit report latest --against <run id> --format markdown")),
    "history": CommandHelp(_CONFIG, _NO_FINDINGS, (
        "clone-audit history --out reports",
        "clone-audit history --json | jq '.[0]'")),
    "demo": CommandHelp(("CLONE_AUDIT_STATE_DIR",), _NO_FINDINGS, (
        "clone-audit demo",
        "clone-audit demo --clones 200 --seed 3 --out demo-reports"),
        {ExitCode.OK: "the story ran (it says what a real scan would have exited)"}),
    "emulator": CommandHelp((), (ExitCode.OK, ExitCode.USAGE, ExitCode.INTERRUPTED), (
        "clone-audit emulator --port 8080",
        "clone-audit emulator --clones 2000 --archive recordings --traffic-days 30"),
        {ExitCode.INTERRUPTED: "stopped by Ctrl-C (how it is meant to stop)"}),
    "completion": CommandHelp((), (ExitCode.OK, ExitCode.USAGE), (
        "clone-audit completion bash > ~/.local/share/bash-completion/completions/clone-audit",
        "clone-audit completion fish > ~/.config/fish/completions/clone-audit.fish")),
}

_COLOUR = ("NO_COLOR", "FORCE_COLOR")


def epilog(name: str) -> str:
    """The environment variables, exit codes and examples sections of `name`'s --help."""
    about = HELP[name]
    names = [*about.environment, *_COLOUR]
    width = max(len(n) for n in names) + 2
    lines = ["environment variables:"]
    lines += [f"  {n:<{width}}{ENVIRONMENT[n]}" for n in names]
    lines += ["", "exit codes:"]
    lines += [f"  {int(code):<5}{about.meaning.get(code, EXIT_CODES[code])}" for code in about.codes]
    lines += ["", "examples:"]
    lines += [f"  {example}" for example in about.examples]
    return "\n".join(lines)


def overview() -> str:
    """The end of `clone-audit --help`: the exit codes of every command, once."""
    codes = ", ".join(f"{int(code)} {text}" for code, text in EXIT_CODES.items())
    return (f"Exit codes: {codes}. `clone-audit COMMAND --help` says what each means for that command, "
            "the environment variables it reads, and examples. A command that writes a run (scan, plan, "
            "apply, retire, review, cutover, usage) ends with the line `Run: <its run.json>`, under --quiet "
            "too; with --json it prints one JSON document instead (the run's folder in it).")
