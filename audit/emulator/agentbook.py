"""The emulated Atoms agents' lifecycle: drafts, optimistic concurrency, publish and its scan, restore.

This module owns `AgentBook`, the account's agents as the branch model keeps them (records in
`agentdata`), and every change the routes make to them, answered as the JSON the vendor
documents (`atoms.py` only parses requests and picks faults): a draft write merges into the
branch's one open draft, and with `expectedRevision` is refused (409 `DraftConflictError`) when
an edit since that revision touched one of the same fields, or (409 `base_revision_unavailable`)
when that revision does not exist; a publish commits at once (200), or, with
`EmulatorConfig.agents_scan_s`, arms a security scan on the emulator's clock (202) that commits
when it ends, or fails (the draft reopens marked failed, and publishing it again is a 409 until
it is edited); restore commits a copy of an older revision as the new head. Every commit is kept
as a `Publication`. With `EmulatorConfig.agent_call_every_s` each active agent places a call
every so many seconds on the clock, one TTS call per voice its live config names, so the
analytics log shows an old id going quiet once the live branch names a new one.
All state is guarded by one lock; an `AgentError` carries the status and body of a refusal.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from audit.emulator.agentdata import (
    Agent, Branch, Draft, Edit, Publication, Revision, User, leaf_paths, merged, overlaps, resolved, value_at,
    voice_ids,
)  # fmt: skip
from audit.emulator.clock import Clock
from audit.emulator.knobs import EmulatorConfig
from audit.emulator.traffic import TtsLogRecord

#: Who the API key acts as, and the colleague whose edit a conflict fault makes.
API_USER = User("5f0c0ffee0000000000a11ce", "API key")
RIVAL = User("5f0c0ffee0000000000b0b00", "Dana Whitfield")
SCAN_FAILED = "Security scan failed: the prompt asks the agent to read out payment card numbers"
#: At most this many calls per agent voice are added at once (a long gap replays only its end).
MAX_TICKS = 1000
CALL_TEXT = "Hello, thanks for calling. How can I help you today?"


class AgentError(Exception):
    """A refusal: the HTTP status and the JSON body the vendor documents for it."""

    def __init__(self, status: int, text: str, error_type: str | None = None, **extra: Any) -> None:
        super().__init__(text)
        self.status = status
        self.body: dict[str, Any] = {"status": False, **({"error_type": error_type} if error_type else {}),
                                     "errors": [text], **extra}


class AgentBook:
    """The account's agents; thread-safe; every method answers wire-ready JSON."""

    def __init__(self, agents: Iterable[Agent], config: EmulatorConfig, clock: Clock, organization: str) -> None:
        self._lock = threading.Lock()
        self._agents = {a.id: a for a in agents}
        self._config = config
        self._clock = clock
        self._organization = organization
        self._ids = random.Random(f"agent-ids-{config.seed}")
        self._publications: list[Publication] = []
        self._calls: list[TtsLogRecord] = []
        self._calls_until = clock.now()

    def new_id(self) -> str:
        return f"{self._ids.getrandbits(96):024x}"

    # -- reads ----------------------------------------------------------------------------

    def list_agents(self, *, archived: bool, search: str | None, workflow_type: str | None,
                    sort_field: str, descending: bool) -> list[dict[str, Any]]:
        """Every agent the filters keep, sorted (ties broken by id, so pages are stable)."""
        with self._lock:
            self._settle()
            chosen = [a for a in self._agents.values() if (a.archived_at is not None) == archived
                      and (not search or search.lower() in a.name.lower())
                      and (workflow_type is None or a.workflow_type == workflow_type)]
            keys = {"createdAt": lambda a: a.created_at, "updatedAt": lambda a: a.updated_at(),
                    "totalCalls": lambda a: a.total_calls, "name": lambda a: a.name.lower(),
                    "workflowType": lambda a: a.workflow_type}
            key = keys[sort_field]
            chosen.sort(key=lambda a: a.id, reverse=descending)
            chosen.sort(key=key, reverse=descending)
            return [a.to_json(self._organization) for a in chosen]

    def get_agent(self, agent_id: str, draft_id: str | None = None, version_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            self._settle()
            agent = self._agents.get(agent_id)
            if agent is None:
                raise AgentError(400, "No agent found")
            body = agent.to_json(self._organization)
            config, source = agent.live_config(), "active"
            if draft_id is not None:
                draft = next((b.draft for b in agent.branches if b.draft and b.draft.id == draft_id), None)
                if draft is None:
                    raise AgentError(400, "No draft found")
                config, source = draft.config, "draft"
            elif version_id is not None:
                found = next((r for b in agent.branches for r in b.revisions if r.id == version_id), None)
                if found is None:
                    raise AgentError(400, "No version found")
                config, source = found.config, "version"
            body["_resolvedConfig"] = resolved(config, agent.workflow_type)
            body["_versionedWorkflow"] = {k: copy.deepcopy(config[k]) for k in ("prompt", "tools", "workflowGraph")
                                          if k in config}
            if draft_id is not None or version_id is not None:
                body["_configSource"] = source
            return body

    def branches(self, agent_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._settle()
            agent = self._agent(agent_id)
            return [b.summary(agent) for b in agent.branches]

    def get_branch(self, agent_id: str, branch_id: str) -> dict[str, Any]:
        with self._lock:
            self._settle()
            agent, branch = self._branch(agent_id, branch_id)
            return branch.summary(agent)

    def get_draft(self, agent_id: str, branch_id: str) -> dict[str, Any]:
        with self._lock:
            self._settle()
            agent, branch = self._branch(agent_id, branch_id)
            if branch.draft is None:
                raise AgentError(404, "No open draft on this branch")
            return branch.draft.detail(agent)

    def revisions(self, agent_id: str, branch_id: str, limit: int, skip: int) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            self._settle()
            agent, branch = self._branch(agent_id, branch_id)
            newest = branch.revisions[::-1]
            return [r.to_json(agent) for r in newest[skip:skip + limit]], len(newest)

    def revision(self, agent_id: str, branch_id: str, revision_id: str) -> dict[str, Any]:
        with self._lock:
            self._settle()
            agent, branch = self._branch(agent_id, branch_id)
            found = next((r for r in branch.revisions if r.id == revision_id), None)
            if found is None:
                raise AgentError(400, "Revision does not belong to this branch")
            return {"revision": found.to_json(agent), "resolvedConfig": resolved(found.config, agent.workflow_type)}

    # -- writes ---------------------------------------------------------------------------

    def write_draft(self, agent_id: str, branch_id: str, fields: Mapping[str, Any], expected: int | None,
                    *, rival_first: bool = False) -> dict[str, Any]:
        """Merge `fields` into the open draft (opening one from the head), checking `expected`.

        `rival_first` (the `agents_draft_conflict` fault): a colleague writes the same fields
        (to what they hold now) just before, so a write based on an older revision conflicts."""
        with self._lock:
            self._settle()
            agent, branch = self._branch(agent_id, branch_id)
            if rival_first:
                self._edit(branch, {}, RIVAL, paths=tuple(leaf_paths(fields)))
            draft = branch.draft
            current = draft.revision if draft else 0
            if expected is not None and expected > current:
                raise AgentError(409, "base_revision_unavailable", "base_revision_unavailable")
            if expected is not None and draft is not None and expected < current:
                self._check_conflict(draft, fields, expected)
            edit = self._edit(branch, fields, API_USER)
            assert branch.draft is not None
            return branch.draft.row(agent, edit)

    def publish(self, agent_id: str, branch_id: str, label: str | None, *, fails: bool) -> tuple[int, dict[str, Any]]:
        """200 committed, or 202 scanning (`agents_scan_s`); `fails` (the `agents_scan_fail` fault)
        fails the scan: at once (409) without a scan delay, else when the scan ends."""
        with self._lock:
            self._settle()
            agent, branch = self._branch(agent_id, branch_id)
            draft = branch.draft
            if draft is None:
                raise AgentError(404, "No open draft on this branch")
            if branch.scanning() is not None:
                raise AgentError(409, "A publish is already in progress on this branch", "publish_in_progress")
            if draft.failed_reason is not None:
                raise AgentError(409, draft.failed_reason + "; edit the draft and publish again",
                                 "security_scan_failed")
            now = self._clock.now()
            revision = Revision(self.new_id(), branch.id, copy.deepcopy(draft.config), API_USER, now, label=label,
                                source_draft=draft)
            if self._config.agents_scan_s <= 0:
                if fails:
                    draft.failed_reason = SCAN_FAILED
                    raise AgentError(409, SCAN_FAILED, "security_scan_failed")
                branch.draft = None
                self._commit(agent, branch, revision, now, "publish")
                return 200, {"state": "committed", "revision": revision.to_json(agent)}
            revision.scan, revision.scan_fails = "queued", fails
            revision.scan_due = self._clock.monotonic() + self._config.agents_scan_s
            branch.revisions.append(revision)
            branch.draft = None
            return 202, {"state": "scanning"}

    def discard_draft(self, agent_id: str, branch_id: str) -> dict[str, Any]:
        """Drop the branch's open draft (404 when none is open); the head stays."""
        with self._lock:
            self._settle()
            agent, branch = self._branch(agent_id, branch_id)
            if branch.draft is None:
                raise AgentError(404, "No open draft on this branch")
            branch.draft = None
            return {"discarded": True}

    def restore(self, agent_id: str, branch_id: str, revision_id: str) -> tuple[int, dict[str, Any]]:
        """A copy of a committed revision of this branch, committed as its new head (200)."""
        with self._lock:
            self._settle()
            agent, branch = self._branch(agent_id, branch_id)
            source = next((r for r in branch.revisions if r.id == revision_id), None)
            if source is None:
                raise AgentError(404, "Revision not found on this branch")
            if not source.committed:
                raise AgentError(403, "The revision has not passed its security scan")
            if branch.scanning() is not None:
                raise AgentError(409, "A publish is already in progress on this branch", "publish_in_progress")
            now = self._clock.now()
            revision = Revision(self.new_id(), branch.id, copy.deepcopy(source.config), API_USER, now,
                                label=source.label, restored_from=source)
            self._commit(agent, branch, revision, now, "restore")
            return 200, {"state": "committed", "revision": revision.to_json(agent)}

    # -- what tests and the usage story read ----------------------------------------------

    def publications(self) -> list[Publication]:
        with self._lock:
            self._settle()
            return list(self._publications)

    def live_config(self, agent_id: str) -> dict[str, Any]:
        """The config the agent's live branch serves now (its head)."""
        with self._lock:
            self._settle()
            return copy.deepcopy(self._agent(agent_id).live_config())

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._agents)

    def calls(self) -> list[TtsLogRecord]:
        """The agents' TTS calls up to the clock's now (with `agent_call_every_s`), oldest first."""
        with self._lock:
            self._settle()
            self._place_calls(self._clock.now())
            return list(self._calls)

    # -- inside the lock ------------------------------------------------------------------

    def _agent(self, agent_id: str) -> Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise AgentError(404, "Agent not found")
        return agent

    def _branch(self, agent_id: str, branch_id: str) -> tuple[Agent, Branch]:
        agent = self._agent(agent_id)
        branch = agent.find_branch(branch_id)
        if branch is None:
            raise AgentError(404, "Branch not found")
        return agent, branch

    @staticmethod
    def _draft_config(branch: Branch) -> dict[str, Any]:
        if branch.draft is not None:
            return branch.draft.config
        head = branch.head()
        return head.config if head else {}

    def _edit(self, branch: Branch, patch: Mapping[str, Any], editor: User,
              paths: tuple[str, ...] | None = None) -> Edit:
        """One write to the branch's draft, opening it from the head if none is open. With
        `paths`, an edit that sets those fields to what they hold (a colleague's save)."""
        if branch.draft is None:
            start = copy.deepcopy(self._draft_config(branch))
            branch.draft = Draft(self.new_id(), branch.id, start, initial=copy.deepcopy(start))
        draft = branch.draft
        draft.config = merged(draft.config, patch)
        draft.failed_reason = None
        touched = paths if paths is not None else tuple(leaf_paths(patch))
        edit = Edit(self.new_id(), draft.revision + 1, editor, self._clock.now(), touched,
                    tuple(dict.fromkeys(p.split(".")[0] for p in touched)), copy.deepcopy(draft.config))
        draft.edits.append(edit)
        return edit

    @staticmethod
    def _check_conflict(draft: Draft, fields: Mapping[str, Any], expected: int) -> None:
        mine = list(leaf_paths(fields))
        base = draft.edits[expected - 1].config if expected > 0 else draft.initial
        clashing = sorted({p for e in draft.edits[expected:] for p in mine for q in e.paths if overlaps(p, q)})
        if clashing:
            diffs = [{"path": p, "base": value_at(base, p), "theirs": value_at(draft.config, p),
                      "yours": value_at(fields, p)} for p in clashing]
            error = AgentError(409, clashing[0])
            error.body = {"status": False, "errors": clashing, "data": {"conflict": {
                "expectedRevision": expected, "latestRevision": draft.revision, "diffs": diffs}}}
            raise error

    def _commit(self, agent: Agent, branch: Branch, revision: Revision, at: float, kind: str) -> None:
        live = agent.live_branch == branch.id
        if live:
            self._place_calls(at)  # the calls before this commit went to the old config
        revision.scan, revision.scan_done_at, revision.scan_due = "passed", at, None
        revision.number = sum(r.committed for r in branch.revisions) + 1
        revision.published_at = at
        if revision not in branch.revisions:
            branch.revisions.append(revision)
        self._publications.append(Publication(agent.id, branch.id, revision.id, revision.number, kind, live,
                                              tuple(voice_ids(revision.config)), at))

    def _settle(self) -> None:
        """End every scan whose time has come on the clock, in the order they end."""
        mono, wall = self._clock.monotonic(), self._clock.now()
        due = sorted(((r.scan_due, a, b, r) for a in self._agents.values() for b in a.branches for r in b.revisions
                      if r.scan == "queued" and r.scan_due is not None and r.scan_due <= mono), key=lambda t: t[0])
        for at_mono, agent, branch, revision in due:
            at = wall - (mono - at_mono)
            if revision.scan_fails:
                revision.scan, revision.scan_reason, revision.scan_done_at, revision.scan_due = \
                    "failed", SCAN_FAILED, at, None
                if branch.draft is None and revision.source_draft is not None:
                    branch.draft = revision.source_draft
                    branch.draft.failed_reason = SCAN_FAILED
            else:
                self._commit(agent, branch, revision, at, "publish")

    def _place_calls(self, until: float) -> None:
        every = self._config.agent_call_every_s
        if every <= 0 or until <= self._calls_until:
            return
        first = int(self._calls_until // every) + 1
        last = int(until // every)
        first = max(first, last - MAX_TICKS + 1)
        for agent in self._agents.values():
            if agent.archived_at is not None:
                continue
            config = agent.live_config()
            language = value_at(config, "language.default")
            for tick in range(first, last + 1):
                for voice_id in voice_ids(config):
                    self._calls.append(TtsLogRecord(tick * every, voice_id, "lightning_v3.1",
                                                    language if isinstance(language, str) else None,
                                                    len(CALL_TEXT), CALL_TEXT, "ws"))
        self._calls.sort(key=lambda r: r.at)
        self._calls_until = until

