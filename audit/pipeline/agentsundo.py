"""Undoing an agents' cutover: restore the revision before, only where clone-audit's is still the head.

    sealed agents' rollback record (seal and shape checked) → per switched branch: the branch's
    head now → still the revision clone-audit published? restore the revision before (a new head,
    its scan waited out) : leave it and say why → cutover.json (`agent_rollbacks`) and a run

A composition root: the record is `audit.cutover.agentrecord`'s, the calls `audit.api.atoms`'.
A branch someone published on since (its head is another revision), a branch gone, or an entry
that never published is left alone, with the reason. Restore never touches a draft (the API's rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.api.atoms import BranchRefused
from audit.api.client import WavesClient
from audit.core.errors import ApiError, AuthError, ExitCode
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
    run = AgentsRollbackRun(record_file)
    for entry in document["agents"]:
        undone = Undone(entry["agent_id"], str(entry.get("agent_name") or ""), entry["branch_id"],
                        str(entry.get("branch_name") or ""), "left")
        run.branches.append(undone)
        try:
            await _undo(client, entry, undone, options)
        except BranchRefused as exc:
            undone.state, undone.reason = "failed", exc.reason
        except AuthError as exc:
            if exc.status == 401:
                raise
            undone.state, undone.reason = "failed", exc.message
        except ApiError as exc:
            undone.state, undone.reason = "failed", exc.message
    mapping = document.get("mapping")
    if isinstance(mapping, str):
        section = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "record_file": str(record_file),
                   "branches": [b.to_json() for b in run.branches]}
        run.report_note, run.record = record_run(Path(mapping), RunKind.CUTOVER, run.exit_code, started,
                                                 agent_rollback=section)
    return run


async def _undo(client: WavesClient, entry: dict[str, Any], undone: Undone, options: AgentOptions) -> None:
    atoms = client.atoms
    before, after, state = entry.get("revision_before"), entry.get("revision_after"), entry.get("state")
    if state == "failed" and not after:
        undone.reason = "nothing was published on this branch"
        return
    if state in ("writing", "drafted"):
        undone.reason = f"the switch stopped at `{state}`: a draft holding it may be open on the branch; check it"
        return
    if not after:
        undone.reason = f"no revision clone-audit published is known for this branch (state `{state}`); check it"
        return
    if not before:
        undone.reason = "the branch had no revision before the switch: nothing to restore"
        return
    branch = {b.branch_id: b for b in await atoms.list_branches(entry["agent_id"])}.get(entry["branch_id"])
    if branch is None:
        undone.reason = "the branch is gone (archived or deleted): left alone"
        return
    if branch.head_revision_id != after:
        undone.reason = (f"its head is now {branch.head_revision_id}, not the revision clone-audit published "
                         f"({after}): someone published since; left alone")
        return
    published = await atoms.restore(entry["agent_id"], entry["branch_id"], before)
    revision = await atoms.settle(entry["agent_id"], entry["branch_id"], published, after,
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
