"""The baseline gate (`scan --fail-on new`): fail only on voices that are newly non-compliant.

Owns `Baseline` (the scan a run is judged against: its id, when it finished, and which voices
it found non-compliant) and `Gate`, the pure verdict of the gate: which of today's
non-compliant voices are new (not non-compliant in the baseline: a new voice, a regression,
an unknown or excepted one that now fails, a waiver that expired) and which were already
non-compliant there (today's accepted debt). Without a baseline, every non-compliant voice
counts, and the gate says so. A waived voice is `excepted`, never non-compliant, so never
counted. Pure: verdicts in, a `Gate` out; the pipeline finds the baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Baseline:
    run_id: str
    finished_at: str
    non_compliant: frozenset[str]  # voice ids


@dataclass(frozen=True)
class Gate:
    baseline: Baseline | None
    new: tuple[str, ...]  # non-compliant now, not in the baseline: these fail the run
    known: tuple[str, ...]  # non-compliant now and in the baseline: accepted
    names: Mapping[str, str]  # display names of the new ones
    missing: str = ""  # why there is no baseline, when there is none

    @property
    def failing(self) -> tuple[str, ...]:
        return self.new

    def as_dict(self) -> dict[str, Any]:
        base = self.baseline
        return {"fail_on": "new", "baseline_run_id": base.run_id if base else None,
                "baseline_at": base.finished_at if base else None, "missing": self.missing or None,
                "new": list(self.new), "known": list(self.known), "summary": self.lines()[0]}

    def lines(self, limit: int = 20) -> list[str]:
        """What the terminal and the report say about the gate."""
        named = ", ".join(f"{v} ({self.names[v]})" if self.names.get(v) else v for v in self.new[:limit])
        more = f" and {len(self.new) - limit} more" if len(self.new) > limit else ""
        if self.baseline is None:
            return [f"Gate --fail-on new: {self.missing}; so every non-compliant voice fails the run "
                    f"({len(self.new)}{': ' + named + more if self.new else ''})."]
        head = f"Gate --fail-on new against scan {self.baseline.run_id} ({self.baseline.finished_at}): "
        if not self.new:
            return [head + f"no voice is newly non-compliant; {len(self.known)} already were, and are accepted."]
        return [head + f"{len(self.new)} voice(s) newly non-compliant: {named}{more}; "
                f"{len(self.known)} already were, and are accepted."]


def judge(non_compliant_now: Iterable[tuple[str, str]], baseline: Baseline | None, missing: str = "") -> Gate:
    """The gate over today's non-compliant voices ((voice id, display name) pairs)."""
    now = dict(non_compliant_now)
    if baseline is None:
        return Gate(None, tuple(sorted(now)), (), now, missing or "no baseline scan")
    new = tuple(sorted(v for v in now if v not in baseline.non_compliant))
    known = tuple(sorted(v for v in now if v in baseline.non_compliant))
    return Gate(baseline, new, known, {v: now[v] for v in new})
