"""What a run could not check, and what its verdicts rest on: one count, causes, advice.

Pure. `incomplete` counts the voices whose verdict is `unknown` (the same number as the
summary table and the headline: "N of M voices could not be checked") and groups them by
cause, each with the advice that fits it (a 429 → a lower --concurrency, a timeout → a
longer [api] timeout_s or later, refused connections → the network and the API's status, a
5xx → later, an answer over its byte cap → what that means, …). `evidence` says how many
verdicts rest on metadata alone or on an earlier scan's probe (with its date) when probes were
off or partial. `terminal_lines` is the same for stderr at the end of a run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from audit.core.models import LISTED_TWICE, ProbePolicy, ProbeVerdict, Verdict
from audit.report.tables import Cause

#: Each cause: (label, advice). The key is what `_cause` returns.
CAUSES: dict[str, tuple[str, str]] = {
    "429": ("refused as over the account's concurrency limit (HTTP 429)",
            "scan again with a lower --concurrency (or [api] concurrency; 1 on the default plan)"),
    "timeout": ("no answer in time",
                "the API was slow: scan again later, or raise [api] timeout_s"),
    "slow-body": ("the answer was still arriving at the deadline",
                  "the network or the API is slow: scan again later, or raise [api] timeout_s"),
    "connection": ("connection refused or dropped",
                   "check the network and the API's status page, then scan again"),
    "5xx": ("the API failed on its side (HTTP 5xx)", "scan again later"),
    "oversize": ("the answer was larger than any speech of one sentence (over the byte cap)",
                 "the API streamed far more audio than one probe sentence needs, so it was cut off unjudged; "
                 "scan again, and report it with its X-Request-Id if it persists"),
    "not-audio": ("HTTP 200 but no usable audio (empty, JSON, HTML or undecodable)",
                  "something between you and the API (a proxy) or the API itself answered without audio; "
                  "scan again, and report it with its X-Request-Id if it persists"),
    "refused-4xx": ("the request was refused (HTTP 4xx)",
                 "check the voice in the dashboard (its language, its status), then scan again"),
    "still-creating": ("the clone is still being created", "scan again once it has completed"),
    "changed": ("a probe heard it fail before, and it changed since",
                "scan with probes on (--probe all) to know"),
    "unprobed": ("not probed, and its metadata does not say", "scan with probes on (--probe all) to know"),
    "list": ("the clone list could not be read for it (unreadable or repeated entry)",
             "check the account in the dashboard, and ask support to fix the list if it persists"),
    "other": ("another error", "scan again; run with -v to see each error"),
}


def incomplete(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The voices that could not be checked (verdict `unknown`), grouped by cause with advice."""
    voices = _voices(rows)
    causes: Counter[str] = Counter(_cause(r) for r in voices if r.get("verdict") == Verdict.UNKNOWN)
    if not causes:
        return None
    count = sum(causes.values())
    groups = [{"cause": key, "label": CAUSES[key][0], "count": n, "advice": CAUSES[key][1]}
              for key, n in causes.most_common()]
    return {"count": count, "total": len(voices), "causes": groups,
            "sentence": f"{count:,} of {len(voices):,} voices could not be checked"}


def terminal_lines(gap: Mapping[str, Any] | None) -> list[str]:
    """The incomplete-run banner as lines for stderr."""
    if not gap:
        return []
    lines = [f"Incomplete: {gap['sentence']}; they are unknown, never counted as compliant."]
    lines += [f"  {g['count']:,} × {g['label']}: {g['advice']}." for g in gap["causes"]]
    return lines


def evidence(rows: Iterable[Mapping[str, Any]], policy: str | None) -> str | None:
    """When probes were off or partial: how many verdicts rest on metadata alone, and how many
    on an earlier scan's probe (with its date). None when every verdict rests on a probe of this run."""
    voices = [r for r in _voices(rows) if r.get("verdict") != Verdict.UNKNOWN]
    metadata = sum(1 for r in voices  # a clone failed on the account needs no probe: its status says it
                   if r.get("probe_verdict") == ProbeVerdict.NOT_PROBED and r.get("cause") != Cause.FAILED_CLONE)
    earlier = [r for r in voices if r.get("probe_reused") and r.get("probed_at")]
    if not metadata and not earlier:
        return None
    parts = []
    if metadata:
        parts.append(f"{metadata:,} rest on metadata alone (its modelIds, never heard)")
    if earlier:
        dates = sorted(str(r["probed_at"])[:10] for r in earlier)
        when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
        parts.append(f"{len(earlier):,} on an earlier scan's probe ({when})")
    off = "Probes were off (--probe none)" if policy == ProbePolicy.NONE else "Not every voice was probed in this run"
    return f"{off}: of {len(voices):,} verdicts, {' and '.join(parts)}. Scan with --probe all to hear every voice now."


def policy(meta: Mapping[str, Any]) -> str | None:
    """The probe policy a run's parameters name (`all`, `legacy`, `none`), if any."""
    parameters = meta.get("parameters")
    probe = parameters.get("probe") if isinstance(parameters, Mapping) else None
    value = probe.get("policy") if isinstance(probe, Mapping) else None
    return None if value is None else str(value)


def _voices(rows: Iterable[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The voices, without replacement clones whose original is listed (as the summary counts)."""
    rows = list(rows)
    ids = {r.get("voice_id") for r in rows}
    return [r for r in rows if not (r.get("replaces") and r.get("replaces") in ids)]


def _cause(row: Mapping[str, Any]) -> str:
    reason = str(row.get("reason") or "")
    probe = str(row.get("probe_reason") or "")
    if reason.startswith("the clone list holds an entry") or reason.startswith(LISTED_TWICE):
        return "list"
    if row.get("cause") == Cause.PENDING:
        return "still-creating"
    if row.get("probe_verdict") == ProbeVerdict.NOT_PROBED:
        return "unprobed"
    if "changed since and was not probed" in probe:
        return "changed"
    return _probe_cause(probe, row.get("probe_http_status"))


def _probe_cause(reason: str, status: Any) -> str:
    code = status if isinstance(status, int) else None
    if code is None and (found := re.search(r"\b(?:HTTP|answered) (\d{3})\b", reason)):
        code = int(found.group(1))
    if "over the" in reason and "byte cap" in reason:
        return "oversize"
    if "still arriving" in reason:
        return "slow-body"
    if code == 429:
        return "429"
    if code is not None and code >= 500:
        return "5xx"
    if code == 200:
        return "not-audio"
    if code is not None and 400 <= code < 500:
        return "refused-4xx"
    if "cannot connect" in reason or "ConnectError" in reason or "went away" in reason:
        return "connection"
    if "no answer within" in reason or "Timeout" in reason:
        return "timeout"
    if any(kind in reason for kind in ("RemoteProtocolError", "ReadError", "WriteError", "NetworkError")):
        return "connection"
    return "other"
