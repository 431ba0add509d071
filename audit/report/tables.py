"""Per-voice rows and summary counts, as plain data and as pandas frames.

Owns the columns of clones.csv and of run.json's `voices`, their order (failures
first), each voice's pool (from its `modelIds`) and the TTS model its probe used, each voice's `cause` (why it fails, independent of a waiver), the links between a
replacement clone and the voice it replaces, the history columns (`change`,
`first_noncompliant`), the usage columns (calls, characters, last call in the usage window;
the findings most called first), the summary counts (replacement clones are not extra voices), and
CSV rendering (RFC 4180, with spreadsheet-formula
cells neutralised so a hostile display name cannot run in Excel, and control and bidi
characters (but newline and tab) shown as escapes (`untrusted.visible`) so a cell cannot act on a terminal or
hide what it says; run.json keeps every string exactly).
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from audit.core.models import CloneStatus, Compatibility, ProbeVerdict, Verdict, VoiceResult, marked_origin
from audit.core.pools import pool_of
from audit.core.untrusted import visible
from audit.core.usage import VoiceUsage
from audit.runs.record import VOICE_COLUMNS, VoiceRow

if TYPE_CHECKING:  # pandas is imported where a frame is built, not when a scan starts
    import pandas as pd

COLUMNS: tuple[str, ...] = VOICE_COLUMNS  # the fields of a run's typed VoiceRow, in order
_INTEGER_COLUMNS = {"probe_http_status": "Int64", "probe_bytes": "Int64", "age_days": "Int64",
                    "usage_calls": "Int64", "usage_chars": "Int64"}
USAGE_COLUMNS = ("usage_calls", "usage_chars", "usage_last_call")


class Cause(enum.StrEnum):
    """Why a voice fails (or would, but for a waiver), as the report groups and charts it."""

    SHORT_WAV = ProbeVerdict.SHORT_WAV.value
    SILENT = ProbeVerdict.SILENT.value
    FAILED_CLONE = "failed-clone"
    PENDING = CloneStatus.PENDING.value  # pending or processing
    PROBE_ERROR = "probe-error"
    LEGACY_METADATA = "legacy-metadata"
    NO_METADATA = "no-metadata"


#: The verdicts of the findings table; with usage numbers they are ordered by calls, most first.
FINDINGS = (Verdict.NON_COMPLIANT, Verdict.UNKNOWN)
#: Verdicts whose voice has a cause to chart (a waiver does not change why a voice fails).
CAUSED = (*FINDINGS, Verdict.EXCEPTED)
CAUSES = tuple(Cause)

#: Order of the report: what needs attention first.
VERDICT_ORDER = (Verdict.NON_COMPLIANT, Verdict.UNKNOWN, Verdict.EXCEPTED, Verdict.MIGRATED, Verdict.COMPLIANT)
PROBE_ORDER = (ProbeVerdict.SHORT_WAV, ProbeVerdict.SILENT, ProbeVerdict.ERROR, ProbeVerdict.SPEAKS,
               ProbeVerdict.NOT_PROBED)
COMPAT_ORDER = (Compatibility.LEGACY_ONLY, Compatibility.UNKNOWN, Compatibility.V31)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def voice_row(result: VoiceResult, now: datetime) -> dict[str, Any]:
    clone, probe, stats = result.clone, result.probe, result.probe.stats
    return {
        "voice_id": clone.voice_id,
        "display_name": clone.display_name,
        "model_ids": None if clone.model_ids is None else " ".join(clone.model_ids),
        "status": clone.raw_status,
        "language": clone.language,
        "created_at": clone.created_at,
        "age_days": _age_days(clone.created_at, now),
        "compatibility": result.compatibility.value,
        "pool": pool_of(clone.model_ids).value,
        "probe_verdict": probe.verdict.value,
        "probe_model": probe.model,
        "probe_http_status": probe.http_status,
        "probe_bytes": probe.n_bytes,
        "probe_duration_s": None if stats is None else round(stats.duration_s, 3),
        "probe_rms_dbfs": None if stats is None else stats.rms_dbfs,
        "probe_reason": probe.reason,
        "verdict": result.verdict.value,
        "cause": cause(result),
        "reason": result.reason,
        "exception_owner": result.waiver.owner if result.waiver else None,
        "exception_expires": result.waiver.expires.isoformat() if result.waiver else None,
        "exception_status": None if result.waiver is None else (
            "active" if result.verdict is Verdict.EXCEPTED else "expired"),
        "replaces": marked_origin(clone),
        "replaced_by": None,
        "change": None,
        "first_noncompliant": None,
        "usage_calls": None,
        "usage_chars": None,
        "usage_last_call": None,
        "evidence": result.evidence or None,  # what a `migrated` verdict rests on
        "probed_at": probe.probed_at,  # when the TTS answer came back (an earlier run's, if reused)
        "probe_reused": probe.reused,
    }


def cause(result: VoiceResult) -> str | None:
    """Why the voice fails or cannot be judged; None when it speaks on v3.1."""
    status, probe = result.clone.status, result.probe.verdict
    if status is CloneStatus.FAILED:
        return Cause.FAILED_CLONE.value
    if status in (CloneStatus.PENDING, CloneStatus.PROCESSING):
        return Cause.PENDING.value
    match probe:
        case ProbeVerdict.SHORT_WAV | ProbeVerdict.SILENT:
            return Cause(probe.value).value
        case ProbeVerdict.ERROR:
            return Cause.PROBE_ERROR.value
        case ProbeVerdict.SPEAKS:
            return None
        case _:
            return _METADATA_CAUSE.get(result.compatibility)


_METADATA_CAUSE = {Compatibility.LEGACY_ONLY: Cause.LEGACY_METADATA.value, Compatibility.UNKNOWN: Cause.NO_METADATA.value}


def voice_frame(
    results: Iterable[VoiceResult], now: datetime, usage: Mapping[str, VoiceUsage] | None = None
) -> pd.DataFrame:
    """One row per voice, failures first, then by display name. `usage` (voice id → its calls,
    characters and last call in the usage window) fills the usage columns (a voice it does not
    name has none: not known, not zero) and orders the findings by calls, most called first."""
    import pandas as pd  # here, not at the top: only the report, plan and migration tables load pandas (a scan never does)

    data: dict[str, list[Any]] = {name: [] for name in COLUMNS}  # by column: no dict per voice is kept
    for result in results:
        for name, value in voice_row(result, now).items():
            data[name].append(value)
    ids = data["voice_id"]
    replaced_by = {origin: voice_id for origin, voice_id in zip(data["replaces"], ids, strict=True) if origin}
    data["replaced_by"] = [replaced_by.get(voice_id) for voice_id in ids]
    if usage is not None:
        for i, voice_id in enumerate(ids):
            used = usage.get(voice_id)
            if used is not None:
                data["usage_calls"][i], data["usage_chars"][i] = used.calls, used.characters
                data["usage_last_call"][i] = (None if used.last_call is None
                                              else used.last_call.isoformat(timespec="seconds"))
    if not ids:  # none: no column typed by an empty list
        return pd.DataFrame([], columns=list(COLUMNS)).astype(_INTEGER_COLUMNS)
    keys = list(map(_order_key, data["verdict"], data["usage_calls"], data["display_name"], ids))
    order = sorted(range(len(keys)), key=keys.__getitem__)
    del keys, ids
    columns = {}
    for name in COLUMNS:  # each column in report order, its list let go before the next is made
        values = data.pop(name)
        columns[name] = pd.Series([values[i] for i in order], dtype=_INTEGER_COLUMNS.get(name))
        del values
    return pd.DataFrame(columns, copy=False)


def ordered_rows(
    results: Iterable[VoiceResult], now: datetime, usage: Mapping[str, VoiceUsage] | None = None,
    *, checked: bool = False,
) -> list[VoiceRow]:
    """`voice_frame`'s rows in its order, without pandas or a frame: one compact row per voice.
    `checked`: each row checked as a stored row is (`VoiceRow.of`), for the rows a scan writes
    (`rows.scan_rows`); unchecked for what reads the voices but writes no file (the closing lines)."""
    results = list(results)
    replaced_by = {origin: r.clone.voice_id for r in results if (origin := marked_origin(r.clone))}
    rows = []
    for result in results:
        row = voice_row(result, now)
        row["replaced_by"] = replaced_by.get(row["voice_id"])
        used = None if usage is None else usage.get(row["voice_id"])
        if used is not None:
            row["usage_calls"], row["usage_chars"] = used.calls, used.characters
            row["usage_last_call"] = None if used.last_call is None else used.last_call.isoformat(timespec="seconds")
        rows.append(VoiceRow.of(row) if checked else VoiceRow(**row))  # unchecked: the run's own typed values
    return sorted(rows, key=_report_order)


_RANK = {v.value: i for i, v in enumerate(VERDICT_ORDER)}


def _order_key(verdict: str, calls: int | None, name: str | None, voice_id: str) -> tuple[Any, ...]:
    """The report's order: the findings first as one group, most called first; then by verdict
    (`VERDICT_ORDER`), display name (trimmed, case folded) and voice id; ties as listed."""
    rank = _RANK.get(verdict, len(_RANK))
    finding = verdict in FINDINGS
    return (0 if finding else rank, -(calls or 0) if finding else 0, rank, (name or "").strip().casefold(), voice_id)


def _report_order(row: VoiceRow) -> tuple[Any, ...]:
    return _order_key(row.verdict, row.usage_calls, row.display_name, row.voice_id)


def with_history(frame: pd.DataFrame, change: Mapping[str, str], first: Mapping[str, str],
                 today: str | None = None) -> pd.DataFrame:
    """The frame with `change` (new, fixed, regressed, still failing) and `first_noncompliant`
    (the date an earlier scan, or this one, on `today`, first found the voice non-compliant:
    a date and nothing else, so the CSV column parses as dates) filled in."""
    since: list[str | None] = [None] * len(frame)
    for i, (voice_id, verdict) in enumerate(zip(frame["voice_id"], frame["verdict"], strict=True)):
        if voice_id in first:
            since[i] = first[voice_id][:10]
        elif verdict == Verdict.NON_COMPLIANT and today is not None:
            since[i] = today[:10]
    # assign: the other columns are shared with `frame` (copy on write), not copied
    return frame.assign(change=[change.get(v) for v in frame["voice_id"]], first_noncompliant=since)


def is_replacement(frame: pd.DataFrame) -> pd.Series:
    """Rows of replacement clones whose original is listed too: not extra voices."""
    return frame["replaces"].notna() & frame["replaces"].isin(set(frame["voice_id"]))


def summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Counts over the voices (a replacement clone is counted through the voice it replaces)."""
    import pandas as pd  # here, not at the top: only the report, plan and migration tables load pandas (a scan never does)
    replacements = is_replacement(frame) if len(frame) else pd.Series([], dtype=bool)
    voices = frame[~replacements] if len(frame) else frame

    def counts(column: str, order: Sequence[str]) -> dict[str, int]:
        found = voices[column].value_counts().to_dict()
        return {str(key): int(found.get(key, 0)) for key in order}

    causes = voices[voices["verdict"].isin(CAUSED)]["cause"]
    return {
        "total": len(voices),
        "replacement_clones": int(replacements.sum()),
        "verdict": counts("verdict", VERDICT_ORDER),
        "probe_verdict": counts("probe_verdict", PROBE_ORDER),
        "compatibility": counts("compatibility", COMPAT_ORDER),
        "cause": {str(key): int(n) for key in CAUSES if (n := (causes == key).sum())},
    }


