"""Who still calls which voice: TTS analytics entries and a usage summary per voice id.

Owns `TtsCall` (one entry of the TTS analytics log; `audit.api.wire` parses the API's JSON),
`TtsLogs` (what a bounded, paged read of that log returned, and whether it reached back
far enough), `VoiceUsage` (calls, characters and the last call of one voice id over a
time window), the pure `usage_by_voice` summary, `UsageWindow` and `window_usage` (a
scan's usage: the DAYS before the run started, so the run's own probes are not counted,
and what an incomplete read leaves unknown), and `parse_since` (a date or time from the
command line, in UTC). Pure: no I/O, imports nothing of audit but errors.

Used by the cutover's "did the old ids go quiet" check, by `retire --quiet-since`, and
by `scan --usage DAYS` (the usage columns of a scan, and the plan's order).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from audit.core.errors import UsageError


@dataclass(frozen=True, slots=True)
class TtsCall:
    """One TTS request as the analytics log records it."""

    at: datetime  # aware, UTC
    voice_id: str
    characters: int
    model: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class TtsLogs:
    """The calls a read of the analytics log returned.

    `complete` is True when the read reached either the end of the log or, in a log
    ordered newest first, an entry older than the window it was asked for: only then
    does "no call" mean no call. `skipped` counts entries that could not be parsed.
    `stopped` says why the read stopped before the end (an answer that was not the page
    asked for, the bound on calls kept, the deadline); None after the page limit or the end.
    """

    calls: tuple[TtsCall, ...]
    pages: int
    total_count: int | None
    complete: bool
    skipped: int = 0
    stopped: str | None = None


@dataclass(frozen=True, slots=True)
class VoiceUsage:
    voice_id: str
    calls: int
    characters: int
    last_call: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "voice_id": self.voice_id, "calls": self.calls, "characters": self.characters,
            "last_call": None if self.last_call is None else self.last_call.isoformat(timespec="seconds"),
        }


def usage_by_voice(
    calls: Iterable[TtsCall], since: datetime, until: datetime | None = None,
    voice_ids: Iterable[str] = (),
) -> dict[str, VoiceUsage]:
    """Calls, characters and last call per voice id within [since, until).

    Every id of `voice_ids` gets a row, with zero calls when it was not called, so that
    "quiet" is stated rather than implied by absence.
    """
    counts: dict[str, list[Any]] = {v: [0, 0, None] for v in voice_ids}
    for call in calls:
        if call.at < since or (until is not None and call.at >= until):
            continue
        row = counts.setdefault(call.voice_id, [0, 0, None])
        row[0] += 1
        row[1] += call.characters
        if row[2] is None or call.at > row[2]:
            row[2] = call.at
    return {v: VoiceUsage(v, n, chars, last) for v, (n, chars, last) in counts.items()}


@dataclass(frozen=True, slots=True)
class UsageWindow:
    """What a scan's usage numbers cover: [since, until), until being the run's start.

    `complete` False: the log could not be read back to `since` (page limit, an unordered
    log) or not at all (`error`): a voice with no call found has no number, never zero, and
    a count found is a lower bound. `covered_since` is then the oldest entry read.
    """

    days: int
    since: datetime
    until: datetime
    complete: bool
    pages: int = 0
    calls: int = 0  # calls counted in the window, over every voice id
    skipped: int = 0  # log entries without a usable time or voice id
    covered_since: datetime | None = None
    error: str | None = None  # why the log could not be read at all

    def as_dict(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat(timespec="seconds")

        return {
            "days": self.days, "since": moment(self.since), "until": moment(self.until),
            "complete": self.complete, "pages": self.pages, "calls": self.calls, "skipped": self.skipped,
            "covered_since": moment(self.covered_since), "error": self.error,
            "excludes": "calls from the run's start on (its own probes)",
        }


def window_usage(
    logs: TtsLogs, days: int, until: datetime, voice_ids: Iterable[str]
) -> tuple[dict[str, VoiceUsage], UsageWindow]:
    """Usage per voice id over the `days` before `until` (the run's start, so the run's own
    TTS calls are left out). On a complete read every id of `voice_ids` gets a row (zero
    calls stated); on an incomplete one only the ids found, as lower bounds."""
    since = until - timedelta(days=days)
    ids = list(voice_ids) if logs.complete else []
    usage = usage_by_voice(logs.calls, since, until, ids)
    covered = None if logs.complete or not logs.calls else max(since, min(c.at for c in logs.calls))
    window = UsageWindow(
        days=days, since=since, until=until, complete=logs.complete, pages=logs.pages,
        calls=sum(u.calls for u in usage.values()), skipped=logs.skipped, covered_since=covered,
    )
    return usage, window


def unread_window(days: int, until: datetime, error: str) -> UsageWindow:
    """The window of a log that could not be read at all: no voice has a number."""
    return UsageWindow(days=days, since=until - timedelta(days=days), until=until, complete=False, error=error)


def parse_timestamp(value: Any) -> datetime:
    """An API timestamp (ISO 8601, `Z` or an offset, or epoch seconds/milliseconds) in UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000.0 if value > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str) or not value:
        raise ValueError("entry without a timestamp")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_since(value: str, *, flag: str = "--since", now: datetime | None = None) -> datetime:
    """A date (`2026-03-01`, midnight UTC) or a time (`2026-03-01T14:00:00+02:00`) from the
    command line, in UTC. A time in the future is refused: nothing could have called since."""
    text = value.strip()
    try:
        moment = (
            datetime.combine(date.fromisoformat(text), time(), UTC)
            if len(text) == 10 else parse_timestamp(text)
        )
    except ValueError:
        raise UsageError(
            f"{flag} {value!r} is not a date.",
            hint="Give a date (2026-03-01, read as midnight UTC) or an ISO time (2026-03-01T14:00:00Z).",
        ) from None
    if moment > (now or datetime.now(UTC)):
        raise UsageError(
            f"{flag} {value} is in the future: no call could have happened since then.",
            hint="Give the moment the callers were switched to the new ids.",
        )
    return moment
