"""A fake Atoms account behind respx: agents, branches, drafts, publish with its scan, restore.

Answers in the shapes the vendor's OpenAPI gives (`{"status": true, "data": ...}`; `AgentDTO`
with `_resolvedConfig`; `BranchSummary` wrapping `Branch`; `Revision`; `DraftDetail`;
`PublishResult`; `DraftConflictError`), so the client's tests check the request shapes and
the reading of the answers; the emulator's contract tests check the same shapes over HTTP.
`FakeAtoms.install(router)` routes a respx mock to it; `publish_mode` picks the scan's outcome.
A draft write is merged into the draft key by key (lists replaced), as the vendor does.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx

BASE = "https://api.test"
ATOMS = f"{BASE}/atoms/v1"
_ids = itertools.count(0x100)


def new_id() -> str:
    return f"{next(_ids):024x}"


def voice_config(voice: str) -> dict[str, Any]:
    return {"synthesizer": {"voiceConfig": {"model": "waves_lightning_v3_1", "voiceId": voice, "gender": "female"},
                            "speed": 1.2}, "firstMessage": "Hello", "globalPrompt": "Be kind."}


@dataclass
class Revision:
    id: str
    number: int
    config: dict[str, Any]
    status: str = "published"
    scan: str = "passed"
    reason: str | None = None
    polls_left: int = 0  # GETs before a scanning revision settles
    source_draft: str | None = None  # the draft it was published from

    def doc(self, agent: str, branch: str) -> dict[str, Any]:
        return {"_id": self.id, "agent": agent, "status": self.status, "branch": branch, "revisionNumber": self.number,
                "label": None, "securityCheck": {"status": self.scan, "reason": self.reason},
                "sourceDraftId": self.source_draft}


@dataclass
class Draft:
    id: str
    revision: int
    config: dict[str, Any]
    editor: str = "Priya"


@dataclass
class Branch:
    id: str
    name: str
    live: bool
    revisions: list[Revision]
    draft: Draft | None = None
    default: bool = False

    @property
    def head(self) -> Revision | None:
        done = [r for r in self.revisions if r.status == "published"]
        return done[-1] if done else None


@dataclass
class Agent:
    id: str
    name: str
    branches: list[Branch]
    archived: bool = False


@dataclass
class FakeAtoms:
    agents: list[Agent] = field(default_factory=list)
    #: sync (200), scan (202 then passed), scan-fail (202 then failed), refuse (409 scan failed), busy (409
    #: another publish in progress), misreport (200 naming a revision the branch does not show)
    publish_mode: str = "sync"
    scan_polls: int = 2
    conflict_on_write: bool = False  # someone else's edit lands between the read and the write
    on_write: Any = None  # called (agent id, branch id) as each draft write arrives
    writes: list[dict[str, Any]] = field(default_factory=list)

    def agent(self, name: str, voice: str, *, archived: bool = False, extra_branch: str | None = None,
              extra_voice: str | None = None, draft_voice: str | None = None) -> Agent:
        main = Branch(new_id(), "main", True, [Revision(new_id(), 1, voice_config(voice))], default=True)
        if draft_voice is not None:
            main.draft = Draft(new_id(), 3, voice_config(draft_voice))
        branches = [main]
        if extra_branch:
            branches.append(Branch(new_id(), extra_branch, False, [Revision(new_id(), 1, voice_config(extra_voice or voice))]))
        agent = Agent(new_id(), name, branches, archived)
        self.agents.append(agent)
        return agent

    # -- routing -------------------------------------------------------------------

    def install(self, router: respx.MockRouter) -> None:
        router.route(url__regex=rf"^{re.escape(ATOMS)}/agent(\?.*)?$").mock(side_effect=self._list)
        router.route(url__regex=rf"^{re.escape(ATOMS)}/agent/(?P<agent>[0-9a-f]+)(\?.*)?$").mock(side_effect=self._get)
        router.route(url__regex=rf"^{re.escape(ATOMS)}/agent/(?P<agent>\w+)/branches(?P<rest>/.*)?$").mock(
            side_effect=self._branches)

    def _find(self, agent_id: str) -> Agent:
        return next(a for a in self.agents if a.id == agent_id)

    def _list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        page, size = int(params.get("page", 1)), int(params.get("offset", 10))
        archived = params.get("archived") == "true"
        chosen = [a for a in self.agents if a.archived == archived]
        items = [{"_id": a.id, "name": a.name, "archived": a.archived, "workflowType": "single_prompt"}
                 for a in chosen[(page - 1) * size: page * size]]
        return ok({"agents": items, "total": len(chosen)})

    def _get(self, request: httpx.Request, agent: str) -> httpx.Response:
        found = self._find(agent)
        draft_id = request.url.params.get("draftId")
        for branch in found.branches:
            if draft_id and branch.draft and branch.draft.id == draft_id:
                return ok({"_id": found.id, "name": found.name, "_resolvedConfig": branch.draft.config,
                           "_configSource": "draft"})
        version_id = request.url.params.get("versionId")
        for revision in (r for b in found.branches for r in b.revisions if version_id and r.id == version_id):
            return ok({"_id": found.id, "name": found.name, "_resolvedConfig": revision.config,
                       "_configSource": "version"})
        live = next(b for b in found.branches if b.live)
        return ok({"_id": found.id, "name": found.name, "_resolvedConfig": live.head.config if live.head else None})

    def _branches(self, request: httpx.Request, agent: str, rest: str | None) -> httpx.Response:
        found = self._find(agent)
        if not rest:
            return ok({"branches": [self._summary(found, b) for b in found.branches]})
        branch_id, _, tail = rest.lstrip("/").split("?")[0].partition("/")
        branch = next(b for b in found.branches if b.id == branch_id)
        method = request.method
        if tail == "draft" and method == "GET":
            if branch.draft is None:
                return httpx.Response(404, json={"status": False, "errors": ["No open draft on this branch"]})
            d = branch.draft
            latest = {"_id": new_id(), "agent": agent, "status": "draft", "draftId": d.id, "draftRevision": d.revision,
                      "createdBy": d.editor}
            return ok({"latest": latest, "editCount": d.revision,
                       "editHistory": [{"revision": latest, "changedSections": ["voice"], "editorName": d.editor}]})
        if tail == "draft" and method == "PUT":
            return self._write(found, branch, json.loads(request.content))
        if tail == "draft" and method == "DELETE":
            if branch.draft is None:
                return httpx.Response(404, json={"status": False, "errors": ["No open draft on this branch"]})
            branch.draft = None
            return ok({"discarded": True})
        if tail == "draft/publish":
            return self._publish(found, branch)
        if tail == "revisions":
            newest = list(reversed(branch.revisions))[: int(request.url.params.get("limit", 20))]
            return ok({"revisions": [r.doc(agent, branch.id) for r in newest], "total": len(branch.revisions)})
        match = re.fullmatch(r"revisions/(\w+)(/restore)?", tail)
        if match:
            revision = next(r for r in branch.revisions if r.id == match.group(1))
            if match.group(2):
                made = Revision(new_id(), len(branch.revisions) + 1, copy.deepcopy(revision.config))
                branch.revisions.append(made)
                return ok({"state": "committed", "revision": made.doc(agent, branch.id)})
            if revision.status != "published" and revision.polls_left > 0:
                revision.polls_left -= 1
                if revision.polls_left == 0:
                    revision.status, revision.scan = ("draft", "failed") if self.publish_mode == "scan-fail" \
                        else ("published", "passed")
                    revision.reason = "prompt injection pattern found" if revision.scan == "failed" else None
            return ok({"revision": revision.doc(agent, branch.id), "resolvedConfig": revision.config})
        return httpx.Response(404, json={"status": False, "errors": [f"no route {tail}"]})

    def _summary(self, agent: Agent, b: Branch) -> dict[str, Any]:
        head = b.head
        return {"branch": {"_id": b.id, "agent": agent.id, "name": b.name, "isDefault": b.default,
                           "headRevisionId": head.id if head else None, "openDraftId": b.draft.id if b.draft else None,
                           "status": "active"},
                "isLive": b.live, "hasOpenDraft": b.draft is not None, "revisionsCount": len(b.revisions),
                "headRevisionNumber": head.number if head else None}

    def _write(self, agent: Agent, branch: Branch, body: dict[str, Any]) -> httpx.Response:
        self.writes.append({"agent": agent.id, "branch": branch.id, "body": dict(body)})
        if self.on_write is not None:
            self.on_write(agent.id, branch.id)
        expected = body.pop("expectedRevision", None)
        current = branch.draft.revision if branch.draft else 0
        if self.conflict_on_write or (expected is not None and expected != current):
            return httpx.Response(409, json={"status": False, "errors": ["synthesizer.voiceConfig.voiceId"], "data": {
                "conflict": {"expectedRevision": expected, "latestRevision": current + 1, "diffs": []}}})
        base = copy.deepcopy(branch.draft.config if branch.draft else branch.head.config if branch.head else {})
        base = merged(base, body)
        branch.draft = Draft(branch.draft.id if branch.draft else new_id(), current + 1, base, editor="clone-audit")
        return ok({"_id": new_id(), "agent": agent.id, "status": "draft", "draftId": branch.draft.id,
                   "draftRevision": branch.draft.revision})

    def _publish(self, agent: Agent, branch: Branch) -> httpx.Response:
        if branch.draft is None:
            return httpx.Response(404, json={"status": False, "errors": ["No open draft"]})
        if self.publish_mode == "refuse":
            return httpx.Response(409, json={"status": False, "error_type": "security_scan_failed",
                                             "errors": ["the draft failed its security scan"]})
        if self.publish_mode == "busy":
            return httpx.Response(409, json={"status": False, "error_type": "publish_in_progress",
                                             "errors": ["A publish is already in progress on this branch"]})
        made = Revision(new_id(), len(branch.revisions) + 1, branch.draft.config, source_draft=branch.draft.id)
        branch.draft = None
        branch.revisions.append(made)
        if self.publish_mode == "sync":
            return ok({"state": "committed", "revision": made.doc(agent.id, branch.id)})
        if self.publish_mode == "misreport":
            return ok({"state": "committed", "revision": {**made.doc(agent.id, branch.id), "_id": new_id()}})
        made.status, made.scan, made.polls_left = "draft", "queued", self.scan_polls
        return httpx.Response(202, json={"status": True, "data": {"state": "scanning"}})


def merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A draft write as the vendor applies it: objects merged key by key, anything else replaced."""
    out = dict(base)
    for key, value in patch.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"status": True, "data": data})
