"""The apply pipeline: carry out a reviewed plan, resumably.

    plan.json → fresh list → staleness check → ledger (adopt marked clones)
    → confirmation → apply stage (audit.migrate.apply) → mapping.csv/json + report.html

A composition root: it opens the account lock and the ledger, sequences the checks and
the stage, and hands the ledger's rows to the writers. What to do with each voice is
decided in `audit.migrate`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.api.client import WavesClient
from audit.core.config import Settings
from audit.core.errors import CloneAuditError, ExitCode, UsageError
from audit.core.models import Action, Clone, NoProgress, ProbeVerdict, Progress
from audit.core.runfolder import RunFolder, account_lock, check_writable
from audit.migrate.apply import ApplyOptions, Migrator, Selection, adopt_marked, run_entries, select
from audit.migrate.document import Plan, PlanError, read_plan, stale_reasons
from audit.migrate.ledger import Ledger
from audit.migrate.state import State
from audit.pipeline import history
from audit.report import files
from audit.scan.probe import probe_clone

#: (what is about to happen, how many) → whether the user agreed.
Confirm = Callable[[str, int], bool]


@dataclass(frozen=True)
class ApplyRun:
    plan: Plan
    folder: Path
    states: dict[str, int]  # ledger state → voices, over the whole plan
    selection: Selection
    adopted: int
    stopped_early: bool
    exit_code: ExitCode
    run_json: Path | None = None  # this apply's own run folder (its report; history)


async def apply_plan(
    client: WavesClient, settings: Settings, plan_path: Path, options: ApplyOptions,
    confirm: Confirm, progress: Progress | None = None,
) -> ApplyRun:
    progress = progress or NoProgress()
    started = datetime.now(UTC)
    the_plan = read_plan(plan_path)
    folder = RunFolder.of_plan(plan_path)
    same_account(the_plan, settings)
    check_writable(folder.path)  # the ledger goes there: fail before any create if it cannot

    async def verify(clone: Clone) -> tuple[ProbeVerdict, str]:
        result = await probe_clone(client, clone, settings.probe)
        return result.verdict, result.reason

    with account_lock(folder.out_root, the_plan.base_url), Ledger(folder.ledger) as ledger:
        clones = await client.list_clones()
        now = datetime.now(UTC)
        _check_fresh(the_plan, ledger, clones)
        adopted = adopt_marked(the_plan, ledger, clones)
        selection = select(the_plan, ledger, options, expired=now > the_plan.expires_at)
        if selection.expired and not selection.todo:
            raise PlanError(
                f"the plan expired at {the_plan.expires_at.isoformat(timespec='seconds')}; "
                f"{len(selection.expired)} voice(s) it would start are left."
            )
        todo = selection.todo
        if todo and not confirm(f"work on {len(todo)} voice(s) on {settings.api.base_url}, "
                                "creating a clone for each that has none yet", len(todo)):
            raise UsageError("not confirmed: nothing was created.", hint="Pass --yes to skip the question.")
        progress.start(len(todo), "Re-cloning")
        migrator = Migrator(client, the_plan, ledger, settings, verify, listed=[c.voice_id for c in clones])
        try:
            stopped = await run_entries(
                migrator, todo, settings.api.concurrency, options.fail_fast,
                on_done=lambda entry, state: progress.advance(),
            )
        except* CloneAuditError as failures:
            raise failures.exceptions[0] from None
        rows = ledger.all()
    states = {s.value: sum(1 for r in rows if r.state is s) for s in State}
    files.write_migration_files(folder, the_plan, rows)
    unfinished = sum(n for state, n in states.items() if state != State.VERIFIED.value)
    code = ExitCode.FINDINGS if unfinished or stopped or selection.expired else ExitCode.OK
    run_json = history.write_migration_report(
        "apply", client.account, the_plan, folder.path, rows, started, code, settings)
    return ApplyRun(
        plan=the_plan, folder=folder.path, states=states, selection=selection, adopted=adopted,
        stopped_early=stopped, exit_code=code, run_json=run_json,
    )


def _check_fresh(the_plan: Plan, ledger: Ledger, clones: Sequence[Clone]) -> None:
    """Refuse a plan whose voices changed or vanished, or that belongs to another account.
    Expiry is handled by `select`: an expired plan may still finish what it started."""
    finished = {r.old_voice_id for r in ledger.all() if r.state is State.VERIFIED}
    reasons = stale_reasons(the_plan, clones, finished=finished)
    if not reasons:
        return
    listed = {c.voice_id for c in clones}
    planned = [e.voice_id for e in the_plan.entries if e.action is Action.RECLONE]
    if planned and not listed & set(planned) and not finished:
        raise PlanError(
            "none of the plan's voices is on this account: the plan belongs to another organisation.",
            hint="Check SMALLEST_API_KEY: it must be the key of the organisation the plan was made for.",
        )
    more = f" (and {len(reasons) - 5} more)" if len(reasons) > 5 else ""
    raise PlanError("the plan is stale: " + "; ".join(reasons[:5]) + more)


def same_account(the_plan: Plan, settings: Settings) -> None:
    if the_plan.base_url.rstrip("/") != settings.api.base_url.rstrip("/"):
        raise PlanError(
            f"the plan was made for {the_plan.base_url}, but this run points at {settings.api.base_url}.",
            hint="Use the plan with the account it was made for (--base-url / SMALLEST_BASE_URL).",
        )
