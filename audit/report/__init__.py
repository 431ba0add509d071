"""Reports: turning verdicts, plans and mappings into tables (pandas), HTML (Jinja2), CSV and JSON.

`tables`, `migration`, `html` and `junit` (a scan as JUnit XML) are pure (data in, `str` out); `files` is the one
trivial step that writes those strings where `audit.core.runfolder` says they go.

May import: `audit.core`, the pure types of `audit.migrate` (`document`, `state`),
`audit.compliance.changes` and `audit.runs` it renders. Verdicts, statuses and actions are
compared through their enums, never spelled out (a test checks the renderers and templates). Never `api`, `scan`'s I/O, `archive`, the ledger or `pipeline`.
"""
