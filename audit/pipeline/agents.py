"""The agents' cutover: find voice agents whose configs name old voice ids, switch them, record it.

    mapping (checked against its ledger) → every agent, all pages (archived ones on request)
    → per agent its branches → each branch's head config and open draft's config
    → cutover.agents.find: every place an old id stands → the dry run's diff
    --write: confirmation → per branch: re-read, sealed record entry, draft write based on the
    revision read, publish, the security scan waited out → the record updated before the next call
    → cutover.json (`agents`, `agent_writes`) and a cutover run of its own

A composition root: where ids stand and what a write sends are decided in `audit.cutover.agents`;
the calls are `audit.api.atoms`'; the record is `audit.cutover.agentrecord`'s; the rollback is in
`audit.pipeline.agentsundo`. What is never done: a branch with an open draft is not written (its
draft would be published with the switch), an id whose mapping row is not ready is not replaced,
a conflict is never overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit import __version__
from audit.api.atoms import BranchRefused, refusal
from audit.api.atomswire import AgentSummary
from audit.api.client import WavesClient
from audit.core.errors import ApiError, ExitCode
from audit.core.runfolder import RunFolder
from audit.core.secrets import REGISTRY
from audit.core.userstate import account_id
from audit.core.untrusted import visible
from audit.cutover import agents as found_in
from audit.cutover.agentrecord import AgentRecord
from audit.cutover.agents import DRAFT, HEAD, AgentHit, ConfigSource
from audit.cutover.mapping import VoiceMapping, read_mapping
from audit.migrate.proposal import Confirm, Proposal
from audit.pipeline.agentswitch import AgentOptions, BranchOutcome, BranchRead, switch_branch
from audit.pipeline.cutover import backed, record_run
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord

@dataclass
class AgentsRun:
    mapping: VoiceMapping
    agents_read: int = 0
    reads: dict[tuple[str, str], BranchRead] = field(default_factory=dict)
    hits: list[AgentHit] = field(default_factory=list)
    unchecked: list[tuple[str, str, str]] = field(default_factory=list)  # agent id, name, why
    outcomes: list[BranchOutcome] = field(default_factory=list)
    record_file: Path | None = None
    confirmed: bool | None = None  # None: no write asked for
    report_note: str = ""
    record: RunRecord | None = None

    @property
    def remaining(self) -> list[AgentHit]:
        """Places that still name an old id: all but the ready ones of branch heads switched (a
        switch still in its security scan is not counted done)."""
        done = {(o.agent_id, o.branch_id) for o in self.outcomes if o.state == "switched"}
        return [h for h in self.hits if not (h.kind == HEAD and h.ready and (h.agent_id, h.branch_id) in done)]

    @property
    def exit_code(self) -> ExitCode:
        if self.unchecked:
            return ExitCode.PARTIAL
        return ExitCode.FINDINGS if self.remaining or any(o.state in ("failed", "scan-failed")
                                                          for o in self.outcomes) else ExitCode.OK

    def diff(self) -> list[str]:
        """The dry run: per branch config with old ids, its diff."""
        lines: list[str] = []
        for (agent_id, branch_id, kind), group in found_in.by_branch(self.hits).items():
            read = self.reads.get((agent_id, branch_id))
            note = ""
            if kind == DRAFT:
                note = "  (an open draft: reported, never switched)"
            elif read is not None and (read.draft is not None or read.branch.open_draft_id is not None):
                note = "  (this branch has an open draft: it will be skipped)"
            changes = found_in.diff_lines(group) if kind == HEAD else [f"   {h.path}: {h.old_voice_id}" for h in group]
            lines += [printable(found_in.where(group[0]) + note), *(printable(x) for x in changes)]
        return lines

    def lines(self) -> list[str]:
        return describe(self)


async def agents_cutover(client: WavesClient, mapping_path: Path, options: AgentOptions,
                         confirm: Confirm | None = None, show: Callable[[list[str]], None] | None = None) -> AgentsRun:
    """Find every agent config naming an old id; with `options.write`, once `show` printed the
    diff and `confirm` agreed, switch the ready ones branch by branch."""
    started = datetime.now(UTC)
    run = AgentsRun(backed(read_mapping(mapping_path)))
    await find_agents(client, run, include_archived=options.include_archived)
    if show is not None:
        show(run.diff())
    todo = [key for key, group in _switchable(run).items() if group]
    if options.write and todo:
        run.confirmed = confirm(_proposal(run, todo)) if confirm is not None else False
        if run.confirmed:
            await switch(client, run, mapping_path, options)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    sections: dict[str, Any] = {"agents": agents_section(run, at, options.include_archived)}
    if run.record_file is not None:
        sections["agent_write"] = {"at": at, "record_file": str(run.record_file),
                                   "branches": [o.to_json() for o in run.outcomes]}
    run.report_note, run.record = record_run(mapping_path, RunKind.CUTOVER, run.exit_code, started, **sections)
    return run


async def find_agents(client: WavesClient, run: AgentsRun, *, include_archived: bool) -> None:
    """Every agent (all pages), its branches, each branch's head and open draft configs → hits."""
    atoms = client.atoms
    agents = await atoms.list_agents()
    if include_archived:
        known = {a.agent_id for a in agents}
        agents += [a for a in await atoms.list_agents(archived=True) if a.agent_id not in known]
    else:  # the active list may hold archived agents too: they are read only on request
        agents = [a for a in agents if not a.archived]
    run.agents_read = len(agents)
    for agent in agents:
        try:
            run.hits += found_in.find(await _read_agent(client, run, agent), run.mapping)
        except ApiError as exc:  # this agent's answers: the others are still read
            run.unchecked.append((agent.agent_id, agent.name, refusal(exc)))
        except (found_in.TooDeep, RecursionError) as exc:  # a hostile config: this agent is not checked
            run.unchecked.append((agent.agent_id, agent.name, str(exc) or "its config nests too deep to read"))
            for key in [k for k in run.reads if k[0] == agent.agent_id]:
                del run.reads[key]


