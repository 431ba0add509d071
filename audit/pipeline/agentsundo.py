"""Undoing an agents' cutover: restore the revision before, only where clone-audit's is still the head.

    sealed agents' rollback record (seal and shape checked) → per switched branch: the branch's
    head now → still the revision clone-audit published? restore the revision before (a new head,
    its scan waited out) : leave it and say why → cutover.json (`agent_rollbacks`) and a run

A composition root: the record is `audit.cutover.agentrecord`'s, the calls `audit.api.atoms`'.
A branch someone published on since (its head is another revision), a branch gone, or an entry
that never published is left alone, with the reason. Restore never touches a draft (the API's rule).
A record of another account (its `account` or `base_url` differ from this run's) is refused
before any call. An entry that stopped at `drafted`, `publishing` or `scanning` (a kill, an
unreadable outcome) is looked up by its draft: the revision published from it (`sourceDraftId`)
is the one to undo where it is still the head. A draft of clone-audit's left open (a failed
scan reopens it, or a stop before the publish) is discarded when the branch's draft is that
one with clone-audit's edit alone; else it is named, for the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.api.atoms import BranchRefused, refusal
from audit.api.client import WavesClient
from audit.core.errors import ApiError, ExitCode, UsageError
from audit.core.userstate import account_id
from audit.cutover.agentrecord import read_agent_record
from audit.pipeline.agents import AgentOptions, printable
from audit.pipeline.cutover import record_run
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord


@dataclass
class Undone:
    agent_id: str
    agent_name: str
    branch_id: str
    branch_name: str
    state: str  # restored, scanning, left, failed
    reason: str = ""
    revision_restored: str | None = None  # the revision before, put back
    new_head: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AgentsRollbackRun:
    record_file: Path
    branches: list[Undone] = field(default_factory=list)
    report_note: str = ""
    record: RunRecord | None = None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if all(b.state == "restored" for b in self.branches) else ExitCode.FINDINGS

    def lines(self) -> list[str]:
        out = [printable(f"{b.state}: agent {b.agent_id} ({b.agent_name}) · branch {b.branch_name}"
                         + (f" → revision {b.new_head}" if b.new_head else "") + (f": {b.reason}" if b.reason else ""))
               for b in self.branches]
        restored = sum(b.state == "restored" for b in self.branches)
        out.append(f"Restored {restored} branch(es); left {len(self.branches) - restored} as they are (above).")
        return out


async def agents_rollback(client: WavesClient, record_file: Path, options: AgentOptions | None = None) -> AgentsRollbackRun:
    options = options or AgentOptions()
    started = datetime.now(UTC)
    document = read_agent_record(record_file)
    same_account(document, client)
    run = AgentsRollbackRun(record_file)
    for entry in document["agents"]:
        undone = Undone(entry["agent_id"], str(entry.get("agent_name") or ""), entry["branch_id"],
                        str(entry.get("branch_name") or ""), "left")
        run.branches.append(undone)
        try:
            await _undo(client, entry, undone, options)
        except (BranchRefused, ApiError) as exc:
            undone.state, undone.reason = "failed", refusal(exc)
    mapping = document.get("mapping")
    if isinstance(mapping, str):
        section = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "record_file": str(record_file),
                   "branches": [b.to_json() for b in run.branches]}
        run.report_note, run.record = record_run(Path(mapping), RunKind.CUTOVER, run.exit_code, started,
                                                 agent_rollback=section)
    return run


def same_account(document: dict[str, Any], client: WavesClient) -> None:
    """Refuse (before any call) a record made with another account or base URL than this run's."""
    base = str(document.get("base_url") or "").rstrip("/")
    if base != client.base_url.rstrip("/"):
        raise UsageError(f"the rollback record was made against {base or 'an unnamed API'}, but this run points at "
                         f"{client.base_url}: nothing was changed.",
                         hint="Roll back with the settings of the account the record was made for "
                              "(--base-url / SMALLEST_BASE_URL, SMALLEST_API_KEY).")
    made_with = document.get("account")
    here = account_id(client.base_url, client.api_key)
    if made_with != here:
        raise UsageError(f"the rollback record was made with account {made_with or '(not named)'}, but this run's key "
                         f"is account {here}: nothing was changed.",
                         hint="Roll back with the API key of the account the record was made for (SMALLEST_API_KEY).")


