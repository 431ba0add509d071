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
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from audit.core.errors import ConfigError
from audit.core.models import Verdict, VoiceResult, Waiver

FIELDS = ("voice_id", "reason", "owner", "expires")
WAIVABLE = (Verdict.NON_COMPLIANT, Verdict.UNKNOWN)
_HINT = ("Each exception needs voice_id, reason, owner and expires (YYYY-MM-DD): a CSV with that header, "
         "or TOML [[exception]] tables.")


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
    """Parse an exceptions file (CSV or TOML, by extension); ConfigError naming the line."""
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
            raise ConfigError(f"{path}: {where} names {waiver.voice_id} again (first at {seen[waiver.voice_id]}).",
                              hint="Keep one exception per voice.")
        seen[waiver.voice_id] = where
    return waivers


def _csv_entries(path: Path, text: str) -> list[tuple[str, Mapping[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [f for f in FIELDS if f not in (reader.fieldnames or ())]
    if missing:
        raise ConfigError(f"{path}: the header lacks {', '.join(missing)}.", hint=_HINT)
    return [(f"line {reader.line_num}", row) for row in reader if any((v or "").strip() for v in row.values())]


def _toml_entries(path: Path, text: str) -> list[tuple[str, Mapping[str, Any]]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint=_HINT) from None
    unknown = sorted(set(data) - {"exception"})
    items = data.get("exception", [])
    if unknown or not isinstance(items, list):
        raise ConfigError(f"{path}: expected only [[exception]] tables.", hint=_HINT)
    return [(f"exception #{i}", item) for i, item in enumerate(items, 1)]


def _waiver(path: Path, where: str, entry: Mapping[str, Any]) -> Waiver:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{path}: {where} is not a table.", hint=_HINT)
    values = {key: entry.get(key) for key in FIELDS}
    empty = [key for key, value in values.items() if value is None or not str(value).strip()]
    if empty:
        raise ConfigError(f"{path}: {where} has no {', '.join(empty)}.", hint=_HINT)
    expires = values["expires"]
    if not isinstance(expires, date):
        try:
            expires = date.fromisoformat(str(expires).strip())
        except ValueError:
            raise ConfigError(f"{path}: {where}: expires = {expires!r} is not a date like 2026-12-31.",
                              hint=_HINT) from None
    return Waiver(str(values["voice_id"]).strip(), str(values["reason"]).strip(), str(values["owner"]).strip(),
                  expires)


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
