"""The demo's voice-agents chapter: agents that still name old voice ids, switched, then shown quiet.

This module owns `tell_agents`, `AgentsChapter` and `language_line`. After apply, the emulator's
seeded Atoms agents still name the legacy voices (one behind a colleague's open draft, one on a
branch that is not live, one archived, one in a workflow node), and the demo seeds one more,
`language_line`: a workflow graph naming, one per node, every legacy voice with a usable recording
that no other agent names, so whichever replacement the fidelity check flags, an agent names its
old id and the switch leaves that place alone (its mapping row is not ready).

The chapter runs the agents' cutover through the pipeline the CLI runs for `clone-audit cutover
MAPPING --agents --write --yes` (`audit.pipeline.agents`): the places found
(the dry run's listing, shown before the switch), the switch, confirmed as the demo confirms
apply, and what was left alone and why. Then it moves the emulator's clock on by `CALLS_S`, so
every active agent places its calls, and reads `usage` since the switch
(`audit.pipeline.cutover.usage`): the switched old ids are quiet, the ones left alone still called.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.api.client import WavesClient
from audit.cutover.agents import DRAFT, HEAD, AgentHit
from audit.emulator.agentdata import Agent, Branch, Revision, voice_ids
from audit.emulator.agentseed import DAY, MODEL, OWNER, START, STOCK_VOICE, config
from audit.pipeline import agents as agents_flow
from audit.pipeline import cutover as cutover_flow

#: How often each emulated agent places a call (on the emulator's clock), and how far the demo
#: moves that clock on after the switch: an hour of calls, without waiting for it.
CALL_EVERY_S = 300.0
CALLS_S = 3600.0
LANGUAGE_LINE = "Language Line"
#: Quiet old ids shown one per line, then listed together on one (a demo with many clones names many).
QUIET_SHOWN = 6
QUIET_LISTED = 24
#: Ready places listed one per line (every place not ready or in a draft is listed too).
PLACES_SHOWN = 30


@dataclass(frozen=True)
class AgentsChapter:
    run: agents_flow.AgentsRun
    archived: list[str]  # names of the archived agents, not read (as without --include-archived)
    usage: cutover_flow.UsageRun
    calls_s: float

    @property
    def switched(self) -> list[agents_flow.BranchOutcome]:
        return [o for o in self.run.outcomes if o.state == "switched"]

    @property
    def switched_ids(self) -> set[str]:
        done = {(o.agent_id, o.branch_id) for o in self.switched}
        return {h.old_voice_id for h in self.run.hits
                if h.kind == HEAD and h.ready and (h.agent_id, h.branch_id) in done}

    def quiet(self) -> tuple[list[str], list[str]]:
        """The switched old ids without a call since the switch, and those still called."""
        calls = {r.old_voice_id: r.old.calls for r in self.usage.rows}
        ids = sorted(self.switched_ids)
        return [v for v in ids if calls.get(v, 0) == 0], [v for v in ids if calls.get(v, 0) > 0]

    def lines(self) -> list[str]:
        run, hits = self.run, self.run.hits
        lines = [f"Voice agents: read {run.agents_read}; {len(hits)} place(s) in "
                 f"{len({h.agent_id for h in hits})} agent(s) name an old voice id "
                 f"({sum(h.ready for h in hits)} ready, {sum(not h.ready for h in hits)} not ready):"]
        shown = [h for n, h in enumerate(hits) if n < PLACES_SHOWN or h.kind == DRAFT or not h.ready]
        lines += [f"  {place(h)}" for h in shown]
        if len(shown) < len(hits):
            lines.append(f"  … and {len(hits) - len(shown)} more ready place(s) (all in the migration folder's "
                         "cutover.json)")
        lines.append(f"Switch (confirmed, as `cutover MAPPING --agents --write --yes`): {len(self.switched)} "
                     f"agent branch(es) switched, {len(self.left_alone())} place(s) left alone:")
        lines += [f"  switched: {o.agent_name} · branch {o.branch_name}{' [live]' if o.live else ''} · "
                  f"{o.switched} place(s) → revision {o.revision_after}" for o in self.switched]
        lines += [f"  left alone: {line}" for line in self.left_alone()]
        if run.record_file is not None:
            lines.append(f"  undo with: clone-audit cutover --rollback {run.record_file}")
        lines += self.usage_lines()
        return [agents_flow.printable(line) for line in lines]

    def left_alone(self) -> list[str]:
        """Each place or branch the switch did not change, with the reason."""
        outcomes = {(o.agent_id, o.branch_id): o for o in self.run.outcomes}
        lines = [f"{o.agent_name} · branch {o.branch_name}: {o.state}: {o.reason}"
                 for o in self.run.outcomes if o.state != "switched"]
        for h in self.run.hits:
            if h.kind == HEAD and not h.ready:
                lines.append(f"{h.agent_name} · branch {h.branch_name} · {h.path}: {h.old_voice_id} is not ready "
                             f"({h.why_not}): never switched")
            elif h.kind == DRAFT and (h.agent_id, h.branch_id) not in outcomes:
                lines.append(f"{h.agent_name} · branch {h.branch_name}: an open draft, never switched")
        lines += [f"{name}: archived (not read without --include-archived; an archived agent takes no calls)"
                  for name in self.archived]
        return lines

    def usage_lines(self) -> list[str]:
        since = self.usage.since.isoformat(timespec="seconds")
        named: dict[str, list[str]] = {}
        for h in self.run.hits:
            names = named.setdefault(h.old_voice_id, [])
            if h.agent_name not in names:
                names.append(h.agent_name)
        rows = {r.old_voice_id: r for r in self.usage.rows}
        switched = self.switched_ids
        lines = [f"Usage since the switch ({since}; the emulator's clock moved on "
                 f"{self.calls_s / 3600:g} h, agents calling every {CALL_EVERY_S / 60:g} min):"]
        quiet_ids: list[str] = []
        for voice_id, names in named.items():
            row = rows.get(voice_id)
            calls = row.old.calls if row else 0
            new = f"; new {row.new_voice_id}: {row.new.calls} call(s)" if row and row.new_voice_id and row.new else ""
            if voice_id in switched and calls == 0:
                quiet_ids.append(voice_id)
                if len(quiet_ids) > QUIET_SHOWN:
                    continue
            state = ("quiet" if calls == 0 else "STILL CALLED") if voice_id in switched else \
                ("still called: left alone" if calls else "not called (left alone)")
            lines.append(f"  {voice_id}  {calls} call(s){new}  {state}  ({', '.join(names)})")
        if len(quiet_ids) > QUIET_SHOWN:
            rest = quiet_ids[QUIET_SHOWN:]
            listed = ", ".join(rest[:QUIET_LISTED]) + (f", … ({len(rest) - QUIET_LISTED} more)"
                                                       if len(rest) > QUIET_LISTED else "")
            lines.append(f"  … and {len(rest)} more switched old id(s) quiet, 0 call(s) each: {listed}")
        quiet, called = self.quiet()
        lines.append(f"Old ids quiet after the switch: {len(quiet)} of {len(quiet) + len(called)} switched"
                     + (f"; still called: {', '.join(called)}." if called else "."))
        if not self.usage.logs.complete:
            lines.append("The analytics log was not read back to the switch: quiet is not proven.")
        return lines

    def summary_line(self) -> str:
        quiet, called = self.quiet()
        return (f"Agents: {len(self.run.hits)} place(s) in {len({h.agent_id for h in self.run.hits})} agent(s) "
                f"named old ids; {len(self.switched)} branch(es) switched, {len(self.left_alone())} left alone; "
                f"{len(quiet)} of {len(quiet) + len(called)} switched old ids quiet since.")

    @property
    def report(self) -> Path | None:
        record = self.run.record
        return None if record is None or record.folder is None else record.folder / "report.html"


def place(hit: AgentHit) -> str:
    """One place an old id stands: agent, branch (live or not), head or draft, path, old → new, ready."""
    live = " [live]" if hit.live else ""
    new = f" → {hit.new_voice_id}" if hit.new_voice_id else ""
    ready = "ready" if hit.ready else f"not ready: {hit.why_not}"
    return (f"{hit.agent_name} ({hit.agent_id}) · branch {hit.branch_name}{live} · {hit.kind} · "
            f"{hit.path}: {hit.old_voice_id}{new}  ({ready})")


async def tell_agents(client: WavesClient, mapping_path: Path, advance: Callable[[float], None],
                      now: Callable[[], float]) -> AgentsChapter:
    """Find and switch the agents naming old ids (confirmed), move the emulator's clock on
    (`advance`, `now`: its seconds since the epoch) and read the usage since the switch."""
    options = agents_flow.AgentOptions(write=True, poll_s=0.1, scan_wait_s=10.0)
    run = await agents_flow.agents_cutover(client, mapping_path, options, confirm=lambda proposal: True)
    archived = [a.name for a in await client.atoms.list_agents(archived=True) if a.archived]
    since = datetime.fromtimestamp(now(), UTC)  # the switch committed before this, on the same clock
    advance(CALLS_S)
    usage = await cutover_flow.usage(client, mapping_path, since)
    return AgentsChapter(run, archived, usage, CALLS_S)


def language_line(usable: Iterable[str], agents: Sequence[Agent], seed: int) -> Agent | None:
    """The demo's extra agent: a workflow graph whose nodes each speak with one of the `usable`
    legacy voices (those with a usable recording: each gets a replacement) that none of `agents`
    names; None when there is none left."""
    named = {v for a in agents for b in a.branches for r in b.revisions for v in voice_ids(r.config)}
    voices = [v for v in usable if v not in named]
    if not voices:
        return None
    rng = random.Random(f"demo-agents-{seed}")

    def oid() -> str:
        return f"{rng.getrandbits(96):024x}"

    nodes = [{"id": f"desk-{n}", "type": "default_node", "position": {"x": 300 * n, "y": 0},
              "data": {"name": f"Desk {n}", "prompt": "Answer in the caller's language; transfer billing.",
                       "synthesizer": {"voiceConfig": {"model": MODEL, "voiceId": v, "gender": "female"}}}}
             for n, v in enumerate(voices, start=1)]
    edges = [{"id": f"desk-{n}-{n + 1}", "source": f"desk-{n}", "target": f"desk-{n + 1}", "type": "default"}
             for n in range(1, len(voices))]
    body = config(STOCK_VOICE, LANGUAGE_LINE, "workflow_graph") | {"workflowGraph": {"nodes": nodes, "edges": edges}}
    agent_id, branch_id, at = oid(), oid(), START + 20 * DAY
    branch = Branch(branch_id, agent_id, "Main", True, OWNER, at)
    branch.revisions.append(Revision(oid(), branch_id, body, OWNER, at + DAY, number=1, label="v1",
                                     published_at=at + DAY, scan_done_at=at + DAY))
    return Agent(agent_id, LANGUAGE_LINE, "workflow_graph", OWNER, at, [branch], branch_id,
                 description="One desk per language, each with its own voice", total_calls=120)
