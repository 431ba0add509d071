"""The seeded Atoms agents of a generated organisation: who still names which old voice id.

This module owns `generate_agents(clones, seed, count)`: the account's voice agents, derived
from its clones and reproducible from (clones, seed). The scenario agents come first, each
naming voices from three pools: legacy voices whose archived recording is usable
(`archivekinds.archive_outcomes` "ok" / "fit": a migration with the same seed gives each a
replacement, ready unless its fidelity check fails), legacy voices without a usable recording
(no replacement, so never switched), and voices already on v3.1. `SCENARIOS` names them and
says what each holds. Plain agents naming v3.1 voices follow, up to `count` agents in all.
A pool that is empty lends from the next (usable → unusable → v3.1 → the stock voice `nyah`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from audit.emulator.agentdata import Agent, Branch, Draft, Edit, Revision, User, merged
from audit.emulator.archivekinds import archive_outcomes

OWNER = User("5f0c0ffee0000000000c0de1", "Asha Menon")
COLLEAGUE = User("5f0c0ffee0000000000d0e02", "Marco Ruiz")
EDITOR = User("5f0c0ffee0000000000e0d03", "Dana Whitfield")  # the colleague with a draft open
START = datetime(2026, 2, 2, 9, tzinfo=UTC).timestamp()
DAY = 86_400.0
STOCK_VOICE = "nyah"
#: Stock voices every account may name: the spec's default (the emulator knows no other).
STOCK_VOICES = (STOCK_VOICE,)
MODEL = "waves_lightning_v3_1"

#: The scenario agents, in seeding order: name → what it holds.
SCENARIOS = {
    "Front Desk": "live Main names a legacy voice with a usable recording",
    "Billing Line": "two revisions on Main: the first named a v3.1 voice, the live head a legacy one",
    "Appointment Reminders": "live Main names one legacy voice, the not-live branch weekend-hours another",
    "Support Triage": "live Main names a legacy voice; Dana Whitfield has a draft open on Main (2 edits)",
    "Collections": "archived; Main names a legacy voice",
    "IVR Router": "workflow graph: the synthesizer names a v3.1 voice, node billing a legacy one",
    "Sales Outreach": "live Main names a legacy voice without a usable recording (no ready replacement)",
    "Concierge": "live Main names a voice already on v3.1",
    "Spring Campaign": "live branch spring-2026 (not Main) names a legacy voice; Main a v3.1 one",
}


class SeedClone(Protocol):
    @property
    def voice_id(self) -> str: ...

    @property
    def engine(self) -> str: ...

    @property
    def fields(self) -> Mapping[str, Any]: ...


class _Pools:
    """The three pools of voice ids, lent from one another when one runs dry."""

    def __init__(self, clones: Sequence[SeedClone], seed: int) -> None:
        outcomes = archive_outcomes(clones, seed)
        self.usable = [v for v, o in outcomes.items() if o in ("ok", "fit")]
        self.unusable = [v for v, o in outcomes.items() if o not in ("ok", "fit")]
        self.v31 = [c.voice_id for c in clones if c.engine == "v3.1"
                    and c.fields.get("status", "completed") in ("completed", None)
                    and isinstance(c.fields.get("modelIds"), list) and "lightning-v3.1" in c.fields["modelIds"]]
        self._next = {"usable": 0, "unusable": 0, "v31": 0}

    def take(self, pool: str) -> str:
        order = ("usable", "unusable", "v31")
        for name in order[order.index(pool):]:
            ids: list[str] = getattr(self, name)
            if ids:
                n = self._next[pool]
                self._next[pool] += 1
                return ids[n % len(ids)]
        return STOCK_VOICE


def config(voice_id: str, name: str, workflow_type: str = "single_prompt") -> dict[str, Any]:
    """An agent's configuration as `GET /agent/{id}` resolves it, naming `voice_id`."""
    body: dict[str, Any] = {
        "globalPrompt": f"You are {name}, a courteous phone assistant for Northwind Clinics.",
        "firstMessage": f"Hello, you have reached {name}. How can I help?",
        "slmModel": "electron",
        "language": {"default": "en", "supported": ["en"], "switching": {"isEnabled": False}},
        "synthesizer": {"voiceConfig": {"model": MODEL, "voiceId": voice_id, "gender": "female"},
                        "speed": 1.0, "consistency": 0.5, "similarity": 0, "enhancement": 1},
    }
    if workflow_type == "single_prompt":
        body |= {"prompt": f"Answer callers' questions for {name}; transfer anything medical.", "tools": []}
    return body


