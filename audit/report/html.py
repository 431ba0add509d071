"""The HTML report: one self-contained file (inline CSS, no script, no external asset).

Owns the one Jinja2 environment (autoescape on, StrictUndefined, so a missing value
is an error rather than a blank) and the scan report's rendering. Returns `str`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2
import pandas as pd

from .tables import records, summary


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("audit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["blank"] = lambda v: "" if v is None else v
    return env


def render_scan_html(meta: Mapping[str, Any], frame: pd.DataFrame) -> str:
    return environment().get_template("scan.html").render(
        meta=meta, summary=summary(frame), voices=records(frame)
    )
