"""Periodic compliance: run history, what changed between runs, and waivers.

Owns the history store (`history`: one SQLite file per output folder recording every
run, its parameters, counts and each voice's verdict), the pure comparison of two runs
and the trend across runs (`changes`), the baseline gate of `scan --fail-on new` (`gate`:
which non-compliant voices are new since a baseline scan), and the exceptions file with the
rule that turns a waived voice into `excepted` (`waivers`). Renderers receive its results as data.

May import: `audit.core` only. Never `api`, the other stages, `report` or `pipeline`:
a composition root in `audit/pipeline/` records runs and hands history to the reports.
"""
