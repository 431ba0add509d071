"""The retire stage: delete legacy clones whose replacement is verified, nothing else.

Owns which old clones may go (`retirable`: the ledger says the replacement was
verified, and the account still lists it as completed) and the deletion itself, which
reads the API's refusals: deletion by API key is switched off today (410, or 404/405
on some deployments), and then the remaining ids are handed back for the dashboard
instead of failing the run. Every deletion is recorded in the ledger at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from audit.api.client import WavesClient
from audit.core.errors import Gone, RequestRejected
from audit.core.models import Clone, CloneStatus
from audit.migrate.ledger import Ledger
from audit.migrate.state import Migration, State

#: Statuses with which the API says "this route does not delete": hand over to the dashboard.
NOT_DELETABLE_STATUSES = (404, 405)


@dataclass(frozen=True)
class Retired:
    deleted: tuple[str, ...]
    for_dashboard: tuple[str, ...]
    reason: str


def retirable(rows: Iterable[Migration], live: Mapping[str, Clone]) -> list[str]:
    """Old voice ids that may be deleted: verified replacement, completed on the account,
    the old clone still there and not retired yet."""
    return [
        r.old_voice_id for r in rows
        if r.state is State.VERIFIED and not r.retired_at and r.old_voice_id in live
        and r.new_voice_id is not None and r.new_voice_id in live and live[r.new_voice_id].status is CloneStatus.COMPLETED
    ]


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