#: CSV columns that hold a date or a time (clones.csv, mapping.csv): ISO 8601 or empty, never other text.
DATE_COLUMNS = frozenset({"created_at", "exception_expires", "first_noncompliant", "usage_last_call", "probed_at",
                          "verified_at", "retired_at", "reviewed_at"})


def render_csv(frame: pd.DataFrame, *, bom: bool = False) -> str:
    """RFC 4180; `bom` starts it with a UTF-8 byte order mark, so Excel reads non-Latin names.
    A date column holds an ISO date or timestamp, or nothing (a server's unreadable date stays
    in run.json, not in the CSV a spreadsheet sorts by date)."""
    return "".join(csv_chunks(frame, bom=bom))


#: Rows rendered at a time by `csv_chunks`: a writer holds the CSV of these, never of every row.
CSV_BATCH = 2000


def csv_chunks(frame: pd.DataFrame, *, bom: bool = False, batch: int = CSV_BATCH) -> Iterator[str]:
    """`render_csv` in pieces of whole lines (the header, then `batch` rows at a time)."""
    dated = [c for c in frame.columns if c in DATE_COLUMNS]
    for start in range(0, max(len(frame), 1), batch):
        part = frame.iloc[start:start + batch]
        if dated:
            part = part.assign(**{c: part[c].map(_iso) for c in dated})
        text = part.map(_safe_cell).to_csv(index=False, header=not start, lineterminator="\r\n",
                                           quoting=csv.QUOTE_MINIMAL)
        yield ("\ufeff" + text) if bom and not start else text


