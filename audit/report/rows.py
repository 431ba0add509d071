"""A scan's voices as rows, without pandas: what a scan writes is made from its `VoiceRow`s.

Owns the scan's path from its results to its files with the standard library only: the rows in
the report's order (`scan_rows`, the same typed rows `tables.voice_rows(tables.voice_frame(...))`
gives), the history columns filled in (`with_history_rows`), the summary counts (`row_summary`)
and clones.csv written by the csv module (`row_csv_chunks`), byte for byte what `tables.csv_chunks`
writes from the frame: the same header and column order, RFC 4180 quoting, CRLF lines, a missing
value empty, numbers as pandas writes them (a float as its shortest repr, a whole number without
a point), True/False, and the same neutralised, visible text cells. Other commands (report, plan,
apply) keep their frames.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from audit.core.models import Verdict, VoiceResult
from audit.core.usage import VoiceUsage
from audit.report.tables import (
    CAUSED,
    CAUSES,
    COLUMNS,
    COMPAT_ORDER,
    CSV_BATCH,
    DATE_COLUMNS,
    PROBE_ORDER,
    VERDICT_ORDER,
    _iso,
    _safe_cell,
    ordered_rows,
)
from audit.runs.record import VoiceRow


def scan_rows(
    results: Iterable[VoiceResult], now: datetime, usage: Mapping[str, VoiceUsage] | None = None
) -> list[VoiceRow]:
    """One typed row per voice in the report's order (failures first, most called first), each
    checked as a stored row is (`VoiceRow.of`): what run.json, the page and the history read."""
    return ordered_rows(results, now, usage, checked=True)


def with_history_rows(rows: Sequence[VoiceRow], change: Mapping[str, str], first: Mapping[str, str],
                      today: str | None = None) -> list[VoiceRow]:
    """`tables.with_history` over rows: `change` and `first_noncompliant` filled in."""
    out = []
    for row in rows:
        since = None
        if row.voice_id in first:
            since = first[row.voice_id][:10]
        elif row.verdict == Verdict.NON_COMPLIANT and today is not None:
            since = today[:10]
        out.append(dataclasses.replace(row, change=change.get(row.voice_id), first_noncompliant=since))
    return out


def row_summary(rows: Sequence[VoiceRow]) -> dict[str, Any]:
    """`tables.summary` over rows: the counts over the voices (a replacement clone whose original
    is listed is counted through the voice it replaces)."""
    ids = {row.voice_id for row in rows}
    voices = [row for row in rows if not (row.replaces is not None and row.replaces in ids)]

    def counts(column: str, order: Sequence[str]) -> dict[str, int]:
        found = Counter(value for row in voices if (value := row[column]) is not None)
        return {str(key): found.get(key, 0) for key in order}

    causes = Counter(row.cause for row in voices if row.verdict in CAUSED)
    return {
        "total": len(voices),
        "replacement_clones": len(rows) - len(voices),
        "verdict": counts("verdict", VERDICT_ORDER),
        "probe_verdict": counts("probe_verdict", PROBE_ORDER),
        "compatibility": counts("compatibility", COMPAT_ORDER),
        "cause": {str(key): n for key in CAUSES if (n := causes.get(key, 0))},
    }


def row_csv_chunks(rows: Sequence[VoiceRow], *, bom: bool = False, batch: int = CSV_BATCH) -> Iterator[str]:
    """clones.csv of `rows` in pieces of whole lines (the header, then `batch` rows at a time),
    the bytes `tables.csv_chunks` writes from the same rows' frame."""
    dated = tuple(name in DATE_COLUMNS for name in COLUMNS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for start in range(0, max(len(rows), 1), batch):
        for row in rows[start:start + batch]:
            writer.writerow([_cell(getattr(row, name), date) for name, date in zip(COLUMNS, dated, strict=True)])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        yield ("\ufeff" + text) if bom and not start else text


def _cell(value: Any, date: bool) -> str:
    if date:
        value = _iso(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return str(_safe_cell(value))
    if isinstance(value, float):
        return "" if value != value else repr(value)
    return str(value)  # int, bool