async def _read_agent(client: WavesClient, run: AgentsRun, agent: AgentSummary) -> list[ConfigSource]:
    """One agent's configs: each branch's head, and each open draft."""
    atoms = client.atoms
    sources = []
    for branch in await atoms.list_branches(agent.agent_id):
        head = None if branch.head_revision_id is None else await atoms.get_revision(
            agent.agent_id, branch.branch_id, branch.head_revision_id)
        draft = None if branch.open_draft_id is None else await atoms.get_draft(agent.agent_id, branch.branch_id)
        read = BranchRead(agent.agent_id, agent.name, agent.archived, branch, head, draft)
        run.reads[(agent.agent_id, branch.branch_id)] = read
        if head is not None:
            sources.append(_source(read, HEAD, head.revision_id, head.config or {}))
        draft_id = branch.open_draft_id or (draft.draft_id if draft else None)
        if draft is not None and draft_id:
            config = await atoms.get_agent_config(agent.agent_id, draft_id=draft_id)
            sources.append(_source(read, DRAFT, draft_id, config))
    return sources


def _source(read: BranchRead, kind: str, revision: str | None, config: Mapping[str, Any]) -> ConfigSource:
    return ConfigSource(read.agent_id, read.agent_name, read.archived, read.branch.branch_id, read.branch.name,
                        read.branch.is_live, kind, revision, config)


def _proposal(run: AgentsRun, todo: Sequence[tuple[str, str]]) -> Proposal:
    """What --write is about to do: one line per agent branch (its old → new ids), and what it costs."""
    groups = _switchable(run)
    lines = []
    for key in todo:
        hits = groups[key]
        first = hits[0]
        ids = ", ".join(sorted({f"{h.old_voice_id} → {h.new_voice_id}" for h in hits}))
        lines.append(visible(f"{first.agent_name} ({first.agent_id}) branch {first.branch_name}"
                             f"{' (live)' if first.live else ''}: {ids}"))
    return Proposal(
        what=f"switch voice ids on {len(todo)} agent branch(es), publishing each (a live branch serves calls at once)",
        voices=tuple(lines),
        cost=f"{len(todo)} draft write(s) and publish(es), each through the vendor's security scan; no TTS "
             "characters; undone with cutover --rollback RECORD",
    )


