"""What each kind of run says first: its page title, its heading, its headline and its own summary.

Pure: a run's head (run.json without its voices), the voice counts, the plan and the mapping in;
one `KindPage` out, which every format renders: the HTML page's title, `<h1>`, headline and first
section, Markdown's first heading, headline and first section, and JSON's summary object of the
kind (under the kind's name). A scan leads with its verdicts; a plan with its actions, forecast
and BLOCKED lists; an apply with where each re-clone stands (not started included: what a canary
left); a review with the decisions taken; a retire with what was deleted, what the dashboard must
delete and what was kept and why; a cutover with the occurrences left, written and rolled back
(unknown after a rollback that could not recount them); a usage check with the old ids called.
The advice in each headline fits what the run found, never a scan's advice on another kind's page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.core.models import Action
from audit.core.runfolder import DASHBOARD_TXT, PLAN_JSON
from audit.migrate.document import Plan
from audit.migrate.state import MappingStatus, Review
from audit.report.text import human_bytes, human_duration
from audit.runs.kind import RunKind

#: Mapping statuses an apply counts as still going (a create sent, the clone not verified yet).
IN_PROGRESS = (MappingStatus.CREATING, MappingStatus.CREATED, MappingStatus.COMPLETED)
FAILED = (MappingStatus.FAILED, MappingStatus.UNVERIFIED)


@dataclass(frozen=True)
class KindPage:
    kind: RunKind
    heading: str  # the page's <h1>, naming the kind
    title: str  # the page's <title>
    headline: str  # where the run leaves things, and what to do next
    section: dict[str, Any]  # the kind's summary object: JSON's, and the first section's data


def page(meta: Mapping[str, Any], counts: Mapping[str, Any], plan: Plan | None = None,
         mapping: Sequence[Mapping[str, Any]] | None = None, scan_headline: str = "") -> KindPage:
    """The kind's page for a run (`meta`: run.json's head); `scan_headline` is a scan's own."""
    kind = RunKind.parse(meta.get("kind", RunKind.SCAN)) or RunKind.SCAN
    rows = list(mapping if mapping is not None else meta.get("mapping") or [])
    plan_file = str(Path(str(meta.get("plan_folder") or "PLAN_FOLDER")) / PLAN_JSON)
    headline: str
    match kind:
        case RunKind.SCAN:
            section = {"total": counts["total"], "verdict": dict(counts["verdict"])}
            headline = scan_headline
        case RunKind.PLAN:
            section, headline = _plan(plan, f"OUT/{meta.get('run_id', '')}/{PLAN_JSON}")
        case RunKind.APPLY:
            section, headline = _apply(plan, rows, plan_file)
        case RunKind.REVIEW:
            section, headline = _review(meta.get("review") or {}, rows, plan_file)
        case RunKind.RETIRE:
            section, headline = _retire(meta.get("retire") or {}, plan_file)
        case RunKind.CUTOVER:
            section, headline = _cutover(meta.get("cutover") or {})
        case RunKind.USAGE:
            section, headline = _usage((meta.get("cutover") or {}).get("usage") or {}, plan_file)
    heading = "Compliance scan: voice clones on lightning-v3.1" if kind is RunKind.SCAN else kind.heading
    title = f"{kind.heading} {meta.get('run_id', '')} · clone-audit {kind.value} report"
    return KindPage(kind, heading, title, headline, section)


def blocked_groups(plan: Plan) -> list[tuple[str, list[str]]]:
    """The plan's BLOCKED voice ids by the problem of their recording, the largest group first."""
    blocked: dict[str, list[str]] = {}
    for entry in plan.entries:
        if entry.action is Action.BLOCKED:
            key = entry.source.problem.value if entry.source and entry.source.problem else "other"
            blocked.setdefault(key, []).append(entry.voice_id)
    return sorted(blocked.items(), key=lambda item: (-len(item[1]), item[0]))


