"""Who still calls which voice: TTS analytics entries and a usage summary per voice id.

Owns `TtsCall` (one entry of the TTS analytics log; `audit.api.wire` parses the API's JSON),
`TtsLogs` (what a bounded, paged read of that log returned, and whether it reached back
far enough), `VoiceUsage` (calls, characters and the last call of one voice id over a
time window), the pure `usage_by_voice` summary, `doubts` and `zone_note` (what a summary
and a read assumed, in words: a time without a zone is the server's local time, counted in
any window it may fall in, up to `ZONELESS_SLACK` either way), `UsageWindow` and `window_usage` (a
scan's usage: the DAYS before the run started, so the run's own probes are not counted,
and what an incomplete read leaves unknown), and `parse_since` (a date or time from the
command line, in UTC). Pure: no I/O, imports nothing of audit but errors.

Used by the cutover's "did the old ids go quiet" check, by `retire --quiet-since`, and
by `scan --usage DAYS` (the usage columns of a scan, and the plan's order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from audit.core.errors import UsageError


#: A time the log gives without a zone is the server's local time (the service runs in more
#: than one region), anywhere from UTC-12 to UTC+14: read as UTC, the call may really have
#: happened up to this much later (a server behind UTC) or earlier (a server ahead of UTC).
ZONELESS_SLACK = timedelta(hours=14)


@dataclass(frozen=True, slots=True)
class TtsCall:
    """One TTS request as the analytics log records it.

    `at` is None when the entry's time could not be read: a call at an unknown time, which
    counts as a call in any window (a decision that depends on quiet must not ignore it).
    `zoneless`: the log gave no zone, `at` read it as UTC, and the call may be up to
    `ZONELESS_SLACK` earlier or later. The other fields are the log's own, None when absent
    or unreadable (`request_type` "rest" or "ws", `credits`, `speed`, `sample_rate`,
    `output_format`, `is_pvc`); the text itself is read for its length only."""

    at: datetime | None  # aware, UTC; None: unknown
    voice_id: str
    characters: int
    model: str | None = None
    language: str | None = None
    zoneless: bool = False
    # What the log says about the request; not part of which call it is (equality).
    request_type: str | None = field(default=None, compare=False)
    credits: float | None = field(default=None, compare=False)
    speed: float | None = field(default=None, compare=False)
    sample_rate: int | None = field(default=None, compare=False)
    output_format: str | None = field(default=None, compare=False)
    is_pvc: bool | None = field(default=None, compare=False)

    @property
    def latest(self) -> datetime | None:
        """The latest moment the call may have happened (None: unknown)."""
        if self.at is None:
            return None
        return self.at + ZONELESS_SLACK if self.zoneless else self.at

    @property
    def earliest(self) -> datetime | None:
        """The earliest moment the call may have happened (None: unknown)."""
        if self.at is None:
            return None
        return self.at - ZONELESS_SLACK if self.zoneless else self.at

    def may_fall_in(self, since: datetime, until: datetime | None) -> bool:
        """Whether the call may have happened in [since, until): an unknown time always may, and a
        zoneless one whenever any reading of its zone puts it inside."""
        latest, earliest = self.latest, self.earliest
        if latest is None or earliest is None:
            return True
        return latest >= since and (until is None or earliest < until)


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
    calls: int  # every call that may fall in the window, those at an unknown or zoneless time included
    characters: int
    last_call: datetime | None
    unknown_time: int = 0  # of `calls`: entries whose time could not be read
    zoneless: int = 0  # of `calls`: times given without a zone, counted as possibly 14 h later

    def last_seen(self) -> str:
        """The last call's time as read, with its zone: UTC, or the server's clock (zone unknown)
        when times came without a zone ("" when no call has a readable time)."""
        if self.last_call is None:
            return ""
        zone = "server time, zone unknown" if self.zoneless else "UTC"
        return f"{self.last_call:%Y-%m-%d %H:%M} {zone}"

    def to_json(self) -> dict[str, Any]:
        return {
            "voice_id": self.voice_id, "calls": self.calls, "characters": self.characters,
            "last_call": None if self.last_call is None else self.last_call.isoformat(timespec="seconds"),
            "unknown_time": self.unknown_time, "zoneless": self.zoneless,
        }


def usage_by_voice(
    calls: Iterable[TtsCall], since: datetime, until: datetime | None = None,
    voice_ids: Iterable[str] = (),
) -> dict[str, VoiceUsage]:
    """Calls, characters and last call per voice id that may fall within [since, until).

    Any doubt counts as a call: an entry whose time could not be read is a call at an unknown
    time (in every window), and a time without a zone may be up to `ZONELESS_SLACK` later than
    it reads. Every id of `voice_ids` gets a row, with zero calls when it was not called, so
    that "quiet" is stated rather than implied by absence.
    """
    counts: dict[str, list[Any]] = {v: [0, 0, None, 0, 0] for v in voice_ids}
    for call in calls:
        if not call.may_fall_in(since, until):
            continue
        row = counts.setdefault(call.voice_id, [0, 0, None, 0, 0])
        row[0] += 1
        row[1] += call.characters
        if call.at is None:
            row[3] += 1
        else:
            row[4] += call.zoneless
            if row[2] is None or call.at > row[2]:
                row[2] = call.at
    return {v: VoiceUsage(v, n, chars, last, unknown, zoneless)
            for v, (n, chars, last, unknown, zoneless) in counts.items()}


def doubts(usage: Mapping[str, VoiceUsage]) -> str:
    """What a usage summary assumed, in words ("" when it assumed nothing)."""
    unknown = sum(u.unknown_time for u in usage.values())
    zoneless = sum(u.zoneless for u in usage.values())
    said = []
    if unknown:
        said.append(f"{unknown} call(s) whose time could not be read count as calls in the window")
    if zoneless:
        said.append(f"{zoneless} call time(s) without a zone (the server's local time, its zone unknown) were "
                    f"read as UTC and counted as possibly up to {_SLACK_H} h later or earlier")
    return "; ".join(said)


_SLACK_H = int(ZONELESS_SLACK.total_seconds() // 3600)


def zone_note(calls: Iterable[TtsCall]) -> str:
    """What a read of the log assumed about its times' zone, in words."""
    read = zoneless = 0
    for call in calls:
        if call.at is not None:
            read += 1
            zoneless += call.zoneless
    if not zoneless:
        return "every call time read carried its zone (UTC)" if read else "no call time was read"
    return (f"{zoneless} of {read} call time(s) carried no zone: read as the server's local time in an unknown "
            f"zone (UTC-12 to UTC+14), each counted in any window it may fall in (up to {_SLACK_H} h either way)")


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
    zoneless: int = 0  # call times read without a zone (the server's local time, zone unknown)
    zone: str = ""  # what the read assumed about its times' zone, in words (`zone_note`)
    own_calls: int = 0  # calls left out as the output folder's own earlier probes (audit.core.owncalls)

    def as_dict(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat(timespec="seconds")

        return {
            "days": self.days, "since": moment(self.since), "until": moment(self.until),
            "complete": self.complete, "pages": self.pages, "calls": self.calls, "skipped": self.skipped,
            "covered_since": moment(self.covered_since), "error": self.error,
            "excludes": "calls from the run's start on (its own probes)",
            "zoneless": self.zoneless, "zone": self.zone,
            "own_calls_left_out": self.own_calls,
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
    times = [c.at for c in logs.calls if c.at is not None]
    covered = None if logs.complete or not times else max(since, min(times))
    window = UsageWindow(
        days=days, since=since, until=until, complete=logs.complete, pages=logs.pages,
        calls=sum(u.calls for u in usage.values()), skipped=logs.skipped, covered_since=covered,
        zoneless=sum(c.zoneless for c in logs.calls), zone=zone_note(logs.calls),
    )
    return usage, window


def unread_window(days: int, until: datetime, error: str) -> UsageWindow:
    """The window of a log that could not be read at all: no voice has a number."""
    return UsageWindow(days=days, since=until - timedelta(days=days), until=until, complete=False, error=error)


def parse_timestamp(value: Any) -> datetime:
    """An API timestamp in UTC (see `read_timestamp`; a time without a zone is read as UTC)."""
    return read_timestamp(value)[0]


#: Zone names some servers write after a time instead of an offset.
_UTC_SUFFIXES = (" UTC", " GMT", "UTC", "GMT")


def read_timestamp(value: Any) -> tuple[datetime, bool]:
    """An API timestamp in UTC, and whether it came without a zone (then read as UTC).

    Accepts ISO 8601 with `Z` or an offset, a space instead of `T`, a trailing ` UTC` or ` GMT`,
    and epoch seconds, milliseconds, microseconds or nanoseconds (by magnitude). ValueError
    for anything else (None, an empty string, a number out of range)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        magnitude = abs(value)
        divisor = 1e9 if magnitude > 1e17 else 1e6 if magnitude > 1e14 else 1e3 if magnitude > 1e11 else 1.0
        try:
            return datetime.fromtimestamp(value / divisor, UTC), False
        except (OverflowError, OSError) as exc:
            raise ValueError(f"epoch time {value!r} is out of range") from exc
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise ValueError("entry without a readable timestamp")
    text = value.strip()

    for suffix in _UTC_SUFFIXES:
        if text.endswith(suffix):
            text = text[: -len(suffix)].strip() + "+00:00"
            break
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC), True
    return moment.astimezone(UTC), False


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
