"""What changed between two runs, and compliance across runs: pure functions over verdicts.

A run is reduced to one `Mark` per voice (verdict, cause, name, the voice it replaces).
`compare` says, against an earlier run: new voices, fixed (non-compliant → compliant or
migrated), regressed (compliant or migrated → non-compliant), gone, still failing
(non-compliant in both). A replacement clone (one carrying `migrated-from:<id>` whose
original is listed in either run) is never a new voice: it is counted through the voice
it replaces. `trend` turns runs into points for the chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GOOD = frozenset({"compliant", "migrated"})
BAD = frozenset({"non-compliant"})


@dataclass(frozen=True, slots=True)
class Mark:
    """One voice in one run, as history keeps it."""

    voice_id: str
    verdict: str
    cause: str = ""
    display_name: str = ""
    replaces: str | None = None  # the old voice id a replacement clone carries in its marker


@dataclass(frozen=True)
class Changes:
    """The difference between `previous` (an earlier run of the same account) and now."""

    previous_run_id: str | None
    previous_at: str | None
    new: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    regressed: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    still_failing: tuple[str, ...] = ()
    before: Mapping[str, int] = field(default_factory=dict)  # verdict counts of the previous run
    names: Mapping[str, str] = field(default_factory=dict)  # display names of gone voices

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "fixed": len(self.fixed), "regressed": len(self.regressed),
                "gone": len(self.gone), "still_failing": len(self.still_failing)}

    def change_of(self, voice_id: str) -> str | None:
        for label, ids in (("new", self.new), ("fixed", self.fixed), ("regressed", self.regressed),
                           ("still failing", self.still_failing)):
            if voice_id in ids:
                return label
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"previous_run_id": self.previous_run_id, "previous_at": self.previous_at,
                "counts": self.counts(), "before": dict(self.before), "new": list(self.new),
                "fixed": list(self.fixed), "regressed": list(self.regressed), "gone": list(self.gone),
                "still_failing": list(self.still_failing)}


def voices(marks: Mapping[str, Mark]) -> dict[str, Mark]:
    """The voices of a run: every mark but replacement clones whose original is listed too."""
    return {k: m for k, m in marks.items() if not (m.replaces and m.replaces in marks)}


def verdict_counts(marks: Mapping[str, Mark]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for mark in voices(marks).values():
        counts[mark.verdict] = counts.get(mark.verdict, 0) + 1
    return counts


def compare(
    previous: Mapping[str, Mark] | None, current: Mapping[str, Mark],
    previous_run_id: str | None = None, previous_at: str | None = None,
) -> Changes:
    if previous is None:
        return Changes(None, None)
    replaced_now = {m.replaces for m in current.values() if m.replaces}
    origins = replaced_now | {m.replaces for m in previous.values() if m.replaces}
    before, now = voices(previous), voices(current)

    def is_replacement(mark: Mark) -> bool:
        return bool(mark.replaces) and (mark.replaces in previous or mark.replaces in current)

    new = sorted(k for k, m in now.items() if k not in previous and not is_replacement(m))
    gone = sorted(k for k in before if k not in current and k not in origins)
    both = [k for k in now if k in before]
    fixed = sorted(k for k in both if before[k].verdict in BAD and now[k].verdict in GOOD)
    regressed = sorted(k for k in both if before[k].verdict in GOOD and now[k].verdict in BAD)
    still = sorted(k for k in both if before[k].verdict in BAD and now[k].verdict in BAD)
    return Changes(
        previous_run_id, previous_at, tuple(new), tuple(fixed), tuple(regressed), tuple(gone), tuple(still),
        before=verdict_counts(previous), names={k: previous[k].display_name for k in gone},
    )


@dataclass(frozen=True)
class TrendPoint:
    run_id: str
    at: str  # ISO time the run finished
    total: int
    counts: Mapping[str, int]

    @property
    def compliant_share(self) -> float:
        """Compliant, migrated or excepted voices as a share of all voices (0 to 1)."""
        ok = sum(self.counts.get(v, 0) for v in ("compliant", "migrated", "excepted"))
        return ok / self.total if self.total else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "at": self.at, "total": self.total, "counts": dict(self.counts),
                "compliant_share": round(self.compliant_share, 4)}


def trend_point(run_id: str, at: str, marks: Mapping[str, Mark]) -> TrendPoint:
    counts = verdict_counts(marks)
    return TrendPoint(run_id, at, sum(counts.values()), counts)


def first_seen(history: Sequence[tuple[str, Mapping[str, Mark]]]) -> dict[str, str]:
    """Per voice, the time of the earliest run (of `history`, oldest first) that found it non-compliant."""
    seen: dict[str, str] = {}
    for at, marks in history:
        for voice_id, mark in marks.items():
            if mark.verdict in BAD and voice_id not in seen:
                seen[voice_id] = at
    return seen


@dataclass(frozen=True)
class HistoryView:
    """What the history says about one run: changes since the previous scan, and the trend
    of every scan of the account up to this one (this one last)."""

    changes: Changes
    trend: tuple[TrendPoint, ...] = ()
    recorded: bool = True  # False: no history store beside the run (a folder moved elsewhere)

    def as_dict(self) -> dict[str, Any]:
        return {"changes": self.changes.as_dict(), "trend": [p.as_dict() for p in self.trend]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryView:
        """The view a run.json stored, for re-rendering a run whose history store is gone."""
        c = data.get("changes") or {}
        def ids(key: str) -> tuple[str, ...]:
            return tuple(c.get(key) or ())

        changes = Changes(c.get("previous_run_id"), c.get("previous_at"), ids("new"), ids("fixed"),
                          ids("regressed"), ids("gone"), ids("still_failing"), before=c.get("before") or {})
        trend = tuple(TrendPoint(p["run_id"], p["at"], p["total"], p["counts"]) for p in data.get("trend") or ())
        return cls(changes, trend, recorded=False)