def _plan(plan: Plan | None, plan_file: str) -> tuple[dict[str, Any], str]:
    if plan is None:
        return {"actions": None}, "The plan file of this run is gone: its actions cannot be shown."
    totals = plan.totals()
    f = plan.forecast
    section = {"plan_id": plan.plan_id, "expires_at": plan.expires_at.isoformat(timespec="seconds"),
               "actions": totals, "forecast": dict(f), "blocked": dict(blocked_groups(plan))}
    reclone, blocked = totals.get(Action.RECLONE.value, 0), totals.get(Action.BLOCKED.value, 0)
    if reclone:
        text = (f"Re-clone {reclone:,} voice(s) from their recordings: {human_bytes(f.get('upload_bytes'))} to upload, "
                f"about {human_duration(f.get('estimated_seconds'))}. Review the plan, then `clone-audit apply {plan_file}`.")
    else:
        text = "Nothing to re-clone."
    if blocked:
        text += (f" {blocked:,} voice(s) are BLOCKED: no usable recording in the archive; add one and plan again "
                 "(lists below).")
    if f.get("within_quota") is False:
        text += " The re-clones do not fit the clone quota: retire old clones first, or apply in batches (--limit)."
    return section, text


def _apply(plan: Plan | None, rows: Sequence[Mapping[str, Any]], plan_file: str) -> tuple[dict[str, Any], str]:
    status = [str(r.get("status")) for r in rows]
    planned = [e.voice_id for e in plan.entries if e.action is Action.RECLONE] if plan else [
        str(r.get("old_voice_id")) for r in rows]
    known = {str(r.get("old_voice_id")) for r in rows}
    section = {
        "reclone": len(planned),
        "verified": status.count(MappingStatus.READY),
        "mismatches": status.count(MappingStatus.MISMATCH),
        "failures": sum(status.count(s) for s in FAILED),
        "in_progress": sum(status.count(s) for s in IN_PROGRESS),
        "not_started": status.count(MappingStatus.QUEUED) + sum(1 for v in planned if v not in known),
        "blocked": sum(1 for e in plan.entries if e.action is Action.BLOCKED) if plan else None,
    }
    parts = [f"{section['verified']:,} of {len(planned):,} re-clone(s) verified and ready"]
    parts += [f"{section[k]:,} {label}" for k, label in (
        ("mismatches", "sound unlike their source"), ("failures", "failed or did not verify"),
        ("in_progress", "in progress"), ("not_started", "not started")) if section[k]]
    advice = []
    if section["not_started"] or section["in_progress"]:
        advice.append(f"run `clone-audit apply {plan_file}` again to go on")
    if section["failures"]:
        advice.append(f"`clone-audit apply {plan_file} --retry-failed` tries the failed ones again")
    if section["mismatches"]:
        advice.append(f"listen, then `clone-audit review {plan_file} --accept ID` or `--reject ID`")
    if planned and section["verified"] == len(planned):
        advice.append("point callers at the new ids (`clone-audit cutover MAPPING PATH`), then retire the old clones")
    text = "; ".join(parts) + "."
    if advice:
        text += " Next: " + "; ".join(advice) + "."
    if section["blocked"]:
        text += (f" {section['blocked']:,} voice(s) of the plan are BLOCKED (no usable recording): apply cannot re-clone "
                 "them; add their recordings to the archive and plan again.")
    return section, text


def _review(review: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], plan_file: str) -> tuple[dict[str, Any], str]:
    accepted = list(review.get(Review.ACCEPTED.value) or [])
    rejected = list(review.get(Review.REJECTED.value) or [])
    decided = set(accepted) | set(rejected)
    decisions = [{"old_voice_id": r.get("old_voice_id"), "new_voice_id": r.get("new_voice_id"),
                  "similarity": r.get("similarity"), "approved": r.get("old_voice_id") in accepted,
                  "decision": (Review.ACCEPTED if r.get("old_voice_id") in accepted else Review.REJECTED).value,
                  "reviewed_by": r.get("reviewed_by") or review.get("by"), "reviewed_at": r.get("reviewed_at")}
                 for r in rows if r.get("old_voice_id") in decided]
    awaiting = sum(1 for r in rows if r.get("status") == MappingStatus.MISMATCH and not r.get("review"))
    section = {"by": review.get("by"), "accepted_ids": accepted, "rejected_ids": rejected, "decisions": decisions,
               "awaiting_review": awaiting}
    text = f"{review.get('by') or 'The reviewer'} accepted {len(accepted):,} and rejected {len(rejected):,} replacement(s)."
    if accepted:
        text += f" Accepted ones are ready: `clone-audit retire {plan_file}` may delete their originals."
    if rejected:
        text += (" Rejected ones stay not ready and their originals stay: delete the wrong clones in the dashboard, "
                 f"then `clone-audit apply {plan_file} --retry-failed`.")
    if awaiting:
        text += f" {awaiting:,} mismatch(es) still await review."
    return section, text


