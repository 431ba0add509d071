"""Probe reuse for periodic scans (`--reuse-probes DURATION`, `[probe] reuse`).

Owns the rule that lets a scan keep an earlier probe instead of paying for a new one, and
the one function that turns an earlier scan's stored rows into `EarlierProbe`s
(`earlier_probes`; the scan pipeline finds and reads that scan through `audit.runs`).

A voice keeps its earlier result (`reusable`) only when all of these hold:
- the earlier scan is of the same account (base URL) and probed the voice with the TTS model
  this scan would use for it (its pool's: `audit.core.pools.probe_model`; a row written
  before rows named their model counts as probed with that scan's `[probe] model`);
- its `voiceId`, `modelIds`, `status` and `language` are what they were then;
- the earlier probe was conclusive (`speaks`, `short-wav`, `silent`: an `error` or a voice
  not probed is probed again) and younger than the window, counted from when its TTS answer
  came back (a reused result keeps its first date, so chained reuse never extends a window).
The result is marked `reused` with that date, and the report says so.

A voice the scan's policy does not probe at all (`--probe none`, or a v3.1 voice under
`--probe legacy`) is not judged on metadata alone when an earlier scan heard it (`carried`):
unchanged since, it keeps that conclusive evidence with its date, however old; changed since
after a probe heard it fail, it is unknown until probed again. A probe made on another pool's
model is no evidence at all (a Pro clone heard on the standard model fails although it works). So a run without probes never
reports a voice a probe heard fail as compliant, nor as fixed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from audit.core.models import Clone, ProbeResult, ProbeVerdict
from audit.core.pools import probe_model

CONCLUSIVE = frozenset({ProbeVerdict.SPEAKS, ProbeVerdict.SHORT_WAV, ProbeVerdict.SILENT})
FAILING = frozenset({ProbeVerdict.SHORT_WAV, ProbeVerdict.SILENT})
#: How far back a scan without probes looks for the evidence it carries: any earlier scan kept.
CARRY_WINDOW = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class EarlierProbe:
    """One voice as an earlier scan saw it, and what its probe found."""

    model_ids: str | None  # space-joined, as the row stores them
    status: str | None
    language: str | None
    result: ProbeResult


def earlier_probes(rows: Iterable[Mapping[str, Any]], parameters: Mapping[str, Any]) -> dict[str, EarlierProbe]:
    """The probes of an earlier scan (its voice rows and parameters, as the pipeline read
    them from the newest recent scan of the account), by voice id, each with the TTS model
    it was made with (the row's, else that scan's `[probe] model`)."""
    probe = parameters.get("probe")
    configured = probe.get("model") if isinstance(probe, Mapping) else None
    try:
        return {str(row["voice_id"]): _earlier(row, configured) for row in rows if row.get("probed_at")}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}  # an unreadable earlier scan only means probing again


def _earlier(row: Mapping[str, Any], configured: Any) -> EarlierProbe:
    size = row.get("probe_bytes")
    model = row.get("probe_model") or configured
    return EarlierProbe(
        model_ids=row.get("model_ids"), status=row.get("status"), language=row.get("language"),
        result=ProbeResult(
            ProbeVerdict(row["probe_verdict"]), str(row.get("probe_reason") or ""),
            http_status=row.get("probe_http_status"), n_bytes=size if isinstance(size, int) else None,
            probed_at=str(row["probed_at"]), model=model if isinstance(model, str) else None,
        ),
    )


def same_model(clone: Clone, earlier: EarlierProbe | None, configured: str) -> EarlierProbe | None:
    """`earlier` when it was probed with the model a probe of `clone` uses now, else None."""
    if earlier is None or earlier.result.model != probe_model(clone.model_ids, configured):
        return None
    return earlier


def reusable(clone: Clone, earlier: EarlierProbe | None, window: timedelta, now: datetime) -> ProbeResult | None:
    """The earlier result, marked reused, if the rule in the module docstring allows it
    (the caller has kept only probes made on the model of the voice's pool: `same_model`)."""
    if earlier is None or earlier.result.verdict not in CONCLUSIVE or earlier.result.probed_at is None:
        return None
    if not _unchanged(clone, earlier):
        return None
    try:
        probed = datetime.fromisoformat(earlier.result.probed_at)
    except ValueError:
        return None
    if probed.tzinfo is None or not timedelta(0) <= now - probed <= window:
        return None
    return replace(earlier.result, reused=True)


def carried(clone: Clone, earlier: EarlierProbe | None) -> ProbeResult | None:
    """The evidence a voice not probed in this run carries from the newest earlier scan: its
    conclusive result (marked reused, with its date) when the voice is unchanged since; when it
    changed after a probe heard it fail, an unknown ("changed since"); else None (metadata)."""
    if earlier is None or earlier.result.verdict not in CONCLUSIVE:
        return None
    if _unchanged(clone, earlier):
        return replace(earlier.result, reused=True)
    if earlier.result.verdict in FAILING:
        when = (earlier.result.probed_at or "an earlier scan")[:10]
        return ProbeResult(ProbeVerdict.ERROR, f"a probe heard it fail ({earlier.result.verdict.value}) on {when}; "
                           "it changed since and was not probed in this run: probe it to know")
    return None


def _unchanged(clone: Clone, earlier: EarlierProbe) -> bool:
    """Whether the clone's `modelIds`, status and language are what the earlier scan saw."""
    model_ids = None if clone.model_ids is None else " ".join(clone.model_ids)
    return (model_ids, clone.raw_status, clone.language) == (earlier.model_ids, earlier.status, earlier.language)
