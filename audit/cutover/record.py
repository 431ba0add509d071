"""What a cutover leaves behind for the migration report, and how it reads in a terminal.

Owns the sections of `cutover.json` (the last scan, each write, each rollback, the last
usage check; the last find in voice agents' configs, each agents' write and rollback),
`merge` (a new section into the existing record: writes and rollbacks accumulate, the scan and usage are replaced, and a rollback that restored files recounts the
scan's occurrences left, or makes them unknown), and the one-line descriptions the command
prints. Pure: results in, JSON-ready dicts and strings out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.core.usage import VoiceUsage
from audit.cutover.rollback import RestoreOutcome, WriteOutcome
from audit.cutover.scanner import Occurrence, ScanResult

FORMAT = "clone-audit-cutover/1"
MAX_ITEMS = 200  # occurrences listed in the report; the counts are always complete


@dataclass(frozen=True, slots=True)
class UsageRow:
    old_voice_id: str
    display_name: str
    new_voice_id: str | None
    ready: bool
    old: VoiceUsage
    new: VoiceUsage | None


def relative_path(path: Path, base: Path) -> str:
    """`path` relative to `base` when inside it, else absolute. Not escaped: a patch needs the
    real name, and what is printed or rendered is escaped there (`untrusted.visible`)."""
    return os.path.relpath(path, base) if path.is_relative_to(base) else str(path)


def occurrence_line(occ: Occurrence, base: Path) -> str:
    where = f"{relative_path(occ.path, base)}:{occ.line}:{occ.column}"
    name = f"  ({occ.display_name})" if occ.display_name else ""
    if occ.new_voice_id is not None:
        return f"{where}  {occ.old_voice_id} → {occ.new_voice_id}{name}"
    return f"{where}  {occ.old_voice_id}  not ready: {occ.why_not}{name}"


def scan_section(
    result: ScanResult, paths: Sequence[Path], at: datetime, base: Path, remaining: Sequence[Occurrence]
) -> dict[str, Any]:
    occurrences = result.occurrences
    return {
        "at": at.isoformat(timespec="seconds"),
        "paths": [str(p) for p in paths],
        "files_scanned": result.files_scanned,
        "seconds": round(result.seconds, 3),
        "binary_skipped": result.binary,
        "gitignored": result.gitignored,
        "gitignored_env": [relative_path(p, base) for p in result.gitignored_env][:50],
        "unchecked": [{"path": relative_path(s.path, base), "reason": s.reason} for s in result.unchecked][:50],
        "unchecked_count": len(result.unchecked),
        "occurrences": len(occurrences),
        "ready": sum(o.ready for o in occurrences),
        "not_ready": sum(not o.ready for o in occurrences),
        "files_with_ids": len(result.hits),
        "remaining": len(remaining),
        "items": [_item(o, base) for o in remaining][:MAX_ITEMS],
    }


def write_section(outcome: WriteOutcome, at: datetime, base: Path) -> dict[str, Any]:
    return {
        "at": at.isoformat(timespec="seconds"),
        "files": len(outcome.written),
        "replacements": outcome.replacements,
        "rollback_file": str(outcome.rollback_file),
        "refused": [{"path": relative_path(p, base), "reason": r} for p, r in outcome.refused],
    }


def restore_section(outcome: RestoreOutcome, at: datetime, base: Path,
                    last_scan: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A rollback, with the occurrences left once it put old ids back (`remaining_after`): the
    last scan's count plus one per replacement undone, or None (unknown since the rollback) when
    there is no last count, or a file was refused or already original (its ids not counted)."""
    before = None if last_scan is None else last_scan.get("remaining")
    exact = isinstance(before, int) and not outcome.refused and not outcome.already
    return {
        "at": at.isoformat(timespec="seconds"),
        "rollback_file": str(outcome.rollback_file),
        "restored": len(outcome.restored),
        "already": len(outcome.already),
        "refused": [{"path": relative_path(p, base), "reason": r} for p, r in outcome.refused],
        "occurrences_restored": outcome.occurrences_restored,
        "remaining_after": before + outcome.occurrences_restored if exact and isinstance(before, int) else None,
    }


def usage_rows(
    rows: Iterable[tuple[str, str, str | None, bool]], usage: Mapping[str, VoiceUsage]
) -> list[UsageRow]:
    """(old id, name, new id, ready) per mapping row, with the usage of both ids; most called first."""
    def of(voice_id: str) -> VoiceUsage:
        return usage.get(voice_id) or VoiceUsage(voice_id, 0, 0, None)

    out = [UsageRow(old, name, new, ready, of(old), of(new) if new else None) for old, name, new, ready in rows]
    return sorted(out, key=lambda r: (-r.old.calls, r.old_voice_id))


def usage_section(
    rows: Sequence[UsageRow], since: datetime, at: datetime, *, complete: bool, pages: int
) -> dict[str, Any]:
    return {
        "checked_at": at.isoformat(timespec="seconds"),
        "since": since.isoformat(timespec="seconds"),
        "complete": complete,
        "pages": pages,
        "old_ids": len(rows),
        "still_called": sum(r.old.calls > 0 for r in rows),
        "rows": [
            {
                "old_voice_id": r.old_voice_id, "display_name": r.display_name, "new_voice_id": r.new_voice_id,
                "ready": r.ready, "calls": r.old.calls, "characters": r.old.characters,
                "last_call": r.old.to_json()["last_call"], "new_calls": None if r.new is None else r.new.calls,
            }
            for r in rows
        ],
    }


def merge(existing: Mapping[str, Any] | None, mapping: Path, **sections: Any) -> dict[str, Any]:
    """The record with `scan`/`usage`/`agents` (the last find in agent configs) replaced and
    `write`/`rollback`/`agent_write`/`agent_rollback` appended."""
    record: dict[str, Any] = {"format": FORMAT, "scan": None, "writes": [], "rollbacks": [], "usage": None,
                              "agents": None, "agent_writes": [], "agent_rollbacks": []}
    if existing and existing.get("format") == FORMAT:
        record.update({k: existing.get(k, record[k]) for k in record if k != "format"})
    record["mapping"] = str(mapping)
    for key in ("scan", "usage", "agents"):
        if sections.get(key) is not None:
            record[key] = sections[key]
    if sections.get("write") is not None:
        record["writes"] = [*record["writes"], sections["write"]]
    for one, many in (("agent_write", "agent_writes"), ("agent_rollback", "agent_rollbacks")):
        if sections.get(one) is not None:
            record[many] = [*record[many], sections[one]]
    if sections.get("rollback") is not None:
        undone = sections["rollback"]
        record["rollbacks"] = [*record["rollbacks"], undone]
        # the files may hold old ids again: restored now, or already put back (by hand, by git)
        if record["scan"] is not None and (undone.get("restored") or undone.get("already") or undone.get("refused")):
            record["scan"] = {**record["scan"], "remaining": undone.get("remaining_after"),
                              "recounted_at": undone.get("at")}
    return record


def _item(occ: Occurrence, base: Path) -> dict[str, Any]:
    return {
        "path": relative_path(occ.path, base), "line": occ.line, "column": occ.column, "old_voice_id": occ.old_voice_id,
        "new_voice_id": occ.new_voice_id, "display_name": occ.display_name, "why_not": occ.why_not,
    }