#: Rows converted at a time by `iter_records`: the JSON of a few hundred rows, not of all of them.
RECORDS_BATCH = 500


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: missing values become None, numbers stay numbers (Python's own). Each
    row's strings are the frame's own objects, not copies (no JSON text of the frame is made)."""
    names = [str(name) for name in frame.columns]
    columns = [_plain(frame[name]) for name in frame.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _plain(column: pd.Series) -> list[Any]:
    """A column's values as Python objects, a missing one (None, NaN, NA) as None."""
    return column.astype(object).where(column.notna(), None).tolist()


def iter_records(frame: pd.DataFrame, batch: int = RECORDS_BATCH) -> Iterator[dict[str, Any]]:
    """`records`, a batch at a time: what a writer streams holds one batch, never every row twice."""
    for start in range(0, len(frame), batch):
        yield from records(frame.iloc[start:start + batch])


def voice_rows(frame: pd.DataFrame) -> tuple[VoiceRow, ...]:
    """The frame's rows as a run record keeps them (typed, checked)."""
    return tuple(VoiceRow.of(row) for row in iter_records(frame))


def frame_of(rows: Iterable[VoiceRow]) -> pd.DataFrame:
    """A run record's voices as a frame, in the order they were stored."""
    import pandas as pd  # here, not at the top: only the report, plan and migration tables load pandas (a scan never does)
    return pd.DataFrame([r.as_dict() for r in rows], columns=list(COLUMNS)).astype(_INTEGER_COLUMNS)


def _safe_cell(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_START):
        value = "'" + value
    return visible(value, keep_lines=True)


def _iso(value: Any) -> str | None:
    """An ISO date (as given) or timestamp (to the second; as given when it names no zone), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.date().isoformat() if len(text) == 10 else when.isoformat(timespec="seconds")


def _age_days(created_at: str | None, now: datetime) -> int | None:
    if not created_at:
        return None
    try:
        created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if created.tzinfo is None:
        return None
    return max(0, (now - created).days)
