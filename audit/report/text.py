"""Words and numbers a person reads: the headline, the usage banner, sizes and durations.

Pure. `headline` is the one sentence at the top of every report saying where the account
stands and what to do next; `traffic` says how many failing voices are still called (from a
scan's usage numbers), `usage_banner` what an incomplete read of the TTS log leaves unknown;
what could not be checked is `audit.report.unchecked`'s; `human_bytes` (`240 MB`) and `human_duration` (`4 h 35 min`) format numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from audit.compliance.changes import Changes
from audit.core.errors import ExitCode
from audit.core.models import Verdict
from audit.report.tables import Cause

PLAN_COMMAND = "clone-audit plan --archive DIR"
#: The causes of a voice that answers silence (as opposed to one that does not work at all).
SILENCE = (Cause.SHORT_WAV, Cause.SILENT)


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


def partial(meta: Mapping[str, Any]) -> bool:
    """Whether a run (run.json's head) exited 4: voices it could not check, so it is scanned again
    before anything is planned from it."""
    return meta.get("exit_code") == ExitCode.PARTIAL


def headline(summary: Mapping[str, Any], changes: Changes | None = None,
             usage: Mapping[str, int] | None = None, calls: str | None = None, *, partial: bool = False) -> str:
    """Where the account stands and what to do next, in one or two sentences.
    `usage` (verdict → TTS characters served) adds how much traffic the failing voices carry;
    `calls` (`traffic`'s sentence) how many of them are still called, before anything else;
    `partial`: the run exited 4 (voices it could not check), so it is scanned again before planning."""
    total, verdicts, causes = summary["total"], summary["verdict"], summary.get("cause", {})
    bad, unknown = verdicts.get(Verdict.NON_COMPLIANT, 0), verdicts.get(Verdict.UNKNOWN, 0)
    excepted = verdicts.get(Verdict.EXCEPTED, 0)
    if total == 0:
        sentence = "No voice clone on this account."
    elif bad:
        silent = causes.get(Cause.SHORT_WAV, 0) + causes.get(Cause.SILENT, 0)
        what = "answer silence" if silent * 2 >= bad else "do not work"
        sentence = (f"{bad:,} of {total:,} voices ({percent(bad, total)}) {what} on v3.1; "
                    f"re-clone them from their recordings: `{PLAN_COMMAND}`.")
        if calls:  # the traffic they still get comes before what to do about it
            sentence = (f"{bad:,} of {total:,} voices ({percent(bad, total)}) {what} on v3.1. {calls} "
                        f"Re-clone them from their recordings, most called first: `{PLAN_COMMAND}`.")
        elif usage and usage.get(Verdict.NON_COMPLIANT):
            sentence += f" They served {usage[Verdict.NON_COMPLIANT]:,} TTS characters in the usage window."
        if partial and unknown:  # plan from a whole scan: what could not be checked is checked first
            sentence = (f"{bad:,} of {total:,} voices ({percent(bad, total)}) {what} on v3.1, and {unknown:,} "
                        "could not be checked: scan again (see why below), then plan re-cloning from the whole scan.")
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
        before = changes.before.get(Verdict.NON_COMPLIANT, 0)
        sentence += (f" Since the scan of {str(changes.previous_at)[:10]}: non-compliant {before:,} → {bad:,}"
                     + (f" ({moved})." if moved else ", nothing changed."))
    return sentence


def traffic(rows: Iterable[Mapping[str, Any]], window: Mapping[str, Any] | None) -> str | None:
    """How many non-compliant voices still got calls in a scan's usage window, and how many
    calls: "9 of the 28 answer silence to real callers: 1,204 calls in 7 days." None without
    usage numbers or without a non-compliant voice. An incomplete read gives lower bounds."""
    if not window or window.get("error"):
        return None
    failing = [r for r in rows if r.get("verdict") == Verdict.NON_COMPLIANT]
    if not failing:
        return None
    called = [r for r in failing if _calls(r) > 0]
    n_calls = sum(_calls(r) for r in called)
    silent = sum(1 for r in failing if r.get("cause") in SILENCE)
    what = "answer silence to" if silent * 2 >= len(failing) else "fail"
    days = _days(window.get("days"))
    if not window.get("complete"):
        covered = str(window.get("covered_since") or "")[:10]
        read = f"the TTS log was read back only to {covered}" if covered else "the TTS log could not be read back"
        return (f"At least {len(called):,} of the {len(failing):,} {what} real callers: at least "
                f"{n_calls:,} calls in {days} ({read}).")
    if not called:
        return f"None of the {len(failing):,} was called in the last {days}."
    return f"{len(called):,} of the {len(failing):,} {what} real callers: {n_calls:,} calls in {days}."


def usage_banner(window: Mapping[str, Any] | None) -> str | None:
    """What an incomplete or failed read of the TTS analytics log leaves unknown; None when
    the read was complete (or usage was not asked for)."""
    if not window or window.get("complete"):
        return None
    days = _days(window.get("days"))
    if window.get("error"):
        return f"Usage over the last {days} is unknown: the TTS analytics log could not be read ({window['error']})."
    covered = str(window.get("covered_since") or "")[:16].replace("T", " ")
    reach = f"back to {covered} UTC" if covered else "at all"
    return (f"Usage over the last {days} is incomplete: the TTS analytics log was read {reach} "
            f"({window.get('pages', 0):,} pages, the page limit or an unordered log). Counts are lower "
            "bounds, and a voice without a count is not known to be quiet. Raise [report] usage_max_pages.")


def _calls(row: Mapping[str, Any]) -> int:
    value = row.get("usage_calls")
    return 0 if value is None or value != value else int(value)


def _days(days: Any) -> str:
    return "1 day" if days == 1 else f"{days} days"
