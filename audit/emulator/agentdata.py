"""The emulated Atoms agents' records: agents, branches, drafts, revisions, and their JSON.

This module owns the records an `agentbook.AgentBook` keeps (`Agent`, `Branch`, `Draft`, `Edit`,
`Revision`, `Publication`, `User`), how each is written on the wire in the vendor's shapes
(`AgentDTO`, `BranchSummary`, the revision-shaped rows of drafts and commits, `DraftDetail`),
and the helpers on an agent's configuration (a camelCase dict, as `GET /agent/{id}` resolves
it): `merged` (a draft write's deep merge), `leaf_paths`, `value_at`, `voice_ids` (every
`voiceId` anywhere in it: the synthesizer's and any workflow-graph node's) and `sections`.
Times are wall-clock seconds since the epoch; ids are 24 hex digits, as the spec requires.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: The draft-body fields the emulator recognises (the spec's typed ones plus the resolved
#: config's `prompt`, `tools` and `workflowGraph`), and the config section each belongs to.
SECTIONS = {
    "globalPrompt": "workflow_prompt", "firstMessage": "workflow_prompt", "prompt": "workflow_prompt",
    "tools": "workflow_tools", "workflowGraph": "workflow_graph", "slmModel": "llm",
    "synthesizer": "voice", "pronunciationDicts": "voice", "speechFormatting": "voice",
    "language": "language", "backgroundSound": "audio", "denoisingConfig": "audio",
    "timezone": "call_handling", "globalKnowledgeBaseId": "workflow_prompt", "defaultVariables": "workflow_prompt",
    "preCallAPI": "call_handling", "muteUserUntilFirstBotResponse": "call_handling",
    "allowInterruptions": "call_handling", "waitForUserToSpeakFirst": "call_handling",
    "interruptionBackoffTimer": "call_handling", "enableStyleGuide": "llm", "smartTurnConfig": "detection",
    "voiceDetectionConfig": "detection", "voiceMailDetectionConfig": "detection", "redactionConfig": "privacy",
    "llmIdleTimeoutConfig": "timeouts", "sessionTimeoutConfig": "timeouts", "callDispositionConfig": "analytics",
}  # fmt: skip


def iso(at: float | None) -> str | None:
    """`at` as the API writes times (ISO 8601, milliseconds, `Z`); None stays None."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- configuration helpers ----------------------------------------------------------------


