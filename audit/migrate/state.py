"""Where each voice of a migration stands: the states and the row type the ledger stores.

Pure types, no I/O: the ledger (SQLite) persists them, the apply decisions read them,
and the report renders them, without the last two importing the database module. Owns
the mapping's `status` too (`MappingStatus`, `mapping_status`): `ready` when the
replacement may take the old voice's place, else the ledger state it stands in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import assert_never


class State(enum.StrEnum):
    QUEUED = "queued"  # nothing sent yet (a run stopped before this voice's create)
    CREATING = "creating"  # a create was sent; its outcome is not recorded yet
    CREATED = "created"  # the new clone exists (pending or processing)
    COMPLETED = "completed"  # the new clone is completed, not yet verified
    VERIFIED = "verified"  # the new clone speaks on v3.1, as its source (or unchecked): ready
    MISMATCH = "mismatch"  # it speaks, but not as its source: not ready until a person accepts it
    UNVERIFIED = "unverified"  # completed, but the probe did not hear speech (--retry-failed re-checks)
    FAILED = "failed"  # creation or completion failed; the detail says why


@dataclass(frozen=True, slots=True)
class Migration:
    old_voice_id: str
    plan_id: str
    state: State
    new_voice_id: str | None
    display_name: str | None
    language: str | None
    source_sha256: str | None
    probe_verdict: str | None
    verified_at: str | None
    retired_at: str | None
    detail: str
    creates: int
    updated_at: str
    similarity: float | None = None  # the new clone's voice against its source (cosine, 1.0 same)
    fidelity: str | None = None  # match / mismatch / unchecked (audit.core.models.Fidelity)
    review: str | None = None  # accepted / rejected: a person's decision on a mismatch
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    seal: str | None = None  # HMAC of who replaces whom and how far it got, keyed with the user's key (ledger)


class Review(enum.StrEnum):
    ACCEPTED = "accepted"  # the operator listened and keeps the clone: ready
    REJECTED = "rejected"  # the operator listened and refuses it: never ready, its original stays


def is_ready(row: Migration) -> bool:
    """The replacement may take the old voice's place (mapping `ready`, cutover, retire):
    verified, or a mismatch a person accepted by its id."""
    match row.state:
        case State.VERIFIED:
            return True
        case State.MISMATCH:
            return row.review == Review.ACCEPTED.value
        case State.QUEUED | State.CREATING | State.CREATED | State.COMPLETED | State.UNVERIFIED | State.FAILED:
            return False
        case _ as unreachable:
            assert_never(unreachable)


class MappingStatus(enum.StrEnum):
    """A mapping row's `status` (mapping.csv / mapping.json): `ready`, or the state the voice is in
    (every State but `verified`, which is always ready)."""

    READY = "ready"  # verified, or a mismatch a person accepted: callers may use the new id
    QUEUED = State.QUEUED.value
    CREATING = State.CREATING.value
    CREATED = State.CREATED.value
    COMPLETED = State.COMPLETED.value
    MISMATCH = State.MISMATCH.value  # awaiting a person's review, or rejected
    UNVERIFIED = State.UNVERIFIED.value
    FAILED = State.FAILED.value


def mapping_status(row: Migration) -> MappingStatus:
    """`ready` when the replacement may take the old voice's place (a verified one always may),
    else the state it stands in."""
    return MappingStatus.READY if is_ready(row) else MappingStatus(row.state.value)
