"""One module per command (or pair of commands): parse → call the pipeline → print → exit code.

Each `run_<command>(args) -> int` builds what its pipeline needs (`audit.cli.session`),
calls it, prints the result's own `lines()` and returns the exit code held in the run's
record. Imported one at a time by `audit.cli.entry` when its command runs.
"""
