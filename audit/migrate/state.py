"""Where each voice of a migration stands: the states and the row type the ledger stores.

Pure types, no I/O: the ledger (SQLite) persists them, the apply decisions read them,
and the report renders them, without the last two importing the database module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class State(enum.StrEnum):
    QUEUED = "queued"  # nothing sent yet (a run stopped before this voice's create)
    CREATING = "creating"  # a create was sent; its outcome is not recorded yet
    CREATED = "created"  # the new clone exists (pending or processing)
    COMPLETED = "completed"  # the new clone is completed, not yet verified
    VERIFIED = "verified"  # the new clone speaks on v3.1: ready
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
