"""Composition roots: one module per command, each sequencing the stages and nothing else.

`scan`, `plan`, `apply`, `retire`, `review` and `cutover` call the stages in order (with a client
and settings where they touch the account) and hand results to the report writers; `machine` makes the files CI reads (cutover's SARIF,
a scan's JUnit XML); `agents` and `agentsundo` are `cutover --agents`' half (voice agents' configs) and its
rollback. The rules live in the stages; the CLI
(and the demo) build the objects, call one function here and map the outcome to an exit
code. See docs/architecture.md for the drawing.

May import: every package below it (`core`, `api`, `scan`, `archive`, `migrate`,
`cutover`, `report`). Imported only by `audit.cli` and `audit.demo`.
"""
