"""The command line: arguments → settings and objects → one pipeline call → an exit code.

    entry.py     main(): runs one command; every way out is an exit code and at most one error
                 line; a run that fails after parsing is still recorded (failures.py)
    parser.py    the argument parser and the command table (which module runs each command)
    parsing.py   the parser's habits: "did you mean", errors unwrapped off a terminal, -v/-q/
                 --no-color before or after the command
    helptext.py  the end of every command's --help: its environment variables, exit codes
                 (one shared table) and two examples
    session.py   settings from flags and the config file found, the client's lifetime, the
                 confirmation prompt (what will happen, then the question)
    output.py    what every command prints the same way (the scan summary, the `Run:` line)
    failures.py  recording a failed or interrupted run in its output folder's history
    commands/    one module per command: parse → call the pipeline → print its result's
                 `lines()` → exit with the code the run's record holds

Thin on purpose: no rule lives here. A command module is imported only when its command
runs, so `--help` and `--version` load neither the pipelines nor pandas, numpy or httpx.

May import: everything (it is the top of the house). Imported by nothing but `audit.__main__`
and the `clone-audit` script.
"""

from audit.cli.entry import main
from audit.cli.parser import build_parser

__all__ = ["build_parser", "main"]
