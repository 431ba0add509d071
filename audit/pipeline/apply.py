"""The apply pipeline: carry out a reviewed plan, resumably.

    plan.seal + plan.json → where uploads lead → account lock → fresh list → staleness
    → ledger (adopt proven replacements) → upload bytes → confirmation
    → apply stage (audit.migrate.selection, executor, workers) → mapping.csv/json + report.html

A composition root: it checks the plan file (audit.migrate.trust), takes the account
lock (per user, wherever the plan lives: audit.core.userstate) and the ledger, sequences
the checks and the stage, and hands the ledger's rows to the writers. What to do with
each voice is decided in `audit.migrate.decide`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from audit.api.client import WavesClient
from audit.core.config import Settings
from audit.core.errors import CloneAuditError, ExitCode, QuotaReached
from audit.core.models import Action, Clone, NoProgress, ProbeVerdict, Progress
from audit.core.owncalls import sent_calls
from audit.core.provenance import Provenance
from audit.core.runfolder import RunFolder, check_writable
from audit.core.userstate import account_lock
from audit.migrate import trust
from audit.migrate.decide import Listing
from audit.migrate.document import Plan, PlanEntry, PlanError, read_plan, same_account, stale_reasons
from audit.migrate.executor import FidelityVerdict, Migrator, adopt_marked
from audit.migrate.ledger import Ledger
from audit.migrate.planner import forecast
from audit.migrate.proposal import Confirm, Proposal, apply_cost, proposal_line, refused
from audit.migrate.selection import ApplyOptions, Selection, decision_options, select
from audit.migrate.state import Migration, State, is_ready
from audit.migrate.workers import run_entries
from audit.pipeline import history
from audit.report import files, listen
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord
from audit.runs.store import check_history
from audit.scan.probe import probe_audio



@dataclass(frozen=True)
class ApplyRun:
    plan: Plan
    folder: Path
    states: dict[str, int]  # ledger state → voices, over the whole plan
    selection: Selection
    adopted: int
    stopped_early: bool
    record: RunRecord  # this apply's own run (its folder, report and history entry), its exit code in it
    held: dict[str, str] = field(default_factory=dict)  # voice → why nothing was created for it
    rows: tuple[Migration, ...] = ()  # the ledger after the run, every voice of the plan

    @property
    def exit_code(self) -> ExitCode:
        return self.record.exit_code

    @property
    def run_json(self) -> Path | None:
        return self.record.run_json

    def lines(self) -> list[str]:
        """What the apply command prints: what was worked on, the ledger, what needs a rerun."""
        chosen = self.selection
        lines = [f"Worked on {len(chosen.todo)} voice(s); {len(chosen.verified)} verified earlier; "
                 f"{self.adopted} found on the account by their marker.",
                 "Ledger: " + " · ".join(f"{k} {v}" for k, v in self.states.items() if v)]
        if chosen.failed:
            lines.append(f"{len(chosen.failed)} voice(s) failed or did not verify earlier: see mapping.csv, "
                         "then run again with --retry-failed.")
        if self.held:
            lines.append(f"{len(self.held)} voice(s) held: a clone carries a migrated-from marker for it that "
                         "clone-audit cannot verify, so nothing was created:")
            lines += [f"  {voice_id}: {why}" for voice_id, why in sorted(self.held.items())]
        if chosen.beyond_limit:
            lines.append(f"{chosen.beyond_limit} voice(s) left by --limit: run again to go on.")
        if chosen.expired:
            lines.append(f"{len(chosen.expired)} voice(s) not started before the plan expired: "
                         "run `clone-audit plan` again.")
        if self.stopped_early:
            lines.append("Stopped at the first failure (--fail-fast); run again to go on.")
        lines.append(f"Mapping: {self.folder / 'mapping.csv'}")
        return lines


async def apply_plan(
    client: WavesClient, settings: Settings, plan_path: Path, options: ApplyOptions,
    confirm: Confirm, progress: Progress | None = None, on_voice: Callable[[str], None] | None = None,
) -> ApplyRun:
    """Carry out the plan. `on_voice` gets one line per voice as it finishes (what happened
    and why), for a terminal to print as the run goes."""
    progress = progress or NoProgress()
    started = datetime.now(UTC)
    sent_before = Counter(client.tts_sent)  # its verifications are its own calls, not a caller's
    folder = RunFolder.of_plan(plan_path)
    if plan_path.exists():
        trust.check_seal(folder, trust_edits=options.trust_plan_edits)  # before a byte of it is believed
    the_plan = read_plan(plan_path)
    same_account(the_plan, settings.api.base_url)
    check_writable(folder.path)  # the ledger goes there: fail before any create if it cannot
    check_history(folder.path.parent)  # and the run is recorded beside it
    trust.check_archive(the_plan, settings.archive.folder, trust_edits=options.trust_plan_edits)
    uploads = trust.upload_paths(the_plan, folder)
    provenance = Provenance(client.api_key)

    async def verify(clone: Clone) -> tuple[ProbeVerdict, str, bytes | None]:
        result, audio = await probe_audio(client, clone, settings.probe)
        return result.verdict, result.reason, audio

    sample = listen.sampled(e.voice_id for e in the_plan.entries if e.action is Action.RECLONE)

    def heard(entry: PlanEntry, checked: FidelityVerdict, source: bytes, probe: bytes) -> None:
        """Keep listening clips of flagged voices, a sample of the rest, or all (--listen-all)."""
        if listen.wanted(checked.fidelity.value, entry.voice_id, sample, options.listen_all):
            files.write_listen_clips(folder, entry.voice_id, source, probe)

    with account_lock(the_plan.base_url, client.api_key), Ledger(folder.ledger) as ledger:
        listed_at = datetime.now(UTC)
        clones = await client.list_clones()
        listing = Listing.of(clones, provenance.markers(clones), listed_at)
        _check_fresh(the_plan, ledger, clones)
        decisions = decision_options(settings, options, expired=datetime.now(UTC) > the_plan.expires_at)
        adopted = adopt_marked(the_plan, ledger, listing, decisions)
        selection = select(the_plan, ledger.all(), listing, options, decisions)
        if selection.expired and not selection.todo:
            raise PlanError(
                f"the plan expired at {the_plan.expires_at.isoformat(timespec='seconds')}; "
                f"{len(selection.expired)} voice(s) it would start are left."
            )
        todo = selection.todo
        trust.check_upload_bytes(todo, uploads)
        source = f", uploading recordings from {the_plan.archive_folder}" if the_plan.archive_folder else ""
        if todo and not confirm(Proposal(
                f"work on {len(todo)} voice(s) on {settings.api.base_url}, creating a clone for each that "
                f"has none yet{source}", tuple(proposal_line(e.voice_id, e.display_name) for e in todo),
                apply_cost(forecast(todo, len(clones), settings)))):
            raise refused("nothing was created")
        progress.start(len(todo), "Re-cloning")
        migrator = Migrator(client, the_plan, ledger, settings, verify, listing, provenance, decisions, uploads, heard)
        progress.watch(lambda: "; ".join(n for n in (migrator.note(), client.status()) if n),
                       at_least=migrator.hold_remaining)  # a held-back create counts in the ETA

        def done(entry: PlanEntry, state: State) -> None:
            progress.advance(state.value)
            row = ledger.get(entry.voice_id)
            if on_voice is not None and row is not None:
                on_voice(voice_line(row))

        try:
            most = settings.apply.max_in_progress
            stopped = await run_entries(  # the account's limit in requests, plus the voices that hold none
                migrator, todo, lambda: min(most, client.limiter.limit + migrator.waiting), most, options.fail_fast,
                on_done=done,
            )
        except* CloneAuditError as failures:
            raise failures.exceptions[0] from None
        progress.watch(None)
        rows = ledger.all()
    states = {s.value: sum(1 for r in rows if r.state is s) for s in State}
    files.write_migration_files(folder, the_plan, rows)
    if migrator.quota_reached:
        left = sum(1 for r in rows if r.state is State.QUEUED)
        raise QuotaReached(
            f"the account's clone quota is full: {migrator.quota_reached}. apply stopped at once; "
            f"{left} voice(s) are still queued (mapping.csv in {folder.path} shows where each stands)."
        )
    held = {**selection.held, **migrator.held}
    unfinished = sum(1 for r in rows if not is_ready(r))
    code = ExitCode.FINDINGS if unfinished or stopped or selection.expired or held else ExitCode.OK
    record = history.write_migration_report(
        RunKind.APPLY, client.account, the_plan, folder.path, rows, started, code, settings,
        tts_calls=sent_calls(client.tts_sent, sent_before))
    return ApplyRun(
        plan=the_plan, folder=folder.path, states=states, selection=selection, adopted=adopted,
        stopped_early=stopped, held=held, rows=tuple(rows), record=record,
    )


def voice_line(row: Migration) -> str:
    """One line per finished voice, as Terraform prints a resource: what, its new id, why."""
    name = row.display_name or row.old_voice_id
    new = f" → {row.new_voice_id}" if row.new_voice_id else ""
    why = f": {row.detail}" if row.detail and row.state is not State.VERIFIED else ""
    return f"{row.old_voice_id} ({name}){new}: {row.state.value}{why}"


def _check_fresh(the_plan: Plan, ledger: Ledger, clones: Sequence[Clone]) -> None:
    """Refuse a plan whose voices changed or vanished, or that belongs to another account.
    Expiry is handled by `select`: an expired plan may still finish what it started."""
    finished = {r.old_voice_id for r in ledger.all() if r.state in (State.VERIFIED, State.MISMATCH)}
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
