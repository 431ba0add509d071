"""The composition root's second half: apply a plan, and retire replaced voices.

    apply:  plan file → fresh list → staleness check → ledger (adopt marked clones)
            → confirmation → apply stage → mapping.csv/json + report.html
    retire: ledger → verified replacements → confirmation → delete old clones, or list
            them for the dashboard where the API no longer deletes

Like `pipeline`, it only sequences; the work lives in the stages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .apply import ApplyOptions, Migrator, adopt_marked, run_entries, select
from .client import WavesClient
from .config import Settings
from .errors import CloneAuditError, ExitCode, Gone, RequestRejected, UsageError
from .ledger import Ledger, Migration, State
from .models import Clone, CloneStatus, NoProgress, ProbeVerdict, Progress
from .planfile import Plan, PlanError, read_plan, stale_reasons
from .probe import probe_clone
from .report import files
from .report.migration import mapping_frame

LEDGER_NAME = "ledger.sqlite"
#: (what is about to happen, how many) → whether the user agreed.
Confirm = Callable[[str, int], bool]


@dataclass(frozen=True)
class ApplyRun:
    plan: Plan
    folder: Path
    states: dict[str, int]  # ledger state → voices, over the whole plan
    worked_on: int
    already_done: int
    adopted: int
    stopped_early: bool
    exit_code: ExitCode


@dataclass(frozen=True)
class RetireRun:
    deleted: tuple[str, ...]
    for_dashboard: tuple[str, ...]
    reason: str


async def apply_plan(
    client: WavesClient, settings: Settings, plan_path: Path, options: ApplyOptions,
    confirm: Confirm, progress: Progress | None = None,
) -> ApplyRun:
    progress = progress or NoProgress()
    the_plan = read_plan(plan_path)
    folder = plan_path.parent
    _same_account(the_plan, settings)

    async def verify(clone: Clone) -> tuple[ProbeVerdict, str]:
        result = await probe_clone(client, clone, settings.probe)
        return result.verdict, result.reason

    with Ledger(folder / LEDGER_NAME) as ledger:
        clones = await client.list_clones()
        finished = {r.old_voice_id for r in ledger.all() if r.state is State.VERIFIED}
        if reasons := stale_reasons(the_plan, clones, datetime.now(UTC), finished=finished):
            more = f" (and {len(reasons) - 5} more)" if len(reasons) > 5 else ""
            raise PlanError("the plan is stale: " + "; ".join(reasons[:5]) + more)
        adopted = adopt_marked(the_plan, ledger, clones)
        todo, done = select(the_plan, ledger, options)
        if todo and not confirm(f"create up to {len(todo)} clone(s) on {settings.api.base_url}", len(todo)):
            raise UsageError("not confirmed: nothing was created.", hint="Pass --yes to skip the question.")
        progress.start(len(todo), "Re-cloning")
        migrator = Migrator(client, the_plan, ledger, settings, verify)
        try:
            stopped = await run_entries(
                migrator, todo, settings.api.concurrency, options.fail_fast,
                on_done=lambda entry, state: progress.advance(),
            )
        except* CloneAuditError as failures:
            raise failures.exceptions[0] from None
        rows = ledger.all()
    states = {s.value: sum(1 for r in rows if r.state is s) for s in State}
    write_migration_reports(folder, the_plan, rows)
    unfinished = sum(n for state, n in states.items() if state != State.VERIFIED.value)
    return ApplyRun(
        plan=the_plan, folder=folder, states=states, worked_on=len(todo), already_done=len(done),
        adopted=adopted, stopped_early=stopped,
        exit_code=ExitCode.FINDINGS if unfinished or stopped else ExitCode.OK,
    )


def _same_account(the_plan: Plan, settings: Settings) -> None:
    if the_plan.base_url.rstrip("/") != settings.api.base_url.rstrip("/"):
        raise PlanError(
            f"the plan was made for {the_plan.base_url}, but this run points at {settings.api.base_url}.",
            hint="Use the plan with the account it was made for (--base-url / SMALLEST_BASE_URL).",
        )


def write_migration_reports(folder: Path, the_plan: Plan, rows: list[Migration]) -> None:
    """mapping.csv and mapping.json from the ledger, and report.html with the mapping in it."""
    mapping = mapping_frame(rows)
    meta = {"tool": "clone-audit", "plan_id": the_plan.plan_id, "base_url": the_plan.base_url,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds")}
    files.write_mapping_files(folder, meta, mapping)
    run_meta, frame = files.read_run(folder)
    files.write_html(folder, run_meta, frame, plan=the_plan, mapping=mapping)


async def retire_replaced(
    client: WavesClient, settings: Settings, plan_path: Path, confirm: Confirm
) -> RetireRun:
    """Delete legacy clones whose replacement is verified and still completed on the
    account; never anything else."""
    the_plan = read_plan(plan_path)
    folder = plan_path.parent
    _same_account(the_plan, settings)
    if not (folder / LEDGER_NAME).exists():
        raise UsageError(f"no ledger beside {plan_path}: nothing was applied from this plan yet.")
    with Ledger(folder / LEDGER_NAME) as ledger:
        live = {c.voice_id: c for c in await client.list_clones()}
        ready = [
            r.old_voice_id for r in ledger.all()
            if r.state is State.VERIFIED and not r.retired_at and r.old_voice_id in live
            and r.new_voice_id in live and live[r.new_voice_id].status is CloneStatus.COMPLETED
        ]
        if not ready:
            return RetireRun((), (), "no legacy clone with a verified, completed replacement awaits retirement")
        if not confirm(f"delete {len(ready)} legacy clone(s) whose replacement is verified", len(ready)):
            raise UsageError("not confirmed: nothing was deleted.", hint="Pass --yes to skip the question.")
        deleted: list[str] = []
        for index, old in enumerate(ready):
            try:
                await client.delete_clone(old)
            except (Gone, RequestRejected) as exc:
                if isinstance(exc, RequestRejected) and exc.status not in (404, 405):
                    raise
                reason = f"the API does not delete clones ({exc.status}): delete these in the dashboard"
                write_migration_reports(folder, the_plan, ledger.all())
                return RetireRun(tuple(deleted), tuple(ready[index:]), reason)
            ledger.mark_retired(old)
            deleted.append(old)
        write_migration_reports(folder, the_plan, ledger.all())
    return RetireRun(tuple(deleted), (), "deleted")
