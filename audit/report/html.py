"""The HTML report: one self-contained file (inline CSS, no script, no external asset).

Owns the one Jinja2 environment (autoescape on, StrictUndefined, so a missing value
is an error rather than a blank, and every string shown through `untrusted.visible`, so
a server string's control or bidi characters cannot reorder or hide what the page says)
and the report's rendering: the scan's verdicts, then, when given, the plan (actions,
forecast), the old → new mapping, the listening section (source and new clone side by side,
with similarity and fidelity verdict, linked to clips beside the report) and the cutover of
callers (occurrences found and patched, old ids still called). Returns `str`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import jinja2
import markupsafe
import pandas as pd

from audit.core.untrusted import visible
from audit.migrate.document import Plan
from audit.report.migration import plan_frame
from audit.report.tables import records, summary


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("audit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters["blank"] = lambda v: "" if v is None else v
    return env


def _shown(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value, keep_lines=True)
    return value


def render_report_html(
    meta: Mapping[str, Any],
    frame: pd.DataFrame,
    plan: Plan | None = None,
    mapping: pd.DataFrame | None = None,
    cutover: Mapping[str, Any] | None = None,
    listen: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    return environment().get_template("report.html").render(
        meta=meta,
        summary=summary(frame),
        voices=records(frame),
        plan=None if plan is None else {
            "id": plan.plan_id,
            "expires_at": plan.expires_at.isoformat(timespec="seconds"),
            "totals": plan.totals(),
            "forecast": plan.forecast,
            "entries": records(plan_frame(plan)),
        },
        mapping=None if mapping is None else records(mapping),
        cutover=cutover,
        listen=listen,
    )
