"""The report as Markdown, for a ticket or a pull request: pure, data in, `str` out.

The headline, the incomplete-scan warning, the counts, what changed since the previous
scan, and the findings (non-compliant and unknown voices, at most MAX_ROWS; the rest are
in clones.csv), then the excepted voices. Server strings are shown through
`untrusted.visible` and Markdown's table characters are escaped, so a display name cannot
break the table or hide text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from audit.compliance.changes import HistoryView
from audit.core.models import Verdict
from audit.core.untrusted import visible
from audit.report.tables import FINDINGS, records, summary
from audit.report.text import headline, human_bytes, incomplete
from audit.runs.kind import RunKind

MAX_ROWS = 200
_SPECIAL = str.maketrans({"|": "\\|", "`": "\\`", "*": "\\*", "_": "\\_", "<": "&lt;", ">": "&gt;",
                          "[": "\\[", "]": "\\]", "\n": " ", "\r": " "})


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return visible(str(value)).translate(_SPECIAL)


def render_markdown(meta: Mapping[str, Any], frame: pd.DataFrame, context: HistoryView | None = None) -> str:
    counts = summary(frame)
    rows = records(frame)
    changes = context.changes if context else None
    lines = [
        f"## clone-audit {cell(meta.get('kind', RunKind.SCAN))} {code(meta.get('run_id'))}",
        "",
        f"{cell(meta.get('finished_at'))} · API {code(meta.get('base_url'))} · exit code {meta.get('exit_code')}",
        "",
        f"**{headline(counts, changes)}**",
        "",
    ]
    gap = incomplete(rows)
    if gap:
        why = ", ".join(f"{cell(reason)} ×{n}" for reason, n in gap["reasons"])
        lines += [f"> **Incomplete scan:** {gap['count']} voice(s) could not be checked ({why}); they count as "
                  "unknown and the run exits 4.", ""]
    lines += ["| verdict | voices |", "|---|---:|"]
    lines += [f"| {v} | {n} |" for v, n in counts["verdict"].items() if n]
    lines += [f"| **total** | **{counts['total']}** |", ""]
    if changes is not None and changes.previous_run_id:
        lines += [f"Since scan {code(changes.previous_run_id)} ({cell(changes.previous_at)}): "
                  + ", ".join(f"{n} {label.replace('_', ' ')}" for label, n in changes.counts().items()) + ".", ""]
    findings = [r for r in rows if r["verdict"] in FINDINGS]
    lines += _table("Findings", findings)
    lines += _table("Excepted by waiver", [r for r in rows if r["verdict"] == Verdict.EXCEPTED])
    return "\n".join(lines).rstrip() + "\n"


def code(value: Any) -> str:
    """A server string inside a code span: no backtick can close it, no pipe can split the table."""
    return "`" + visible(str(value)).replace("`", "'").replace("|", "\\|") + "`"


def _table(title: str, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    out = [f"### {title} ({len(rows)})", "", "| verdict | cause | voice | id | lang | pool | probe | bytes | reason |",
           "|---|---|---|---|---|---|---|---:|---|"]
    out += [_row(r) for r in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out.append(f"\n… and {len(rows) - MAX_ROWS} more: see clones.csv.")
    return [*out, ""]


def _row(r: Mapping[str, Any]) -> str:
    values: Iterable[str] = (
        cell(r["verdict"]), cell(r["cause"]), cell(r["display_name"])[:60], code(r["voice_id"]),
        cell(r["language"]), cell(r.get("pool")), cell(r["probe_verdict"]), cell(human_bytes(r["probe_bytes"])), cell(r["reason"])[:160],
    )
    return "| " + " | ".join(values) + " |"
