"""The report as Markdown, for a ticket or a pull request: pure, data in, `str` out.

The first heading and headline of the run's kind (`kinds`), the incomplete-run warning (one
count, causes and advice), what the verdicts rest on when probes were off or partial, the
kind's own first section (a plan's actions, forecast, BLOCKED ids and every voice it acts on;
an apply's states; a review's decisions; what a retire did; a cutover's counts; the old ids
called), the counts, what changed since the previous scan, and the findings (non-compliant
and unknown voices, at most MAX_ROWS; the rest are
in clones.csv), then the excepted voices. Server strings are shown through
`untrusted.visible` and Markdown's table characters are escaped, so a display name cannot
break the table or hide text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from audit.compliance.changes import HistoryView
from audit.core.models import Action, Verdict
from audit.core.untrusted import visible
from audit.migrate.document import Plan
from audit.migrate.state import MappingStatus
from audit.report.kinds import KindPage, blocked_groups, page
from audit.report.migration import plan_frame
from audit.report.tables import FINDINGS, records, summary
from audit.report.text import headline, human_bytes, human_duration, partial
from audit.report.unchecked import evidence, incomplete, policy
from audit.runs.kind import RunKind

if TYPE_CHECKING:  # pandas is imported where a frame is built, not when a scan starts
    import pandas as pd

MAX_ROWS = 200
_SPECIAL = str.maketrans({"|": "\\|", "`": "\\`", "*": "\\*", "_": "\\_", "<": "&lt;", ">": "&gt;",
                          "[": "\\[", "]": "\\]", "\n": " ", "\r": " "})


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return visible(str(value)).translate(_SPECIAL)


def render_markdown(meta: Mapping[str, Any], frame: pd.DataFrame, context: HistoryView | None = None, *,
                    plan: Plan | None = None, mapping: Sequence[Mapping[str, Any]] | None = None) -> str:
    counts = summary(frame)
    rows = records(frame)
    changes = context.changes if context else None
    kind = page(meta, counts, plan, mapping, headline(counts, changes, partial=partial(meta)))
    lines = [
        f"## clone-audit {cell(kind.kind)} {code(meta.get('run_id'))} · {cell(kind.heading)}",
        "",
        f"{cell(meta.get('finished_at'))} · API {code(meta.get('base_url'))} · exit code {meta.get('exit_code')}",
        "",
        f"**{kind.headline}**",
        "",
        *([cell(meta["gate"].get("summary")), ""] if isinstance(meta.get("gate"), dict) else []),
    ]
    # a scan warns first; any other kind leads with its own section, then what its scan could not tell
    if kind.kind is RunKind.SCAN:
        lines += _warnings(rows, meta, of_scan=False)
    lines += kind_section(kind, plan)
    if kind.kind is not RunKind.SCAN:
        lines += ["### Voices of the plan's scan, as they stand", ""]
        lines += _warnings(rows, meta, of_scan=True)
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


def _warnings(rows: list[dict[str, Any]], meta: Mapping[str, Any], *, of_scan: bool) -> list[str]:
    """What the voices' verdicts could not tell (one count, by cause with advice) and what they
    rest on; `of_scan`: on a page of another kind, they speak of the plan's scan."""
    about, whose = ("in the plan's scan, ", " of the plan's scan") if of_scan else ("", "")
    lines: list[str] = []
    if gap := incomplete(rows):
        lines += [f"> **Incomplete:** {about}{gap['sentence']}; they count as unknown, never as compliant.", ">"]
        lines += [f"> - {g['count']:,} × {cell(g['label'])}: {cell(g['advice'])}." for g in gap["causes"]]
        lines += [""]
    if basis := evidence(rows, policy(meta)):
        lines += [f"> **Evidence{whose}:** {cell(basis)}", ""]
    return lines


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


