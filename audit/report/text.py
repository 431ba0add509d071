"""Words and numbers a person reads: the headline, the incomplete-scan banner, sizes and durations.

Pure. `headline` is the one sentence at the top of every report saying where the account
stands and what to do next; `incomplete` says how many voices could not be checked and
why, grouped; `human_bytes` (`240 MB`) and `human_duration` (`4 h 35 min`) format numbers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from audit.compliance.changes import Changes

PLAN_COMMAND = "clone-audit plan --archive DIR"


def human_bytes(n: float | None) -> str:
    if n is None or n != n:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1000 or unit == "TB":
            break
        value /= 1000
    else:
        unit = "TB"
    return f"{value:.0f} {unit}" if unit == "B" or value >= 10 else f"{value:.1f} {unit}"


def human_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return ""
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "0 %"


def headline(summary: Mapping[str, Any], changes: Changes | None = None,
             usage: Mapping[str, int] | None = None) -> str:
    """Where the account stands and what to do next, in one or two sentences.
    `usage` (verdict → TTS characters served) adds how much traffic the failing voices carry."""
    total, verdicts, causes = summary["total"], summary["verdict"], summary.get("cause", {})
    bad, unknown, excepted = verdicts.get("non-compliant", 0), verdicts.get("unknown", 0), verdicts.get("excepted", 0)
    if total == 0:
        sentence = "No voice clone on this account."
    elif bad:
        silent = causes.get("short-wav", 0) + causes.get("silent", 0)
        what = "answer silence" if silent * 2 >= bad else "do not work"
        sentence = (f"{bad:,} of {total:,} voices ({percent(bad, total)}) {what} on v3.1; "
                    f"re-clone them from their recordings: `{PLAN_COMMAND}`.")
        if usage and usage.get("non-compliant"):
            sentence += f" They served {usage['non-compliant']:,} TTS characters in the usage window."
    elif unknown:
        sentence = (f"No voice is known to fail on v3.1, but {unknown:,} of {total:,} could not be checked: "
                    "scan again (see why below).")
    else:
        sentence = f"All {total:,} voices work on v3.1."
    if excepted:
        sentence += f" {excepted:,} more are excepted by a waiver."
    if changes is not None and changes.previous_run_id:
        c = changes.counts()
        moved = ", ".join(f"{n:,} {label.replace('_', ' ')}" for label, n in c.items() if n and label != "still_failing")
        before = changes.before.get("non-compliant", 0)
        sentence += (f" Since the scan of {str(changes.previous_at)[:10]}: non-compliant {before:,} → {bad:,}"
                     + (f" ({moved})." if moved else ", nothing changed."))
    return sentence


def incomplete(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """How many voices could not be checked (a probe error, not waived) and why, grouped."""
    reasons: Counter[str] = Counter()
    for row in rows:
        if row.get("probe_verdict") == "error" and row.get("verdict") != "excepted":
            reasons[_reason_group(str(row.get("probe_reason") or row.get("reason") or ""))] += 1
    if not reasons:
        return None
    return {"count": sum(reasons.values()), "reasons": reasons.most_common()}


def _reason_group(reason: str) -> str:
    status = re.search(r"\bHTTP (\d{3})\b", reason)
    if status:
        return f"HTTP {status.group(1)}"
    return re.sub(r"\d+(\.\d+)?", "N", reason.split(":")[0])[:60] or "unknown error"
