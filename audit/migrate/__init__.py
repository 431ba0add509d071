"""Migration: decide what to re-clone, carry it out, remember it, retire what it replaced.

Owns the planner (`planner`: pure), the plan document apply executes (`document`:
types, JSON format, fingerprints, staleness), checks of a plan file before it is believed
(`trust`), where each voice stands (`state`: pure types), the SQLite ledger (`ledger`),
the apply stage (`decide`: what to do next with one voice, pure; `selection`: which
voices a run works on, pure, from plain ledger rows; `executor`: the per-voice steps;
`watcher`: the shared status poller; `workers`: the scheduler), the retire stage
(`retire`), and what apply and retire show and ask before they change the account
(`proposal`: the voices and the cost; a "no" is a cancel).

May import: `audit.core`, `audit.api`. Never `scan`, `archive`, `report` or `pipeline`:
the probe a migration needs is handed in as a function by the pipeline.
"""
