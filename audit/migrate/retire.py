"""The retire stage: delete legacy clones whose replacement is verified, nothing else.

Owns which old clones may go and the deletion itself. `retirable` lets an old clone go only
when three records agree that it was replaced by a clone that works:
- the sealed plan says to re-clone it (a voice the plan keeps, skips or blocks never goes);
- the ledger says its replacement is ready (verified, or a fidelity mismatch a person accepted
  by its id with `clone-audit review`), naming the new clone, in a row whose seal shows this
  user's clone-audit wrote it so (`Ledger.vouches`);
- the account lists that new clone as completed, carrying the proof tag for this old voice
  (`audit.core.provenance`: only a holder of the organisation's key can make it).
An old clone where they disagree (an edited ledger, a plan that keeps it, a replacement
without its proof) is kept, with the reason. `awaiting_review`: the mismatches that hold their
original back. The deletion itself
reads the API's refusals: the client tries the announced API-key route, then the old one
(`WavesClient.delete_clone`); deletion by API key is switched off today (410, or 404/405 on
some deployments; 401/403 from a route that takes a dashboard token only), and then the
remaining ids are handed back for the dashboard instead of failing the run: a 401 or 403 on a
delete route says "not by this route", never that the key is bad (every other call took it). Every deletion is recorded in the ledger at once.
With a usage summary (`retire --quiet-since`), `still_called` holds back every old
clone that was called in the window: it is neither deleted nor listed for the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from audit.api.client import DELETE_PATH, DELETE_POST_PATH, WavesClient
from audit.core.errors import ApiError
from audit.core.models import Clone, CloneStatus
from audit.core.provenance import Markers
from audit.core.usage import VoiceUsage
from audit.migrate.ledger import Ledger
from audit.migrate.state import Migration, State, is_ready

#: Statuses with which a delete route says "not deletable by API key": hand over to the dashboard.
NOT_DELETABLE_STATUSES = (401, 403, 404, 405, 410)


@dataclass(frozen=True)
class Retired:
    deleted: tuple[str, ...]
    for_dashboard: tuple[str, ...]
    reason: str
    still_called: tuple[VoiceUsage, ...] = ()  # held back by --quiet-since
    awaiting_review: tuple[str, ...] = ()  # a fidelity mismatch no person accepted: kept
    disputed: Mapping[str, str] = field(default_factory=dict)  # the records disagree: kept, with why


@dataclass(frozen=True)
class Retirable:
    """The old voice ids that may go, and those kept because the records disagree (id → why)."""

    ready: list[str]
    disputed: dict[str, str]


def retirable(rows: Iterable[Migration], live: Mapping[str, Clone], reclone: Collection[str],
              markers: Markers, vouched: Callable[[Migration], bool]) -> Retirable:
    """Old voice ids that may be deleted (see the module docstring): the sealed plan re-clones
    them (`reclone`), the ledger names a ready replacement, and that replacement is listed
    completed with the proof for this old voice (`markers`), in a row this user's clone-audit
    wrote as it is (`vouched`: its seal); the old clone is still there and not retired yet.
    Ready ledger rows where the records disagree come back as `disputed`."""
    ready: list[str] = []
    disputed: dict[str, str] = {}
    for r in rows:
        old, new = r.old_voice_id, r.new_voice_id
        if not is_ready(r) or r.retired_at or old not in live or new is None:
            continue
        replacement = live.get(new)
        if replacement is None or replacement.status is not CloneStatus.COMPLETED:
            continue  # not (or no longer) usable: nothing to decide yet
        if old not in reclone:
            disputed[old] = "the sealed plan does not re-clone this voice (the ledger says otherwise)"
        elif new == old:
            disputed[old] = "the ledger names the old clone as its own replacement"
        elif markers.origin(replacement) != old:
            disputed[old] = f"{new} carries no valid proof that it replaces this voice"
        elif not vouched(r):
            disputed[old] = "its ledger row is not as this user's clone-audit wrote it (edited, or another user's)"
        else:
            ready.append(old)
    return Retirable(ready, disputed)


def awaiting_review(rows: Iterable[Migration], live: Mapping[str, Clone]) -> list[str]:
    """Old voice ids kept because their replacement does not sound like the source and no
    person accepted it (`clone-audit review PLAN --accept ID`)."""
    return [r.old_voice_id for r in rows
            if r.state is State.MISMATCH and not is_ready(r) and not r.retired_at and r.old_voice_id in live]


def still_called(old_voice_ids: Sequence[str], usage: Mapping[str, VoiceUsage]) -> tuple[list[str], list[VoiceUsage]]:
    """Split `old_voice_ids` into the quiet ones (no call in the usage window) and the
    usage of those still called, which must not go."""
    quiet = [v for v in old_voice_ids if v not in usage or usage[v].calls == 0]
    called = [usage[v] for v in old_voice_ids if v in usage and usage[v].calls > 0]
    return quiet, called


async def retire(client: WavesClient, ledger: Ledger, old_voice_ids: Sequence[str]) -> Retired:
    """Delete each of `old_voice_ids` in turn; stop at the first answer that says the API
    does not delete, and return the rest for the dashboard."""
    deleted: list[str] = []
    for index, old in enumerate(old_voice_ids):
        try:
            await client.delete_clone(old)
        except ApiError as exc:
            if exc.status not in NOT_DELETABLE_STATUSES:
                raise
            return Retired(tuple(deleted), tuple(old_voice_ids[index:]), _not_deletable(client, exc.status))
        ledger.mark_retired(old)
        deleted.append(old)
    return Retired(tuple(deleted), (), "deleted")


def _not_deletable(client: WavesClient, status: int) -> str:
    """Why the rest go to the dashboard: what each delete route answered."""
    tried = [f"DELETE {DELETE_PATH}: {status}"]
    if client.delete_post_refused is not None:
        tried.insert(0, f"POST {DELETE_POST_PATH}: {client.delete_post_refused}")
    return f"deletion is not available by API key ({'; '.join(tried)}): delete these in the dashboard"