def _retire(retire: Mapping[str, Any], plan_file: str) -> tuple[dict[str, Any], str]:
    kept = [{"voice_id": u.get("voice_id"), "why": f"still called: {u.get('calls')} call(s) since "
             f"{str(retire.get('quiet_since') or '')[:10]}"} for u in retire.get("still_called") or []]
    kept += [{"voice_id": v, "why": "its replacement does not sound like its source: awaiting review"}
             for v in retire.get("awaiting_review") or []]
    kept += [{"voice_id": d.get("voice_id"), "why": d.get("why")} for d in retire.get("disputed") or []]
    deleted, dashboard = list(retire.get("deleted") or []), list(retire.get("for_dashboard") or [])
    section = {"deleted": deleted, "for_dashboard": dashboard, "dashboard_file": DASHBOARD_TXT if retire.get("dashboard_file") else None,
               "kept": kept, "reason": retire.get("reason"),
               "own_calls_left_out": (retire.get("own_calls") or {}).get("left_out", 0)}
    text = f"Deleted {len(deleted):,} legacy clone(s)."
    if dashboard:
        where = f" (listed in {DASHBOARD_TXT})" if retire.get("dashboard_file") else ""  # the name is ours, not run.json's
        text += f" {len(dashboard):,} to delete in the dashboard by hand{where}: the API does not delete them."
    if kept:
        text += f" Kept {len(kept):,}: see why below."
    if any(v in (retire.get("awaiting_review") or []) for v in (k["voice_id"] for k in kept)):
        text += f" Listen, then `clone-audit review {plan_file} --accept ID` or `--reject ID`."
    if not deleted and not dashboard and not kept and retire.get("reason"):
        text += f" {str(retire['reason'])[:1].upper()}{str(retire['reason'])[1:]}."
    return section, text


