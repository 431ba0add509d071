"""Runs: what one command did, as one typed record with one owner.

    kind.py      RunKind: every kind of run the tool records
    record.py    RunRecord (frozen) and VoiceRow, the typed rows of its voices
    document.py  the only code that turns a RunRecord into run.json and back
    store.py     the output folder's runs: history.sqlite, find / list / latest, failed runs
    owncalls.py  the TTS calls the output folder's recorded runs made, and when (usage and retire leave them out)
    summary.py   the one JSON summary of a run that `--json` prints (kind, id, folder, exit code, counts)

Each pipeline builds its RunRecord with the exit code decided once inside it; the CLI exits
with that code and prints the record's own run.json path (or, with --json, its summary). Reports render records.

May import: `audit.core` and `audit.compliance.changes` (the Mark and TrendPoint it stores).
Imported by: `audit.report`, `audit.pipeline`, `audit.cli`. Never imports a stage's I/O,
the client, the report layer or a pipeline.
"""