async def _undo(client: WavesClient, entry: dict[str, Any], undone: Undone, options: AgentOptions) -> None:
    atoms = client.atoms
    agent_id, branch_id = entry["agent_id"], entry["branch_id"]
    before, after, state = entry.get("revision_before"), entry.get("revision_after"), entry.get("state")
    draft_id = entry.get("draft_id")
    if state == "failed" and entry.get("scan_failed"):
        undone.reason = ("the security scan refused clone-audit's publish: nothing went live on this branch"
                         + await _leftover(client, entry))
        return
    if state == "failed" or state == "writing":
        undone.reason = "nothing was published on this branch" + (await _leftover(client, entry) if draft_id else "")
        return
    if state in ("drafted", "publishing", "scanning") and draft_id:
        ours = await atoms.revision_from_draft(agent_id, branch_id, draft_id)
        if ours is None:
            undone.reason = (f"the switch stopped at `{state}`; no revision was published from its draft"
                             + await _leftover(client, entry))
            return
        if not ours.committed:
            undone.reason = (f"clone-audit's publish (revision {ours.revision_id}) has not passed its security scan "
                             "yet: run the rollback again once it has ended")
            return
        after = ours.revision_id
    elif state in ("drafted", "publishing"):
        undone.reason = f"the switch stopped at `{state}` and its draft is not known: check the branch"
        return
    if not after:
        undone.reason = f"no revision clone-audit published is known for this branch (state `{state}`); check it"
        return
    if not before:
        undone.reason = "the branch had no revision before the switch: nothing to restore"
        return
    branch = {b.branch_id: b for b in await atoms.list_branches(agent_id)}.get(branch_id)
    if branch is None:
        undone.reason = "the branch is gone (archived or deleted): left alone"
        return
    if branch.head_revision_id != after:
        undone.reason = (f"its head is now {branch.head_revision_id}, not the revision clone-audit published "
                         f"({after}): someone published since; left alone")
        return
    published = await atoms.restore(agent_id, branch_id, before)
    revision = await atoms.settle(agent_id, branch_id, published, after,
                                  wait_s=options.scan_wait_s, interval_s=options.poll_s)
    undone.revision_restored = before
    undone.new_head = None if revision is None else revision.revision_id
    if revision is not None and revision.committed:
        undone.state = "restored"
    elif revision is not None and revision.scan_failed:
        undone.state, undone.reason = "failed", f"the restore's security scan failed: {revision.scan_reason or ''}"
    else:
        undone.state = "scanning"
        undone.reason = f"the restore was still in its security scan after {options.scan_wait_s:g} s"


async def _leftover(client: WavesClient, entry: dict[str, Any]) -> str:
    """clone-audit's draft left open on the branch: discarded when it is that draft with our
    edit alone (the text says so), else named with what to do; "" when none is open."""
    draft_id = entry.get("draft_id")
    if not draft_id:
        return ""
    atoms = client.atoms
    draft = await atoms.get_draft(entry["agent_id"], entry["branch_id"])
    if draft is None or draft.draft_id != draft_id:
        return ""
    if draft.edit_count == 1:
        try:
            await atoms.discard_draft(entry["agent_id"], entry["branch_id"])
        except BranchRefused as exc:
            return (f"; clone-audit's draft {draft_id} is still open on the branch ({exc.reason}): "
                    "discard it in the dashboard")
        return f"; clone-audit's draft {draft_id}, left open on the branch, was discarded"
    return (f"; clone-audit's draft {draft_id} is open on the branch with other edits since: left alone; "
            "its editors publish or discard it in the dashboard")
