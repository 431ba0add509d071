"""The rollback record of an agents' cutover: what was switched on which branch, sealed.

Owns `AgentRecord` (the record one `cutover --agents --write` keeps, rewritten and sealed by
`evidence` after every step, so that before the next call to the API it holds every branch
that may have changed: agent, branch, the revision before, the draft written, the revision
after and its state), `read_agent_record` (seal and shape checked before anything is
restored) and `is_agent_record` (which kind of rollback record a file claims to be, so
`cutover --rollback` takes either). The states of a branch's entry:

    writing   → the draft write is about to go out (it may have happened)
    drafted    → the draft (`draft_id`) holds the switch; publishing is next
    publishing → the publish of that draft is about to go out (it may have happened)
    published  → committed: `revision_after` is the head clone-audit made
    scanning   → the security scan had not ended when the wait did, or the publish's outcome
                 could not be read (`revision_after` if known): it may be live
    failed     → nothing published: the write or publish was refused, or the scan failed
                 (`scan_failed`: the vendor reopened the draft `draft_id`)

The record names the account it was made with (`account`, a hash of base URL and key, and
`base_url`): a rollback with another account's settings is refused before any call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.core.untrusted import is_plain_id
from audit.cutover.evidence import read_sealed, write_sealed
from audit.cutover.mapping import VOICE_ID

FORMAT = "clone-audit-cutover-rollback/agents-1"
STATES = ("writing", "drafted", "publishing", "published", "scanning", "failed")


class AgentRecord:
    """One agents' write: its entries, sealed into `path` each time one changes."""

    def __init__(self, path: Path, meta: Mapping[str, Any]) -> None:
        self.path = path
        self.meta = dict(meta)
        self.entries: list[dict[str, Any]] = []

    def add(self, *, agent_id: str, agent_name: str, branch_id: str, branch_name: str, live: bool,
            revision_before: str | None, changes: list[dict[str, str]]) -> dict[str, Any]:
        """A branch about to be written: recorded (state `writing`) before the write goes out."""
        entry = {"agent_id": agent_id, "agent_name": agent_name, "branch_id": branch_id, "branch_name": branch_name,
                 "live": live, "revision_before": revision_before, "draft_revision": None, "draft_id": None,
                 "revision_after": None, "scan_failed": False,
                 "state": "writing", "reason": "", "changes": changes,
                 "at": datetime.now(UTC).isoformat(timespec="seconds")}
        self.entries.append(entry)
        self.save()
        return entry

    def update(self, entry: dict[str, Any], **values: Any) -> None:
        entry.update(values)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_sealed(self.path, {"format": FORMAT, **self.meta,
                                 "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                 "agents": self.entries}, shape_problem)


def is_agent_record(path: Path) -> bool:
    """Whether the file claims to be an agents' rollback record (its seal is checked on reading)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(document, dict) and document.get("format") == FORMAT


def read_agent_record(path: Path) -> dict[str, Any]:
    """The record's content, once its seal and shape are checked (UsageError else)."""
    return read_sealed(path, shape_problem)


def shape_problem(document: dict[str, Any]) -> str | None:
    if document.get("format") != FORMAT:
        return f"format {document.get('format')!r}, not {FORMAT}"
    entries = document.get("agents")
    if not isinstance(entries, list):
        return "no list of agents"
    for number, entry in enumerate(entries, start=1):
        problem = _entry_problem(entry)
        if problem:
            return f"agent entry {number}: {problem}"
    return None


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    if not all(is_plain_id(entry.get(k)) for k in ("agent_id", "branch_id")):
        return "no plain agent and branch ids"
    for key in ("revision_before", "revision_after", "draft_id"):
        if entry.get(key) is not None and not is_plain_id(entry[key]):
            return f"{key} is not a plain id"
    if entry.get("state") not in STATES:
        return "an unknown state"
    changes = entry.get("changes")
    if not isinstance(changes, list) or not all(
            isinstance(c, dict) and isinstance(c.get("path"), str)
            and all(isinstance(c.get(k), str) and VOICE_ID.fullmatch(c[k]) for k in ("old", "new"))
            for c in changes):
        return "changes that are not of one voice id by another"
    return None