def _cutover(cutover: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    scan, write, rollback = cutover.get("scan"), cutover.get("write"), cutover.get("rollback")
    left: int | None = None
    if rollback is not None:
        left = rollback.get("remaining_after")
    elif scan is not None:
        left = scan.get("remaining")
    section = {
        "occurrences_left": left,
        "occurrences_found": None if scan is None else scan.get("occurrences"),
        "written": None if write is None else write.get("replacements"),
        "files_written": None if write is None else write.get("files"),
        "rolled_back": None if rollback is None else rollback.get("restored"),
        "occurrences_restored": None if rollback is None else rollback.get("occurrences_restored"),
        "rollback_file": (write or rollback or {}).get("rollback_file"),
        "not_checked": None if scan is None else scan.get("unchecked_count"),
        **_agents(cutover),
    }
    if scan is None and write is None and rollback is None and cutover.get("agents") is not None:
        return section, _agents_headline(section)
    if scan is None and write is None and rollback is None and cutover.get("agent_rollback") is not None:
        return section, (f"Rolled back voice agents: {section['agent_branches_restored']:,} branch(es) restored, "
                         f"{section['agent_branches_left']:,} left as they are (their reasons are listed).")
    if rollback is not None:
        text = (f"Rolled back: {rollback.get('restored', 0):,} file(s) restored, "
                f"{rollback.get('already', 0):,} already original")
        text += (f"; {len(rollback.get('refused') or []):,} refused." if rollback.get("refused") else ".")
        text += (f" The files hold the old ids again: {left:,} occurrence(s) left." if left is not None else
                 " Occurrences left: unknown since the rollback; run `clone-audit cutover MAPPING PATH` to recount.")
        return section, text
    text = f"{left or 0:,} occurrence(s) of old voice ids left" if left is not None else "Occurrences left: unknown"
    if write is not None:
        text += f" after writing {write.get('replacements', 0):,} replacement(s) in {write.get('files', 0):,} file(s)"
    text += "."
    if scan is not None and scan.get("unchecked_count"):
        text += f" {scan['unchecked_count']:,} file(s) could not be checked and may hold more."
    if left and write is None and scan is not None and scan.get(MappingStatus.READY.value):
        text += " `--write` replaces the ready ones (keeping a rollback file), `--patch FILE` writes a patch."
    elif left:
        text += " Those left are of ids whose replacement is not ready, or files that were not written."
    elif left == 0:
        text += " Check that nobody still calls them: `clone-audit usage MAPPING --since DATE`."
    return section, text


def _agents(cutover: Mapping[str, Any]) -> dict[str, Any]:
    """A cutover run's numbers about voice agents (None where it did not look at them)."""
    found, write, undone = cutover.get("agents"), cutover.get("agent_write"), cutover.get("agent_rollback")
    switched = [b for b in (write or {}).get("branches") or [] if b.get("state") == "switched"]
    restored = [b for b in (undone or {}).get("branches") or [] if b.get("state") == "restored"]
    return {
        "agent_places_found": None if found is None else found.get("found"),
        "agent_places_left": None if found is None else found.get("remaining"),
        "agents_not_checked": None if found is None else found.get("unchecked_count"),
        "agent_branches_switched": None if write is None else len(switched),
        "agent_branches_not_switched": None if write is None else len(write.get("branches") or []) - len(switched),
        "agent_record_file": (write or undone or {}).get("record_file"),
        "agent_branches_restored": None if undone is None else len(restored),
        "agent_branches_left": None if undone is None else len(undone.get("branches") or []) - len(restored),
    }


def _agents_headline(s: Mapping[str, Any]) -> str:
    left = s["agent_places_left"] or 0
    text = f"{left:,} place(s) in voice agents' configs still name an old voice id"
    if s["agent_branches_switched"] is not None:
        text += (f" after switching {s['agent_branches_switched']:,} branch(es)"
                 f" ({s['agent_branches_not_switched']:,} not switched: see why below)")
    text += "."
    if s["agents_not_checked"]:
        text += f" {s['agents_not_checked']:,} agent(s) could not be read and may name more."
    if left and s["agent_branches_switched"] is None:
        text += " `--write` switches the ready ones (after the diff and a confirmation), keeping a rollback record."
    return text


def _usage(usage: Mapping[str, Any], plan_file: str) -> tuple[dict[str, Any], str]:
    called = [{"old_voice_id": r.get("old_voice_id"), "calls": r.get("calls"), "last_call": r.get("last_call"),
               "new_voice_id": r.get("new_voice_id")} for r in usage.get("rows") or [] if r.get("calls")]
    since = str(usage.get("since") or "")[:10]
    section = {"since": usage.get("since"), "complete": bool(usage.get("complete")), "old_ids": usage.get("old_ids", 0),
               "still_called": usage.get("still_called", len(called)), "called": called}
    bound = "" if section["complete"] else "at least "
    if called:
        text = (f"{bound}{len(called):,} of {section['old_ids']:,} old voice id(s) called since {since}: "
                f"{sum(int(c['calls'] or 0) for c in called):,} call(s) still get the old voice. Point those callers at "
                "the new ids (`clone-audit cutover MAPPING PATH`).")
    elif section["complete"]:
        text = (f"None of the {section['old_ids']:,} old voice id(s) was called since {since}: "
                f"`clone-audit retire {plan_file} --quiet-since {since}` may delete them.")
    else:
        text = (f"No call to the {section['old_ids']:,} old voice id(s) found in the part of the TTS log read "
                f"(not back to {since}): a quiet id is not proven quiet.")
    return section, text[:1].upper() + text[1:]
