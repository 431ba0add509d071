"""Waivers: the exceptions file, and the rule that makes a waived voice `excepted`.

An exceptions file (`scan --exceptions FILE`, `[report] exceptions`) lists voices the
organisation accepts as they are, each with a reason, an owner and an expiry date. Either
CSV with the header `voice_id,reason,owner,expires` or TOML with `[[exception]]` tables
holding the same keys; `expires` is a date (`2026-12-31`), the last day the waiver holds.

`apply_waivers` is pure: a non-compliant or unknown voice with an active waiver becomes
`excepted` (it fails no run and counts neither as non-compliant nor as unknown); after its
expiry the voice keeps its verdict and its reason says the waiver expired. Ids the file
names but the scan did not list, and waivers of voices that need none, are reported.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from audit.core.errors import ConfigError
from audit.core.models import Verdict, VoiceResult, Waiver
from audit.core.untrusted import shown

FIELDS = ("voice_id", "reason", "owner", "expires")
WAIVABLE = (Verdict.NON_COMPLIANT, Verdict.UNKNOWN)
_HINT = ("Each exception needs voice_id, reason, owner and expires (YYYY-MM-DD): a CSV with that header, "
         "or TOML [[exception]] tables.")
_TABLE_HEADER = re.compile(r"[ \t]*\[\[[ \t]*exception[ \t]*\]\]")  # to name a TOML table's line


@dataclass(frozen=True)
class WaiverOutcome:
    """What the exceptions file did to a scan."""

    source: str  # the file, as given
    active: tuple[Waiver, ...]  # voices now `excepted`
    expired: tuple[Waiver, ...]  # voices that count again: their waiver ran out
    unknown: tuple[Waiver, ...]  # ids the scan did not list
    unneeded: tuple[Waiver, ...]  # voices that are compliant (or migrated) anyway

    def as_dict(self) -> dict[str, Any]:
        def rows(waivers: Iterable[Waiver]) -> list[dict[str, str]]:
            return [{"voice_id": w.voice_id, "reason": w.reason, "owner": w.owner,
                     "expires": w.expires.isoformat()} for w in waivers]

        return {"file": self.source, "active": rows(self.active), "expired": rows(self.expired),
                "unknown_ids": rows(self.unknown), "unneeded": rows(self.unneeded)}


def read_exceptions(path: Path) -> tuple[Waiver, ...]:
    """Parse an exceptions file (CSV or TOML, by extension). Every row and every field is
    checked (type, emptiness, unknown keys, duplicates) before anything is used: a bad file
    is a ConfigError (exit 2) naming the file and the line, found before any paid call."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"exceptions file {path} does not exist.", hint=_HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"exceptions file {path} cannot be read: {exc}", hint=_HINT) from None
    entries = _toml_entries(path, text) if path.suffix.lower() == ".toml" else _csv_entries(path, text)
    waivers = tuple(_waiver(path, where, entry) for where, entry in entries)
    seen: dict[str, str] = {}
    for (where, _), waiver in zip(entries, waivers, strict=True):
        if waiver.voice_id in seen:
            raise ConfigError(f"{path}: {where} names {shown(waiver.voice_id)} again (first at "
                              f"{seen[waiver.voice_id]}).", hint="Keep one exception per voice.")
        seen[waiver.voice_id] = where
    return waivers