def kind_section(kind: KindPage, plan: Plan | None) -> list[str]:
    """The first section of a run that is not a scan: what its kind did (a scan's is its verdicts)."""
    s = kind.section
    out: list[str]
    match kind.kind:
        case RunKind.SCAN:
            return []
        case RunKind.PLAN:
            return _plan_section(plan) if plan is not None else []
        case RunKind.APPLY:
            out = [f"### Where each re-clone stands ({s['reclone']} in the plan)", "", "| state | voices |", "|---|---:|"]
            out += [f"| {label} | {s[key]} |" for key, label in (
                ("verified", "verified"), ("mismatches", MappingStatus.MISMATCH.value), ("failures", MappingStatus.FAILED.value),
                ("in_progress", "in progress"), ("not_started", "not started"))]
            if s.get("blocked"):
                out.append(f"| BLOCKED in the plan | {s['blocked']} |")
        case RunKind.REVIEW:
            out = [f"### Decisions taken by {cell(s.get('by'))} ({len(s['decisions'])})", "",
                   "| decision | old voice | new voice | similarity | by | when |", "|---|---|---|---:|---|---|"]
            out += [f"| {cell(d['decision'])} | {code(d['old_voice_id'])} | {code(d['new_voice_id'] or '')} | "
                    f"{cell(d['similarity'])} | {cell(d['reviewed_by'])} | {cell(d['reviewed_at'])} |" for d in s["decisions"]]
        case RunKind.RETIRE:
            out = ["### What retire did", "", f"- deleted: {len(s['deleted'])}",
                   f"- to delete in the dashboard: {len(s['for_dashboard'])}"
                   + (f" (saved in {code(s['dashboard_file'])} beside this report)" if s.get("dashboard_file") else ""),
                   f"- kept: {len(s['kept'])}"]
            if s["for_dashboard"]:
                out += ["", f"#### To delete in the dashboard ({len(s['for_dashboard'])})", "", "```",
                        *(visible(str(v)).replace("`", "'") for v in s["for_dashboard"]), "```"]
            if s["kept"]:
                out += ["", f"#### Kept, and why ({len(s['kept'])})", ""]
                out += [f"- {code(k['voice_id'])}: {cell(k['why'])}" for k in s["kept"]]
        case RunKind.CUTOVER:
            left = s["occurrences_left"]
            since = " since the rollback" if s["rolled_back"] is not None else ""
            files_part = s["occurrences_found"] is not None or s["rolled_back"] is not None \
                or s["agent_places_left"] is None and s["agent_branches_restored"] is None
            out = ["### This cutover run", "", "| | |", "|---|---:|"]
            if files_part:
                out.append(f"| occurrences left | {f'not known{since}' if left is None else left} |")
            if s["written"] is not None:
                out.append(f"| replacements written | {s['written']} ({s['files_written']} files) |")
            if s["rolled_back"] is not None:
                out.append(f"| files rolled back | {s['rolled_back']} ({s['occurrences_restored']} old ids back) |")
            if s["agent_places_left"] is not None:
                out.append(f"| places in voice agents' configs left | {s['agent_places_left']} "
                           f"(of {s['agent_places_found']} found) |")
            if s["agent_branches_switched"] is not None:
                out.append(f"| agent branches switched | {s['agent_branches_switched']} "
                           f"({s['agent_branches_not_switched']} not) |")
            if s["agent_branches_restored"] is not None:
                out.append(f"| agent branches rolled back | {s['agent_branches_restored']} "
                           f"({s['agent_branches_left']} left) |")
        case RunKind.USAGE:
            out = [f"### Old voice ids called since {cell(str(s.get('since') or '')[:10])}: "
                   f"{len(s['called'])} of {s['old_ids']}", ""]
            out += [f"- {code(c['old_voice_id'])}: {c['calls']} call(s)" + (f", last {cell(c['last_call'])}"
                    if c.get("last_call") else "") for c in s["called"]]
    return [*out, ""]


def _plan_section(plan: Plan) -> list[str]:
    """A plan's actions, forecast, BLOCKED ids by reason, and every voice it acts on (KEEP aside)."""
    s_actions = plan.totals()
    f = plan.forecast
    out = [f"### Migration plan {code(plan.plan_id)}", "", "| action | voices |", "|---|---:|"]
    out += [f"| {action} | {n} |" for action, n in s_actions.items()]
    calls = f.get("api_calls") or {}
    out += ["", f"Forecast: {f.get('reclones', 0)} re-clone(s), {human_bytes(f.get('upload_bytes'))} to upload, "
            f"{calls.get('create', 0)} create and {calls.get('verify_tts', 0)} verification call(s), "
            f"{f.get('tts_characters', 0)} TTS characters, about {human_duration(f.get('estimated_seconds'))} "
            f"at concurrency {f.get('concurrency')}; clones {f.get('clones_now')} now → {f.get('clones_after')} after.", ""]
    for problem, ids in blocked_groups(plan):
        out += [f"#### BLOCKED: {cell(problem)} ({len(ids)})", "", "```", *(visible(v).replace("`", "'") for v in ids),
                "```", ""]
    acting = [r for r in records(plan_frame(plan)) if r["action"] != Action.KEEP.value]
    if acting:
        out += [f"### Actions by voice ({len(acting)})", "", "| action | voice | id | source | new clone | reason |",
                "|---|---|---|---|---|---|"]
        out += ["| " + " | ".join((cell(r["action"]), cell(r["display_name"])[:60], code(r["voice_id"]),
                                   code(r["source_path"]) if r["source_path"] else "",
                                   cell(r["new_display_name"] or r["replacement"])[:60], cell(r["reason"])[:160])) + " |"
                for r in acting[:MAX_ROWS]]
        if len(acting) > MAX_ROWS:
            out.append(f"\n… and {len(acting) - MAX_ROWS} more: see plan.csv.")
        out.append("")
    return out