def _switchable(run: AgentsRun) -> dict[tuple[str, str], list[AgentHit]]:
    """Ready hits of branch heads, by (agent, branch)."""
    groups: dict[tuple[str, str], list[AgentHit]] = {}
    for hit in run.hits:
        if hit.kind == HEAD and hit.ready and hit.new_voice_id:
            groups.setdefault((hit.agent_id, hit.branch_id), []).append(hit)
    return groups


async def switch(client: WavesClient, run: AgentsRun, mapping_path: Path, options: AgentOptions) -> None:
    """Per branch with ready ids: write, publish, wait out the scan; every step recorded first."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(2).hex()
    folder = RunFolder(mapping_path.parent)
    where = options.rollback_dir or (folder.cutover_dir if folder.plan_json.exists()
                                     else mapping_path.parent / "clone-audit-rollback")
    book = AgentRecord(where / f"agents-rollback-{stamp}.json", {
        "tool": "clone-audit", "version": __version__, "mapping": str(mapping_path.resolve()),
        "base_url": client.base_url, "account": account_id(client.base_url, client.api_key)})
    run.record_file = book.path
    book.save()
    for (agent_id, branch_id), hits in _switchable(run).items():
        read = run.reads[(agent_id, branch_id)]
        outcome = BranchOutcome(agent_id, read.agent_name, branch_id, read.branch.name, read.branch.is_live, "skipped",
                                revision_before=read.branch.head_revision_id)
        run.outcomes.append(outcome)
        try:
            await switch_branch(client, read, hits, book, outcome, options)
        except (BranchRefused, ApiError) as exc:
            outcome.state, outcome.reason = "failed", refusal(exc)
        except RecursionError:  # an answer nested too deep to compare: this branch is not published
            outcome.state, outcome.reason = "failed", "an answer nested too deep to read; not published"


def agents_section(run: AgentsRun, at: str, include_archived: bool) -> dict[str, Any]:
    remaining = run.remaining
    return {
        "at": at, "agents_read": run.agents_read, "include_archived": include_archived,
        "found": len(run.hits), "agents_with_ids": len({h.agent_id for h in run.hits}),
        "ready": sum(h.ready for h in run.hits), "not_ready": sum(not h.ready for h in run.hits),
        "remaining": len(remaining),
        "unchecked": [{"agent_id": a, "agent_name": n, "reason": r} for a, n, r in run.unchecked][:50],
        "unchecked_count": len(run.unchecked),
        "items": [h.to_json() for h in run.hits][:200],
    }


def describe(run: AgentsRun) -> list[str]:
    lines = []
    for o in run.outcomes:
        after = f" → revision {o.revision_after}" if o.revision_after else ""
        lines.append(f"{o.state}: agent {o.agent_id} ({o.agent_name}) · branch {o.branch_name}"
                     f"{' [live]' if o.live else ''}{after}{': ' + o.reason if o.reason else ''}")
    lines += [f"not checked: agent {a} ({n}): {r}" for a, n, r in run.unchecked]
    hits = run.hits
    lines.append(f"Read {run.agents_read} agent(s): {len(hits)} place(s) name an old id in "
                 f"{len({h.agent_id for h in hits})} agent(s): {sum(h.ready for h in hits)} ready, "
                 f"{sum(not h.ready for h in hits)} not ready.")
    drafts = sum(h.kind == DRAFT for h in run.remaining)
    if drafts:
        lines.append(f"{drafts} place(s) are in open drafts: a draft is someone's unpublished work, never switched "
                     "by clone-audit; its editor changes it (or discards it), then run again.")
    if run.confirmed is False:
        lines.append("Nothing was switched: the confirmation was not given.")
    elif run.record_file is not None:
        lines.append(f"Rollback record: {run.record_file}")
        lines.append(f"  undo with: clone-audit cutover --rollback {run.record_file}")
    elif any(h.ready for h in hits):
        lines.append("Nothing was switched: --write switches the ready ids (after this diff and a confirmation).")
    lines.append(f"{len(run.remaining)} place(s) in agent configs still name an old id." if run.remaining
                 else "No agent config names an old id.")
    return [printable(line) for line in lines]


def printable(text: str) -> str:
    """A line of server text as it may be printed: no secret, no control character."""
    return visible(REGISTRY.redact(text))
