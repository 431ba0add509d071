"""RunKind: the kinds of run clone-audit records, each with what a person calls it."""

from __future__ import annotations

import enum


class RunKind(enum.StrEnum):
    """Every command that writes a run. The value is what run.json and history.sqlite store."""

    SCAN = "scan"
    PLAN = "plan"
    APPLY = "apply"
    REVIEW = "review"
    RETIRE = "retire"
    CUTOVER = "cutover"
    USAGE = "usage"

    @property
    def heading(self) -> str:
        """What a page calls this kind of run: "Compliance scan", "Migration plan", ..."""
        return _TITLES[self]

    @property
    def on_plan(self) -> bool:
        """Runs made on an applied plan: their folder sits beside the plan's, in its output folder."""
        return self in (RunKind.APPLY, RunKind.REVIEW, RunKind.RETIRE, RunKind.CUTOVER, RunKind.USAGE)

    @classmethod
    def parse(cls, value: object) -> RunKind | None:
        """The kind a stored value names, or None when it names none."""
        try:
            return cls(str(value))
        except ValueError:
            return None


_TITLES = {
    RunKind.SCAN: "Compliance scan",
    RunKind.PLAN: "Migration plan",
    RunKind.APPLY: "Migration apply",
    RunKind.REVIEW: "Mismatch review",
    RunKind.RETIRE: "Retirement of replaced voices",
    RunKind.CUTOVER: "Cutover of callers",
    RunKind.USAGE: "Usage of old voice ids",
}
