"""Which voices an apply run works on, and why the others are left alone.

Pure: it reads plain ledger rows (`Migration`s, read by the caller) and the account's
latest listing, never the ledger itself. What to do with each voice is
`audit.migrate.decide`'s; this module applies the run's options (--only, --limit,
--retry-failed, the plan's expiry) and sorts the decisions into a `Selection`, and names
the replacements found on the account that the ledger does not know yet (`adoptable`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import assert_never

from audit.core.config import Settings
from audit.core.errors import UsageError
from audit.core.models import Action
from audit.migrate.decide import (
    Adopt,
    AwaitUnknownCreate,
    Create,
    DecisionOptions,
    Hold,
    Listing,
    Recreate,
    RefuseExpired,
    SkipDone,
    SkipFailed,
    Verify,
    WaitForCompletion,
    decide,
)
from audit.migrate.document import Plan, PlanEntry
from audit.migrate.state import Migration


@dataclass(frozen=True)
class ApplyOptions:
    only: frozenset[str] = frozenset()
    limit: int | None = None
    fail_fast: bool = False
    retry_failed: bool = False
    trust_plan_edits: bool = False  # apply a plan whose seal is missing or made with another key
    listen_all: bool = False  # keep listening clips of every voice, not only flagged and sampled ones


@dataclass(frozen=True)
class Selection:
    """Which RECLONE voices a run works on, and why the others are left alone."""

    todo: list[PlanEntry]
    verified: list[str]  # done
    failed: list[str]  # failed or unverified earlier; --retry-failed takes them
    expired: list[str]  # never started, and the plan has expired: re-plan for them
    beyond_limit: int  # left for a later run by --limit
    held: dict[str, str] = field(default_factory=dict)  # voice → why (an unverifiable marker)


def decision_options(settings: Settings, options: ApplyOptions, *, expired: bool) -> DecisionOptions:
    window = timedelta(seconds=settings.api.create_timeout_s + settings.apply.settle_s)
    return DecisionOptions(retry_failed=options.retry_failed, expired=expired, unknown_create_window=window)


def reclone_entries(plan: Plan) -> list[PlanEntry]:
    return [e for e in plan.entries if e.action is Action.RECLONE]


def by_voice(rows: Iterable[Migration]) -> dict[str, Migration]:
    """The ledger's rows keyed by old voice id."""
    return {row.old_voice_id: row for row in rows}


def adoptable(
    plan: Plan, rows: Iterable[Migration], listing: Listing, options: DecisionOptions
) -> list[tuple[PlanEntry, str]]:
    """The replacements on the account that the ledger does not know (lost ledger, or a crash
    between create and record): each RECLONE entry whose next step is to adopt, with the
    clone to adopt."""
    known = by_voice(rows)
    found: list[tuple[PlanEntry, str]] = []
    for entry in reclone_entries(plan):
        row = known.get(entry.voice_id)
        action = decide(row, listing.view(entry.voice_id, row), options)
        if isinstance(action, Adopt):
            found.append((entry, action.new_voice_id))
    return found


def select(
    plan: Plan, rows: Iterable[Migration], listing: Listing, options: ApplyOptions, decisions: DecisionOptions
) -> Selection:
    """The RECLONE entries this run works on, given the ledger's `rows`. An expired plan may
    still finish voices it started (verify, wait, look up), but starts no new one."""
    known: Mapping[str, Migration] = by_voice(rows)
    chosen = reclone_entries(plan)
    if options.only:
        unknown = sorted(options.only - {e.voice_id for e in chosen})
        if unknown:
            actions = {e.voice_id: e.action.value for e in plan.entries}
            named = ", ".join(f"{v} ({actions[v]})" if v in actions else f"{v} (not in the plan)" for v in unknown)
            raise UsageError(f"--only names voices this plan does not re-clone: {named}.",
                             hint="Use old voice ids of RECLONE rows in plan.csv.")
        chosen = [e for e in chosen if e.voice_id in options.only]
    todo: list[PlanEntry] = []
    verified: list[str] = []
    failed: list[str] = []
    too_late: list[str] = []
    held: dict[str, str] = {}
    for entry in chosen:
        row = known.get(entry.voice_id)
        action = decide(row, listing.view(entry.voice_id, row), decisions)
        match action:
            case SkipDone():
                verified.append(entry.voice_id)
            case SkipFailed():
                failed.append(entry.voice_id)
            case RefuseExpired():
                too_late.append(entry.voice_id)
            case Hold():
                held[entry.voice_id] = action.reason
            case Create() | Recreate() | Adopt() | AwaitUnknownCreate() | WaitForCompletion() | Verify():
                todo.append(entry)
            case _ as unreachable:
                assert_never(unreachable)
    limit = len(todo) if options.limit is None else options.limit
    return Selection(todo[:limit], verified, failed, too_late, max(0, len(todo) - limit), held)