def merged(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`patch` merged into a copy of `base`: objects key by key, anything else (lists too) replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def leaf_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Dot paths to every leaf of `value` (list items by index; an empty object is a leaf)."""
    items: Any = (value.items() if isinstance(value, Mapping)
                  else enumerate(value) if isinstance(value, list) else None)
    if not items or not value:
        if prefix:
            yield prefix
        return
    for key, item in items:
        yield from leaf_paths(item, f"{prefix}.{key}" if prefix else str(key))


def value_at(config: Any, path: str) -> Any:
    """The value at dot path `path` of `config`, or None."""
    for part in path.split("."):
        if isinstance(config, Mapping):
            config = config.get(part)
        elif isinstance(config, list) and part.isdigit() and int(part) < len(config):
            config = config[int(part)]
        else:
            return None
    return config


def overlaps(a: str, b: str) -> bool:
    """Whether two leaf paths touch the same field (equal, or one inside the other)."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def voice_ids(config: Any) -> list[str]:
    """Every `voiceId` string anywhere in `config`, in document order, each once."""
    found: dict[str, None] = {}
    stack = [config]
    while stack:
        item = stack.pop(0)
        if isinstance(item, Mapping):
            if isinstance(item.get("voiceId"), str):
                found[item["voiceId"]] = None
            stack[:0] = list(item.values())
        elif isinstance(item, list):
            stack[:0] = item
    return list(found)


def sections(fields: Mapping[str, Any]) -> list[str]:
    """The config sections the top-level `fields` belong to, sorted, each once."""
    return sorted({SECTIONS.get(name, "call_handling") for name in fields})


# -- records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: str
    name: str


@dataclass
class Revision:
    """A committed revision, or one whose publish is still scanning (or failed its scan)."""

    id: str
    branch: str
    config: dict[str, Any]
    created_by: User
    created_at: float
    number: int | None = None  # set at commit
    label: str | None = None
    published_at: float | None = None
    scan: str = "passed"  # queued | passed | failed
    scan_reason: str | None = None
    scan_done_at: float | None = None
    scan_due: float | None = None  # the clock's monotonic reading at which a queued scan ends
    scan_fails: bool = False
    source_draft: Draft | None = None
    restored_from: Revision | None = None

    @property
    def committed(self) -> bool:
        return self.number is not None

    def to_json(self, agent: Agent) -> dict[str, Any]:
        return _row(agent, self.id, self.branch, "published" if self.committed else "draft", self.created_by,
                    self.created_at, {
            "revisionNumber": self.number, "label": self.label,
            "publishedBy": self.created_by.id if self.committed else None,
            "publishedByName": self.created_by.name if self.committed else None,
            "publishedAt": iso(self.published_at),
            "restoredFromLabel": self.restored_from.label if self.restored_from else None,
            "restoredFromRevisionId": self.restored_from.id if self.restored_from else None,
            "sourceDraftId": self.source_draft.id if self.source_draft else None,
            "securityCheck": {"status": self.scan, "reason": self.scan_reason, "triggeredAt": iso(self.created_at),
                              "completedAt": iso(self.scan_done_at)},
            "pendingPublish": ({"state": "active", "startedBy": self.created_by.id, "startedAt": iso(self.created_at)}
                               if self.scan == "queued" else None),
            "isActive": agent.live_branch == self.branch and agent.branch(self.branch).head() is self,
        })


@dataclass
class Edit:
    """One write to a draft: the row it made, who wrote it, the leaf paths it set, the result."""

    row_id: str
    number: int  # the draftRevision it made
    editor: User
    at: float
    paths: tuple[str, ...]
    changed: tuple[str, ...]  # top-level fields, for changedSections
    config: dict[str, Any]  # the draft after this edit


@dataclass
class Draft:
    """A branch's one open draft: its edits (draftRevision = their count) and what it holds now."""

    id: str
    branch: str
    config: dict[str, Any]
    edits: list[Edit] = field(default_factory=list)
    initial: dict[str, Any] = field(default_factory=dict)  # what it held when it opened
    failed_reason: str | None = None  # its last publish failed the security scan
    name: str = "Draft"

    @property
    def revision(self) -> int:
        return len(self.edits)

    def row(self, agent: Agent, edit: Edit) -> dict[str, Any]:
        check = {"status": "failed", "reason": self.failed_reason, "triggeredAt": iso(edit.at), "completedAt": iso(edit.at)}
        return _row(agent, edit.row_id, self.branch, "draft", edit.editor, edit.at, {
            "draftId": self.id, "draftName": self.name, "draftRevision": edit.number,
            "securityCheck": check if self.failed_reason and edit is self.edits[-1] else None,
        })

    def detail(self, agent: Agent) -> dict[str, Any]:
        return {"latest": self.row(agent, self.edits[-1]), "editCount": len(self.edits),
                "editHistory": [{"revision": self.row(agent, e), "changedSections": sections(dict.fromkeys(e.changed)),
                                 "editorName": e.editor.name} for e in self.edits]}


def _row(agent: Agent, row_id: str, branch: str, status: str, by: User, at: float,
         extra: Mapping[str, Any]) -> dict[str, Any]:
    """A revision-shaped row (the spec's `Revision`), every field it does not set null."""
    row: dict[str, Any] = {
        "_id": row_id, "agent": agent.id, "status": status, "branch": branch, "revisionNumber": None,
        "versionNumber": None, "label": None, "description": None, "isPinned": False, "publishedBy": None,
        "publishedAt": None, "publishedByName": None, "restoredFromLabel": None, "draftId": None, "draftName": None,
        "draftRevision": None, "sourceVersionId": None, "blocks": {}, "workflowType": agent.workflow_type,
        "parentVersion": None, "isActive": False, "activatedBy": None, "activatedAt": None, "securityCheck": None,
        "pendingPublish": None, "restoredFromRevisionId": None, "sourceDraftId": None, "promptScore": None,
        "promptScoreStale": False, "createdBy": by.id, "createdAt": iso(at), "updatedAt": iso(at),
    }
    row.update(extra)
    return row


@dataclass
class Branch:
    id: str
    agent: str
    name: str
    is_default: bool
    created_by: User
    created_at: float
    revisions: list[Revision] = field(default_factory=list)  # oldest first, committed and scanning
    draft: Draft | None = None
    source_branch: str | None = None
    source_revision: str | None = None

    def head(self) -> Revision | None:
        return next((r for r in reversed(self.revisions) if r.committed), None)

    def scanning(self) -> Revision | None:
        return next((r for r in self.revisions if r.scan == "queued"), None)

    def summary(self, agent: Agent) -> dict[str, Any]:
        head = self.head()
        updated = max([self.created_at, *(r.created_at for r in self.revisions),
                       *(e.at for e in (self.draft.edits if self.draft else []))])
        branch = {
            "_id": self.id, "agent": self.agent, "name": self.name, "isDefault": self.is_default,
            "sourceBranchId": self.source_branch, "sourceRevisionId": self.source_revision,
            "headRevisionId": head.id if head else None, "openDraftId": self.draft.id if self.draft else None,
            "status": "active", "createdBy": self.created_by.id, "updatedBy": self.created_by.id,
            "createdAt": iso(self.created_at), "updatedAt": iso(updated),
        }
        return {"branch": branch, "isLive": agent.live_branch == self.id, "hasOpenDraft": self.draft is not None,
                "revisionsCount": sum(r.committed for r in self.revisions),
                "headRevisionNumber": head.number if head else None}


@dataclass
class Agent:
    id: str
    name: str
    workflow_type: str  # single_prompt | workflow_graph
    created_by: User
    created_at: float
    branches: list[Branch]
    live_branch: str
    description: str = ""
    archived_at: float | None = None
    total_calls: int = 0

    def branch(self, branch_id: str) -> Branch:
        return next(b for b in self.branches if b.id == branch_id)

    def find_branch(self, branch_id: str) -> Branch | None:
        return next((b for b in self.branches if b.id == branch_id), None)

    def live_config(self) -> dict[str, Any]:
        head = self.branch(self.live_branch).head()
        return head.config if head else {}

    def updated_at(self) -> float:
        times = [self.created_at, *(r.created_at for b in self.branches for r in b.revisions)]
        return max(times)

    def to_json(self, organization: str) -> dict[str, Any]:
        """The agent as `GET /agent` lists it (`AgentDTO` without the resolved config)."""
        config = self.live_config()
        head = self.branch(self.live_branch).head()
        body: dict[str, Any] = {
            "_id": self.id, "name": self.name, "description": self.description, "organization": organization,
            "workflowId": self.id[::-1], "workflowType": self.workflow_type, "createdBy": self.created_by.id,
            "createdAt": iso(self.created_at), "updatedAt": iso(self.updated_at()), "totalCalls": self.total_calls,
            "archived": self.archived_at is not None,
            "activeVersionId": head.id if head else None, "versionId": head.id if head else None,
        }
        for name in ("synthesizer", "language", "slmModel", "firstMessage", "globalPrompt"):
            if name in config:
                body[name] = copy.deepcopy(config[name])
        if self.archived_at is not None:
            body["archivedAt"] = iso(self.archived_at)
        return {k: v for k, v in body.items() if v is not None}


def resolved(config: Mapping[str, Any], workflow_type: str) -> dict[str, Any]:
    """A config as `_resolvedConfig` shows it: its fields, plus the derived language and model names."""
    out = copy.deepcopy(dict(config))
    language = config.get("language")
    if isinstance(language, Mapping):
        out["defaultLanguage"] = language.get("default")
        out["supportedLanguages"] = list(language.get("supported") or [])
        out["languageSwitching"] = copy.deepcopy(language.get("switching") or {})
    if "slmModel" in config:
        out["modelName"] = config["slmModel"]
    if not isinstance(out.get("callDispositionConfig", ""), str):  # typed an object in writes, a string here
        del out["callDispositionConfig"]
    if workflow_type == "workflow_graph":
        out.setdefault("workflowGraph", {"nodes": [], "edges": []})
    else:  # the spec calls it null for single-prompt agents, but types it as an object: left out
        out.pop("workflowGraph", None)
    return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class Publication:
    """One commit that reached a branch (publish or restore): what the tests check afterwards."""

    agent: str
    branch: str
    revision: str
    number: int
    kind: str  # "publish" | "restore"
    live: bool  # the branch was the live one: production traffic took this config
    voice_ids: tuple[str, ...]
    at: float
