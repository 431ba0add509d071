"""One module per command (or pair of commands): parse → call the pipeline → print → exit code.

Each `run_<command>(args) -> int` builds what its pipeline needs (`audit.cli.session`),
calls it, prints the result's own `lines()` and returns the exit code held in the run's
record. Imported one at a time by `audit.cli.entry` when its command runs.

May import: everything the CLI may (pipelines, the console, `audit.cli.session` and
`audit.cli.output`); nothing imports a command module but `audit.cli.entry`.
"""