def _csv_entries(path: Path, text: str) -> list[tuple[str, Mapping[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        missing = [f for f in FIELDS if f not in (reader.fieldnames or ())]
        if missing:
            raise ConfigError(f"{path}: the header lacks {', '.join(missing)}.", hint=_HINT)
        entries: list[tuple[str, Mapping[str, Any]]] = []
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row:  # more cells than the header names
                raise ConfigError(f"{path}: {where} has {len(row[None])} cell(s) more than the header.", hint=_HINT)
            if any((value or "").strip() for value in row.values()):
                entries.append((where, row))
        return entries
    except csv.Error as exc:
        raise ConfigError(f"{path}: line {reader.line_num} is not valid CSV: {exc}", hint=_HINT) from None


def _toml_entries(path: Path, text: str) -> list[tuple[str, Mapping[str, Any]]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint=_HINT) from None
    unknown = sorted(set(data) - {"exception"})
    items = data.get("exception", [])
    if unknown or not isinstance(items, list):
        raise ConfigError(f"{path}: expected only [[exception]] tables"
                          + (f", found {', '.join(map(repr, unknown))}." if unknown else "."), hint=_HINT)
    lines = [n for n, line in enumerate(text.splitlines(), 1) if _TABLE_HEADER.match(line)]
    return [(f"exception #{i}" + (f" (line {lines[i - 1]})" if len(lines) == len(items) else ""), item)
            for i, item in enumerate(items, 1)]


def _waiver(path: Path, where: str, entry: Mapping[str, Any]) -> Waiver:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{path}: {where} is not a table.", hint=_HINT)
    extra = sorted(str(key) for key in entry if key not in FIELDS)
    if extra:
        raise ConfigError(f"{path}: {where} has unknown field(s) {', '.join(map(repr, extra))}.", hint=_HINT)
    values = {key: entry.get(key) for key in FIELDS}
    empty = [key for key, value in values.items() if value is None or (isinstance(value, str) and not value.strip())]
    if empty:
        raise ConfigError(f"{path}: {where} has no {', '.join(empty)}.", hint=_HINT)
    texts: list[str] = []
    for key in ("voice_id", "reason", "owner"):
        value = values[key]
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {where}: {key} = {shown(repr(value))} is not text; write it in quotes.",
                              hint=_HINT)
        texts.append(value.strip())
    voice_id, reason, owner = texts
    return Waiver(voice_id, reason, owner, _expires(path, where, values["expires"]))


def _expires(path: Path, where: str, value: object) -> date:
    """The last day a waiver holds: a `YYYY-MM-DD` text, or a TOML date (never a date-time:
    which day a time in some zone falls on is a guess)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, (datetime, time)):
        raise ConfigError(f"{path}: {where}: expires = {value.isoformat()} is a date-time, not a day.",
                          hint="Write the last day the waiver holds: expires = 2026-12-31 (no time).")
    try:
        if not isinstance(value, str):
            raise ValueError
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{path}: {where}: expires = {shown(repr(value))} is not a date like 2026-12-31.",
                          hint=_HINT) from None


def apply_waivers(
    results: Sequence[VoiceResult], waivers: Sequence[Waiver], today: date, source: str = ""
) -> tuple[tuple[VoiceResult, ...], WaiverOutcome]:
    """Mark waived voices `excepted` (or say their waiver expired); pure."""
    by_id = {w.voice_id: w for w in waivers}
    listed = {r.clone.voice_id for r in results}
    active: list[Waiver] = []
    expired: list[Waiver] = []
    unneeded: list[Waiver] = []
    out: list[VoiceResult] = []
    for result in results:
        waiver = by_id.get(result.clone.voice_id)
        if waiver is None:
            out.append(result)
        elif result.verdict not in WAIVABLE:
            unneeded.append(waiver)
            out.append(result)
        elif waiver.active(today):
            active.append(waiver)
            out.append(replace(result, verdict=Verdict.EXCEPTED, waiver=waiver, reason=(
                f"excepted until {waiver.expires.isoformat()} by {waiver.owner}: {waiver.reason} "
                f"(was {result.verdict.value}: {result.reason})")))
        else:
            expired.append(waiver)
            out.append(replace(result, waiver=waiver, reason=(
                f"waiver expired on {waiver.expires.isoformat()} ({waiver.owner}: {waiver.reason}); {result.reason}")))
    unknown = tuple(w for w in waivers if w.voice_id not in listed)
    return tuple(out), WaiverOutcome(source, tuple(active), tuple(expired), unknown, tuple(unneeded))
