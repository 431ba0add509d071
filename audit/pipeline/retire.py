"""The retire pipeline: delete the legacy clones a verified migration replaced.

    plan.json → ledger → fresh list → retirable voices → (--quiet-since: TTS analytics log,
    hold back the ones still called, leaving out the calls this output folder's recorded scans
    and verifications made) → confirmation → retire stage (audit.migrate.retire)
    → mapping.csv/json + report.html (+ delete-in-dashboard.txt: the ids the API would not delete)

A composition root: which voices may go and how deletion is read is decided in
`audit.migrate.retire`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.api.client import WavesClient
from audit.core.config import Settings
from audit.core.errors import ExitCode, RunError, UsageError
from audit.core.models import Action
from audit.core.provenance import Provenance
from audit.core.owncalls import LeftOut, OwnRun, leave_out_own
from audit.core.runfolder import DASHBOARD_TXT, RunFolder, check_writable
from audit.core.usage import VoiceUsage, doubts, usage_by_voice
from audit.migrate import trust
from audit.migrate.document import read_plan, same_account
from audit.migrate.ledger import Ledger
from audit.migrate.proposal import Confirm, Proposal, proposal_line, refused, retire_cost
from audit.migrate.retire import Retired, awaiting_review, retirable, retire, still_called
from audit.pipeline import history
from audit.report import files
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord
from audit.runs import owncalls
from audit.runs.store import check_history


@dataclass(frozen=True)
class RetireRun:
    """What retire did, and its run (folder, report, history entry) with the exit code in it."""

    retired: Retired
    record: RunRecord
    own_calls: LeftOut | None = None  # with --quiet-since: the tool's own probes left out of the callers

    @property
    def exit_code(self) -> ExitCode:
        return self.record.exit_code

    def lines(self, plan_path: Path) -> list[str]:
        """What the retire command prints: what was kept as still called, deleted, left for the
        dashboard, kept for review."""
        run = self.retired
        lines: list[str] = []
        if self.own_calls is not None and (said := self.own_calls.describe()):
            lines.append(said)
        if run.still_called:
            since = self.record.changes.get("retire", {}).get("quiet_since") or "the date given"
            lines.append(f"Kept {len(run.still_called)} legacy clone(s) still called since {since}:")
            lines += [f"  {u.voice_id}  {u.calls} call(s), last {u.last_seen()}" if u.last_call
                      else f"  {u.voice_id}  {u.calls} call(s)" for u in run.still_called]
            if assumed := doubts({u.voice_id: u for u in run.still_called}):
                lines.append(f"  (assumed, to keep on the safe side: {assumed})")
        lines.append(f"Deleted {len(run.deleted)} legacy clone(s).")
        if not run.deleted and not run.for_dashboard:
            lines.append(run.reason)
        if run.for_dashboard:
            lines.append(f"{run.reason}:")
            lines += [f"  {voice_id}" for voice_id in run.for_dashboard]
            if self.record.folder is not None:
                lines.append(f"Saved, one id per line: {self.record.folder / DASHBOARD_TXT}")
        if run.awaiting_review:
            lines.append(f"Kept {len(run.awaiting_review)} legacy clone(s) whose replacement does not sound like its "
                         f"source; listen in report.html, then `clone-audit review {plan_path} --accept ID` or "
                         "`--reject ID`:")
            lines += [f"  {voice_id}" for voice_id in run.awaiting_review]
        if run.disputed:
            lines.append(f"Kept {len(run.disputed)} legacy clone(s) whose plan, ledger and replacement do not agree "
                         "that it was replaced (nothing was deleted for them):")
            lines += [f"  {voice_id}: {why}" for voice_id, why in sorted(run.disputed.items())]
        return lines


def retire_exit_code(retired: Retired) -> ExitCode:
    """1 when a legacy clone was kept that a person must act on (still called, a mismatch
    awaiting review, or records that disagree), else 0."""
    return ExitCode.FINDINGS if retired.still_called or retired.awaiting_review or retired.disputed else ExitCode.OK


async def retire_replaced(
    client: WavesClient, settings: Settings, plan_path: Path, confirm: Confirm,
    quiet_since: datetime | None = None,
) -> RetireRun:
    """Delete legacy clones whose replacement is verified and still completed on the
    account; never anything else. With `quiet_since`, also only those the TTS analytics
    log shows no call to since then (a log that cannot be read back that far stops it).
    Every outcome is recorded as a retire run, a run that deleted nothing included."""
    started = datetime.now(UTC)
    folder = RunFolder.of_plan(plan_path)
    if plan_path.exists():
        trust.check_seal(folder, trust_edits=False)  # retire deletes: only a plan this user's `plan` wrote
    the_plan = read_plan(plan_path)
    same_account(the_plan, settings.api.base_url)
    if not folder.ledger.exists():
        raise UsageError(f"no ledger beside {plan_path}: nothing was applied from this plan yet.")
    check_writable(folder.path)  # the ledger and mapping are updated there: fail before any delete
    check_history(folder.path.parent)
    with Ledger(folder.ledger) as ledger:
        reclone = {e.voice_id for e in the_plan.entries if e.action is Action.RECLONE}
        own_runs = partial(owncalls.own_runs, folder.path.parent, settings.api.base_url, client.account)
        retired, own = await _retire(client, settings, ledger, reclone, quiet_since, confirm, own_runs)
        rows = ledger.all()  # as the deletions left them
        if retired.deleted:
            files.write_migration_files(folder, the_plan, rows)
        record = history.write_migration_report(
            RunKind.RETIRE, client.account, the_plan, folder.path, rows, started,
            retire_exit_code(retired), settings, changes={"retire": _section(retired, quiet_since, own)})
    return RetireRun(retired, record, own)


async def _retire(client: WavesClient, settings: Settings, ledger: Ledger, reclone: set[str],
                  quiet_since: datetime | None, confirm: Confirm,
                  own_runs: Callable[[], list[OwnRun]]) -> tuple[Retired, LeftOut | None]:
    """What retire did, and (with `quiet_since`) the calls of the output folder's own runs it
    left out of the callers."""
    clones = await client.list_clones()
    live = {c.voice_id: c for c in clones}
    rows = ledger.all()
    agreed = retirable(rows, live, reclone, Provenance(client.api_key).markers(clones), ledger.vouches)
    ready, disputed = agreed.ready, agreed.disputed
    review = tuple(awaiting_review(rows, live))
    if not ready:
        return Retired((), (), "no legacy clone with a verified, completed replacement awaits retirement",
                       awaiting_review=review, disputed=disputed), None
    called: list[VoiceUsage] = []
    own: LeftOut | None = None
    if quiet_since is not None:
        logs = await client.tts_logs(since=quiet_since, max_pages=settings.report.usage_max_pages)
        if not logs.complete:
            why = f"; {logs.stopped}" if logs.stopped else ""
            raise RunError(
                f"the TTS analytics log could not be read back to {quiet_since.isoformat()} "
                f"({logs.pages} pages read{why}): whether the old ids are quiet is unknown, nothing was deleted.",
                hint="Choose a later --quiet-since date, or check the calls with `clone-audit usage`.",
            )
        own = leave_out_own(logs.calls, own_runs(), quiet_since)  # a scan's probes are not callers
        ready, called = still_called(ready, usage_by_voice(own.calls, quiet_since, voice_ids=ready))
        if not ready:
            return Retired((), (), f"every retirable legacy clone was called since {quiet_since.date()}",
                           tuple(called), review, disputed), own
    replacements = {r.old_voice_id: r.new_voice_id for r in rows}
    if not confirm(Proposal(
            f"delete {len(ready)} legacy clone(s) whose replacement is verified",
            tuple(proposal_line(old, live[old].display_name, replacements.get(old)) for old in ready),
            retire_cost(len(ready), len(live)))):
        raise refused("nothing was deleted")
    outcome = await retire(client, ledger, ready)
    return replace(outcome, still_called=tuple(called), awaiting_review=review, disputed=disputed), own


def _section(retired: Retired, quiet_since: datetime | None, own: LeftOut | None) -> dict[str, Any]:
    """retire's part of its run.json: what went, what the dashboard must delete, what stayed and why."""
    return {
        "deleted": list(retired.deleted),
        "for_dashboard": list(retired.for_dashboard),
        "dashboard_file": DASHBOARD_TXT if retired.for_dashboard else None,
        "reason": retired.reason,
        "quiet_since": None if quiet_since is None else quiet_since.isoformat(timespec="seconds"),
        "still_called": [{"voice_id": u.voice_id, "calls": u.calls,
                          "last_call": None if u.last_call is None else u.last_call.isoformat(timespec="seconds")}
                         for u in retired.still_called],
        "awaiting_review": list(retired.awaiting_review),
        "disputed": [{"voice_id": v, "why": why} for v, why in sorted(retired.disputed.items())],
        "own_calls": None if own is None else own.as_dict(),  # the tool's own probes, not counted as callers
    }