def graph(node_voice: str) -> dict[str, Any]:
    """A small workflow graph whose billing node speaks with its own voice."""
    def node(node_id: str, kind: str, x: int, data: dict[str, Any]) -> dict[str, Any]:
        return {"id": node_id, "type": kind, "position": {"x": x, "y": 0}, "data": data}
    return {"nodes": [
        node("greeting", "default_node", 0, {"name": "Greeting", "prompt": "Greet the caller and ask why they call."}),
        node("billing", "default_node", 300, {
            "name": "Billing", "prompt": "Help with invoices and payments.",
            "synthesizer": {"voiceConfig": {"model": MODEL, "voiceId": node_voice, "gender": "male"}}}),
        node("goodbye", "end_call", 600, {"name": "Goodbye", "prompt": "Thank the caller and end the call."}),
    ], "edges": [{"id": "greeting-billing", "source": "greeting", "target": "billing", "type": "default"},
                 {"id": "billing-goodbye", "source": "billing", "target": "goodbye", "type": "default"}]}


class _Seeder:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"agents-{seed}")

    def oid(self) -> str:
        return f"{self._rng.getrandbits(96):024x}"

    def branch(self, agent_id: str, name: str, at: float, configs: Iterable[dict[str, Any]],
               source: Branch | None = None) -> Branch:
        branch = Branch(self.oid(), agent_id, name, source is None, OWNER, at,
                        source_branch=source.id if source else None,
                        source_revision=(h.id if source and (h := source.head()) else None))
        for n, body in enumerate(configs, start=1):
            when = at + n * DAY
            branch.revisions.append(Revision(self.oid(), branch.id, body, OWNER if n == 1 else COLLEAGUE, when,
                                             number=n, label=f"v{n}", published_at=when, scan_done_at=when))
        return branch

    def agent(self, index: int, name: str, branches: Sequence[tuple[str, list[dict[str, Any]]]],
              *, live: int = 0, workflow_type: str = "single_prompt", archived: bool = False) -> Agent:
        at = START + index * 2 * DAY
        agent_id = self.oid()
        made: list[Branch] = []
        for branch_name, configs in branches:
            made.append(self.branch(agent_id, branch_name, at, configs, made[0] if made else None))
        return Agent(agent_id, name, workflow_type, OWNER, at, made, made[live].id,
                     description=f"{name} for Northwind Clinics", total_calls=40 + 17 * index,
                     archived_at=at + 30 * DAY if archived else None)

    def open_draft(self, agent: Agent, editor: User, edits: Sequence[dict[str, Any]]) -> None:
        """A draft on the agent's Main branch, written by `editor`."""
        branch = agent.branches[0]
        head = branch.head()
        start = head.config if head else {}
        draft = Draft(self.oid(), branch.id, start, initial=start, name=f"{editor.name}'s changes")
        for n, fields in enumerate(edits, start=1):
            draft.config = merged(draft.config, fields)
            at = (head.created_at if head else agent.created_at) + n * 3600.0
            draft.edits.append(Edit(self.oid(), n, editor, at, tuple(fields), tuple(fields), draft.config))
        branch.draft = draft


def generate_agents(clones: Iterable[SeedClone], seed: int, count: int) -> list[Agent]:
    """The org's agents: the `SCENARIOS` first (as many as `count` allows), then plain ones."""
    pools = _Pools(list(clones), seed)
    s = _Seeder(seed)
    usable, unusable, v31 = (lambda: pools.take("usable")), (lambda: pools.take("unusable")), (lambda: pools.take("v31"))
    agents = [
        s.agent(0, "Front Desk", [("Main", [config(usable(), "Front Desk")])]),
        s.agent(1, "Billing Line", [("Main", [config(v31(), "Billing Line"), config(usable(), "Billing Line")])]),
        s.agent(2, "Appointment Reminders", [("Main", [config(usable(), "Appointment Reminders")]),
                                             ("weekend-hours", [config(usable(), "Weekend Reminders")])]),
        s.agent(3, "Support Triage", [("Main", [config(usable(), "Support Triage")])]),
        s.agent(4, "Collections", [("Main", [config(usable(), "Collections")])], archived=True),
        s.agent(5, "IVR Router", [("Main", [config(v31(), "IVR Router", "workflow_graph")
                                            | {"workflowGraph": graph(usable())}])], workflow_type="workflow_graph"),
        s.agent(6, "Sales Outreach", [("Main", [config(unusable(), "Sales Outreach")])]),
        s.agent(7, "Concierge", [("Main", [config(v31(), "Concierge")])]),
        s.agent(8, "Spring Campaign", [("Main", [config(v31(), "Spring Campaign")]),
                                       ("spring-2026", [config(usable(), "Spring Campaign")])], live=1),
    ]
    s.open_draft(agents[3], EDITOR, [{"firstMessage": "Hi, this is Support. What seems to be the problem?"},
                                     {"globalPrompt": "You triage support calls and open tickets."}])
    agents = agents[:count]
    for index in range(len(agents), count):
        name = f"Line {index + 1:02d}"
        agents.append(s.agent(index, name, [("Main", [config(v31(), name)])]))
    return agents
