"""The retire stage: delete legacy clones whose replacement is verified, nothing else.

Owns which old clones may go (`retirable`: the ledger says the replacement is ready, i.e.
verified, or a fidelity mismatch a person accepted by its id with `clone-audit review`, and
the account still lists it as completed; `awaiting_review`: the mismatches that hold their
original back) and the deletion itself, which
reads the API's refusals: deletion by API key is switched off today (410, or 404/405
on some deployments), and then the remaining ids are handed back for the dashboard
instead of failing the run. Every deletion is recorded in the ledger at once.
With a usage summary (`retire --quiet-since`), `still_called` holds back every old
clone that was called in the window: it is neither deleted nor listed for the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from audit.api.client import WavesClient
from audit.core.errors import Gone, RequestRejected
from audit.core.models import Clone, CloneStatus
from audit.core.usage import VoiceUsage
from audit.migrate.ledger import Ledger
from audit.migrate.state import Migration, State, is_ready

#: Statuses with which the API says "this route does not delete": hand over to the dashboard.
NOT_DELETABLE_STATUSES = (404, 405)


@dataclass(frozen=True)
class Retired:
    deleted: tuple[str, ...]
    for_dashboard: tuple[str, ...]
    reason: str
    still_called: tuple[VoiceUsage, ...] = ()  # held back by --quiet-since
    awaiting_review: tuple[str, ...] = ()  # a fidelity mismatch no person accepted: kept


def retirable(rows: Iterable[Migration], live: Mapping[str, Clone]) -> list[str]:
    """Old voice ids that may be deleted: ready replacement (verified, or an accepted
    mismatch), completed on the account, the old clone still there and not retired yet."""
    return [
        r.old_voice_id for r in rows
        if is_ready(r) and not r.retired_at and r.old_voice_id in live
        and r.new_voice_id is not None and r.new_voice_id in live and live[r.new_voice_id].status is CloneStatus.COMPLETED
    ]


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
        except (Gone, RequestRejected) as exc:
            if isinstance(exc, RequestRejected) and exc.status not in NOT_DELETABLE_STATUSES:
                raise
            reason = f"the API does not delete clones ({exc.status}): delete these in the dashboard"
            return Retired(tuple(deleted), tuple(old_voice_ids[index:]), reason)
        ledger.mark_retired(old)
        deleted.append(old)
    return Retired(tuple(deleted), (), "deleted")
