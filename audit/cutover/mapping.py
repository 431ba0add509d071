"""Reading a migration mapping (mapping.csv or mapping.json, as `apply` writes them).

Owns `read_mapping(path)` and its validation. A row is offered for replacement only when
it is ready: `status` is `ready` (a probe heard the new clone speak), it has a new voice
id, and no fidelity check marks it a mismatch (a `fidelity` column or field, when
present) unless a person accepted it (`review` is `accepted`). Every other row's old id is still looked for, and reported as not ready.

Voice ids must be whole tokens of at least 8 letters, digits, `_` or `-`: anything
shorter or odder could match text that is not a voice id, so it is refused with the row
named. An id that is both old and new (mapped to itself, a cycle a→b, b→a, or any chain
a→b, b→c) is refused with the line of the mapping file named: a replacement must leave
no old id behind, and a second run must not rewrite what the first one wrote. A missing,
unreadable or malformed file is a UsageError naming the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.core.errors import UsageError

REQUIRED = ("old_voice_id", "new_voice_id", "status")
READY = "ready"
MISMATCH = "mismatch"
ACCEPTED = "accepted"  # a person listened to a mismatch and kept it (`clone-audit review --accept`)
VOICE_ID = re.compile(r"[A-Za-z0-9_-]{8,200}")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HINT = "Pass the mapping.csv or mapping.json that `clone-audit apply` wrote beside the plan."


@dataclass(frozen=True, slots=True)
class MappingRow:
    old_voice_id: str
    new_voice_id: str | None
    display_name: str
    status: str
    ready: bool
    why_not: str  # empty when ready


@dataclass(frozen=True)
class VoiceMapping:
    path: Path
    rows: tuple[MappingRow, ...]

    @property
    def by_old(self) -> dict[str, MappingRow]:
        return {r.old_voice_id: r for r in self.rows}

    @property
    def ready(self) -> dict[str, str]:
        """Old id → new id, for the rows that may be replaced."""
        return {r.old_voice_id: r.new_voice_id for r in self.rows if r.ready and r.new_voice_id}

    @property
    def new_ids(self) -> set[str]:
        return {r.new_voice_id for r in self.rows if r.new_voice_id}


def read_mapping(path: Path) -> VoiceMapping:
    if not path.is_file():
        raise UsageError(f"mapping file {path} does not exist.", hint=HINT)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"mapping file {path} cannot be read: {exc}", hint=HINT) from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows, lines = _csv_rows(text, path)
        return VoiceMapping(path, parse_rows(rows, path, lines))
    if suffix == ".json":
        return VoiceMapping(path, parse_rows(_json_rows(text, path), path))
    raise UsageError(f"mapping file {path} is neither .csv nor .json.", hint=HINT)


def parse_rows(
    rows: Iterable[Mapping[str, Any]], path: Path, lines: Sequence[int] | None = None
) -> tuple[MappingRow, ...]:
    """Validated rows; a UsageError naming the file and the row (and, for a CSV file, the
    line each row ends on, `lines`) for the first problem."""
    parsed: dict[str, MappingRow] = {}
    where: dict[str, str] = {}
    for number, raw in enumerate(rows, start=1):
        row = _row(raw, number, path)
        earlier = parsed.get(row.old_voice_id)
        if earlier is not None and earlier.new_voice_id != row.new_voice_id:
            raise UsageError(
                f"mapping file {path}, row {number}: {row.old_voice_id} is mapped twice "
                f"({earlier.new_voice_id} and {row.new_voice_id}).", hint=HINT,
            )
        parsed[row.old_voice_id] = row
        where.setdefault(row.old_voice_id, f"line {lines[number - 1]}" if lines else f"row {number}")
    if not parsed:
        raise UsageError(f"mapping file {path} holds no rows: nothing was migrated yet.", hint=HINT)
    _refuse_chains(parsed, where, path)
    return tuple(parsed.values())


def _refuse_chains(parsed: Mapping[str, MappingRow], where: Mapping[str, str], path: Path) -> None:
    """UsageError when a new id is also an old id (a self-map, a cycle, a chain)."""
    for old, row in parsed.items():
        new = row.new_voice_id
        if new is None or new not in parsed:
            continue
        what = "is mapped to itself" if new == old else (
            f"is mapped to {new}, which is itself an old id ({where[new]} maps it to {parsed[new].new_voice_id})")
        raise UsageError(
            f"mapping file {path}, {where[old]}: {old} {what}. A mapping whose ids are both old and new "
            "(a self-map, a cycle or a chain) is refused: a cutover must leave no old id behind.",
            hint="Fix or regenerate the mapping: every new id must be a voice no row replaces.",
        )


def _row(raw: Mapping[str, Any], number: int, path: Path) -> MappingRow:
    old, new = _text(raw.get("old_voice_id")), _text(raw.get("new_voice_id"))
    for name, value in (("old_voice_id", old), ("new_voice_id", new)):
        if value and not VOICE_ID.fullmatch(value):
            raise UsageError(
                f"mapping file {path}, row {number}: {name} {value!r} is not a voice id "
                "(8 or more letters, digits, _ or -); replacing it could change unrelated text.",
                hint=HINT,
            )
    if not old:
        raise UsageError(f"mapping file {path}, row {number}: old_voice_id is empty.", hint=HINT)
    status = _text(raw.get("status")) or "unknown"
    fidelity = _text(raw.get("fidelity")).lower()
    why_not = ""
    if status != READY:
        why_not = f"status {status}"
    elif not new:
        why_not = "no new voice id"
    elif fidelity == MISMATCH and _text(raw.get("review")).lower() != ACCEPTED:
        why_not = "fidelity mismatch"
    name = _text(raw.get("display_name"))
    if name.startswith("'") and name[1:].startswith(_FORMULA_START):
        name = name[1:]  # undo the CSV's spreadsheet-formula guard
    return MappingRow(old, new or None, name, status, not why_not, why_not)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _csv_rows(text: str, path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """The rows, and the line of the file each ends on."""
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise UsageError(
                f"mapping file {path} is not a clone-audit mapping: no column {', '.join(missing)}.", hint=HINT
            )
        rows, lines = [], []
        for row in reader:
            rows.append(row)
            lines.append(reader.line_num)
        return rows, lines
    except csv.Error as exc:
        raise UsageError(f"mapping file {path} is not valid CSV: {exc}", hint=HINT) from None


def _json_rows(text: str, path: Path) -> list[Mapping[str, Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"mapping file {path} is not valid JSON: {exc}", hint=HINT) from None
    rows = document.get("mapping") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise UsageError(f"mapping file {path} is not a clone-audit mapping: no `mapping` list.", hint=HINT)
    missing = [c for c in REQUIRED if rows and any(c not in r for r in rows)]
    if missing:
        raise UsageError(
            f"mapping file {path} is not a clone-audit mapping: rows without {', '.join(missing)}.", hint=HINT
        )
    return rows
