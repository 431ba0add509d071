"""Per-voice rows and summary counts, as plain data and as pandas frames.

Owns the columns of clones.csv and of run.json's `voices`, their order (failures
first), the summary counts, and CSV rendering (RFC 4180, with spreadsheet-formula
cells neutralised so a hostile display name cannot run in Excel, and control and bidi
characters (but newline and tab) shown as escapes (`untrusted.visible`) so a cell cannot act on a terminal or
hide what it says; run.json keeps every string exactly).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from audit.core.models import ProbeResult, ProbeVerdict, VoiceResult
from audit.core.untrusted import visible

COLUMNS: tuple[str, ...] = (
    "voice_id", "display_name", "model_ids", "status", "language", "created_at", "age_days",
    "compatibility", "probe_verdict", "probe_http_status", "probe_bytes", "probe_duration_s",
    "probe_rms_dbfs", "probe_reason", "verdict", "reason", "evidence", "probed_at", "probe_reused",
)  # fmt: skip

#: Order of the report: what needs attention first.
VERDICT_ORDER = ("non-compliant", "unknown", "excepted", "migrated", "compliant")
PROBE_ORDER = ("short-wav", "silent", "error", "speaks", "not-probed")
COMPAT_ORDER = ("legacy-only", "unknown", "v3.1")
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
        "probe_verdict": probe.verdict.value,
        "probe_http_status": probe.http_status,
        "probe_bytes": probe.n_bytes,
        "probe_duration_s": None if stats is None else round(stats.duration_s, 3),
        "probe_rms_dbfs": None if stats is None else stats.rms_dbfs,
        "probe_reason": probe.reason,
        "verdict": result.verdict.value,
        "reason": result.reason,
        "evidence": result.evidence or None,  # what a `migrated` verdict rests on
        "probed_at": probe.probed_at,  # when the TTS answer came back (an earlier run's, if reused)
        "probe_reused": probe.reused,
    }


def voice_frame(results: Iterable[VoiceResult], now: datetime) -> pd.DataFrame:
    """One row per voice, failures first, then by display name."""
    frame = pd.DataFrame([voice_row(r, now) for r in results], columns=list(COLUMNS))
    frame = frame.astype({"probe_http_status": "Int64", "probe_bytes": "Int64", "age_days": "Int64"})
    keys = frame.assign(
        _rank=frame["verdict"].map({v: i for i, v in enumerate(VERDICT_ORDER)}),
        _name=frame["display_name"].fillna("").str.strip().str.casefold(),
    )
    ordered = keys.sort_values(["_rank", "_name", "voice_id"], kind="stable")
    return frame.loc[ordered.index].reset_index(drop=True)


def summary(frame: pd.DataFrame) -> dict[str, Any]:
    def counts(column: str, order: Sequence[str]) -> dict[str, int]:
        found = frame[column].value_counts().to_dict()
        return {key: int(found.get(key, 0)) for key in order}

    return {
        "total": len(frame),
        "verdict": counts("verdict", VERDICT_ORDER),
        "probe_verdict": counts("probe_verdict", PROBE_ORDER),
        "compatibility": counts("compatibility", COMPAT_ORDER),
    }


def render_csv(frame: pd.DataFrame) -> str:
    safe = frame.map(_safe_cell)
    return safe.to_csv(index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: missing values become null, numbers stay numbers."""
    return json.loads(frame.to_json(orient="records", force_ascii=False))


def render_json(meta: Mapping[str, Any], frame: pd.DataFrame) -> str:
    document = {**meta, "summary": summary(frame), "voices": records(frame)}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def probe_from_row(row: Mapping[str, Any]) -> ProbeResult:
    """A stored row's probe result, as a later run reuses it (audio stats are not kept)."""

    def number(key: str) -> int | None:
        value = row.get(key)
        return None if value is None or value != value else int(value)  # NaN from pandas

    return ProbeResult(
        verdict=ProbeVerdict(row["probe_verdict"]),
        reason=str(row.get("probe_reason") or ""),
        http_status=number("probe_http_status"),
        n_bytes=number("probe_bytes"),
        probed_at=row.get("probed_at") or None,
    )


def _safe_cell(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_START):
        value = "'" + value
    return visible(value, keep_lines=True)


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
