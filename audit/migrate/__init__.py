"""Migration: decide what to re-clone, carry it out, remember it, retire what it replaced.

Owns the planner (`planner`: pure), the plan document apply executes (`document`:
types, JSON format, fingerprints, staleness), where each voice stands (`state`: pure
types), the SQLite ledger (`ledger`), the apply stage (`apply`) and the retire stage
(`retire`).

May import: `audit.core`, `audit.api`. Never `scan`, `archive`, `report` or `pipeline`:
the probe a migration needs is handed in as a function by the pipeline.
"""
