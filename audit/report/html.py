"""The HTML report: one self-contained file (inline CSS, inline SVG charts, one small inline
script that only sorts and filters; the page reads the same without it, and fetches nothing).

Owns the one Jinja2 environment (autoescape on, StrictUndefined, so a missing value
is an error rather than a blank, and every string shown through `untrusted.visible`, so
a server string's control or bidi characters cannot reorder or hide what the page says) and
the report's view: the run kind's title, heading and headline (`kinds`), the incomplete-scan
banner, the kind's own first section (a plan's actions, forecast and BLOCKED lists first), what
changed since the previous scan, the charts, waivers, then, when given, the plan (actions,
forecast, BLOCKED reasons grouped with copyable ids) and the old → new mapping (before →
after), the listening section (source and new clone side by side, with similarity and
fidelity verdict, linked to clips), the cutover of callers (occurrences found and patched, old ids still called), and
the per-voice tables (findings open, compliant voices collapsed). Streams the page in pieces
(`report_html_chunks`, for the writer) or returns it whole (`render_report_html`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2
import markupsafe

from audit.compliance.changes import HistoryView
from audit.core.models import Action, Compatibility, Fidelity, ProbeVerdict, Verdict
from audit.core.secrets import cut, scrub
from audit.core.untrusted import visible
from audit.migrate.document import Plan
from audit.migrate.state import MappingStatus
from audit.report import charts
from audit.report.kinds import blocked_groups, page
from audit.report.migration import plan_frame
from audit.report.rows import row_summary
from audit.report.tables import CAUSES, FINDINGS, VERDICT_ORDER, Cause, records, summary, voice_rows
from audit.report.text import headline, human_bytes, human_duration, partial, percent, traffic, usage_banner
from audit.report.unchecked import evidence, incomplete, policy
from audit.runs.kind import RunKind
from audit.runs.record import VoiceRow

if TYPE_CHECKING:  # pandas is imported where a frame is built, not when a scan starts
    import pandas as pd

PASSING = (Verdict.COMPLIANT, Verdict.MIGRATED)
#: What the templates compare with: the enums, never a verdict, status or action spelled out.
TEMPLATE_GLOBALS = {e.__name__: e for e in (Verdict, ProbeVerdict, Compatibility, Cause, Action, MappingStatus, Fidelity,
                                            RunKind)}


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("audit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.filters["blank"] = lambda v: "" if v is None else v
    env.filters["bytes"] = human_bytes
    env.filters["duration"] = human_duration
    env.globals["percent"] = percent
    env.globals.update(TEMPLATE_GLOBALS, VERDICT_ORDER=VERDICT_ORDER)
    env.filters["ticks"] = _ticks
    env.filters["truncate"] = _truncate
    return env


def _truncate(value: Any, length: int = 255, killwords: bool = False, end: str = "...", leeway: int | None = None) -> str:
    """Jinja's `truncate`, scrubbed first: a cut that would end in the start of the API key
    (a display name holding it) ends in `****` instead (`secrets.cut`)."""
    text = scrub(str(value))
    short = jinja2.filters.do_truncate(jinja2.Environment(), text, length, killwords, end, leeway)
    if short == text or not short.endswith(end):
        return short
    kept = short[: len(short) - len(end)]
    return cut(text, len(kept)) + end


def _ticks(text: str) -> markupsafe.Markup:
    """Escaped text whose `back-ticked` parts are shown as code (the headline's command)."""
    parts = visible(text).split("`")
    return markupsafe.Markup("").join(
        markupsafe.Markup("<code>{}</code>").format(part) if i % 2 else markupsafe.escape(part)
        for i, part in enumerate(parts)
    )


def _finalize(value: Any) -> Any:
    """Every string a template prints that is not markup already: through `untrusted.visible`."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value, keep_lines=True)
    return value


def render_report_html(*args: Any, **kwargs: Any) -> str:
    """The whole page as one string: `report_html_chunks` (same arguments), joined."""
    return "".join(report_html_chunks(*args, **kwargs))


def report_html_chunks(
    meta: Mapping[str, Any],
    frame: pd.DataFrame | None,
    plan: Plan | None = None,
    mapping: pd.DataFrame | None = None,
    context: HistoryView | None = None,
    before: Mapping[str, Any] | None = None,
    cutover: Mapping[str, Any] | None = None,
    listen: Sequence[Mapping[str, Any]] | None = None,
    rows: Sequence[VoiceRow] | None = None,
) -> Iterator[str]:
    """The report page as the template streams it, for a writer that never holds the whole page.
    `before`: the summary of the scan a migration started from, for the before → after view.
    `rows`: the frame's rows as a run record keeps them, when the writer has them already (one
    compact row per voice, never a dict per voice); else they are made from the frame. No frame:
    the page is made from `rows` alone (a scan's, without pandas)."""
    if frame is None:
        rows = rows or ()
        counts = row_summary(rows)
    else:
        counts = summary(frame)
        if rows is None:
            rows = voice_rows(frame)
    changes = context.changes if context else None
    usage = _usage_by_verdict(rows)
    window = meta.get("usage")
    mapping_rows = None if mapping is None else records(mapping)
    said = headline(counts, changes, usage, traffic(rows, window), partial=partial(meta))
    kind = page(meta, counts, plan, mapping_rows, said)
    view = {
        "meta": meta,
        "summary": counts,
        "page": kind,
        "headline": kind.headline,
        "incomplete": incomplete(rows),
        "evidence": evidence(rows, policy(meta)),
        "usage": window,
        "usage_banner": usage_banner(window),
        "findings": [r for r in rows if r.verdict in FINDINGS],
        "waived": [r for r in rows if r.verdict == Verdict.EXCEPTED],
        "passing": [r for r in rows if r.verdict in PASSING],
        "languages": sorted({r.language for r in rows if r.language}),
        "causes": [c for c in CAUSES if any(r.cause == c for r in rows)],
        "linked": {r.voice_id for r in rows if r.replaces or r.replaced_by},
        "changes": changes,
        "gone": [(v, changes.names.get(v, "")) for v in changes.gone] if changes else [],
        "exceptions": meta.get("exceptions"),
        "charts": {
            "causes": charts.bars(counts["cause"], "Voices that fail or could not be checked, by cause"),
            "sizes": charts.size_histogram(
                [(r.probe_bytes, r.probe_verdict) for r in rows if r.probe_bytes is not None],
                "Size of each probe answer (log scale): the short-WAV cluster sits far left"),
            "trend": charts.trend(list(context.trend) if context else [], "Compliant share across scans"),
            "usage": charts.bars(usage, "TTS characters served, by verdict", unit="characters") if usage else None,
            "called": _called_chart(rows, window),
        },
        "plan": None if plan is None else _plan_view(plan),
        "mapping": mapping_rows,
        "before": before,
        "cutover": cutover,
        "listen": listen,
    }
    return environment().get_template("report.html").generate(**view)


def _usage_by_verdict(rows: Sequence[VoiceRow]) -> dict[str, int] | None:
    """TTS characters served per verdict, when the rows carry usage numbers (`usage_chars`)."""
    served: Counter[str] = Counter()
    for row in rows:
        if row.usage_chars is not None:
            served[row.verdict] += int(row.usage_chars)
    return dict(served) or None


#: The usage chart shows at most this many non-compliant voices, the most called.
CALLED_CHART_VOICES = 15


def _called_chart(rows: Sequence[VoiceRow], window: Mapping[str, Any] | None) -> markupsafe.Markup | None:
    """Calls to each non-compliant voice still called in the usage window, most called first."""
    called = [r for r in rows if r.verdict == Verdict.NON_COMPLIANT and (r.usage_calls or 0) > 0]
    called.sort(key=lambda r: -int(r.usage_calls or 0))
    bars: dict[str, int] = {}
    for row in called[:CALLED_CHART_VOICES]:
        label = visible(str(row.display_name or row.voice_id))[:18]
        while label in bars:  # two voices of one name: tell them apart
            label += "·"
        bars[label] = int(row.usage_calls or 0)
    days = (window or {}).get("days")
    return charts.bars(bars, f"Calls to non-compliant voices in the last {days} days", colour="#b3261e", unit="calls")


def _plan_view(plan: Plan) -> dict[str, Any]:
    entries = records(plan_frame(plan))
    return {
        "id": plan.plan_id,
        "expires_at": plan.expires_at.isoformat(timespec="seconds"),
        "totals": plan.totals(),
        "forecast": plan.forecast,
        "entries": [e for e in entries if e["action"] != Action.KEEP.value],
        "kept": [e for e in entries if e["action"] == Action.KEEP.value],
        "blocked": blocked_groups(plan),
        "usage": plan.parameters.get("usage") if any(e.recent_calls is not None for e in plan.entries) else None,
    }
