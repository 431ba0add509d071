"""The Atoms (voice agents) API's JSON, read into typed values: agents, branches, drafts, revisions.

Owns the frozen types the Atoms calls return (`AgentSummary`, `BranchInfo`, `DraftInfo`,
`RevisionInfo`, `Published`) and the readers that build them from an answer's `data`. Every
id that will go into a request path must be a plain id (`audit.core.untrusted.is_plain_id`):
an agent, branch or revision id that is not one is a `BadAnswer`, never sent on. Configs
stay the JSON objects they came as (the cutover walks them). Field names are the vendor's
(`_id`, `headRevisionId`, `openDraftId`, `draftRevision`, `securityCheck.status`, ...). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.core.errors import BadAnswer
from audit.core.untrusted import is_plain_id, shown

#: `securityCheck.status` values that mean the scan refused the revision.
SCAN_FAILED = frozenset({"failed", "errored", "error"})
#: `Revision.status` of a committed revision.
PUBLISHED = "published"


@dataclass(frozen=True, slots=True)
class AgentSummary:
    agent_id: str
    name: str
    archived: bool


@dataclass(frozen=True, slots=True)
class BranchInfo:
    branch_id: str
    name: str
    is_default: bool
    is_live: bool
    head_revision_id: str | None
    open_draft_id: str | None
    head_revision_number: int | None = None


@dataclass(frozen=True, slots=True)
class DraftInfo:
    """The open draft of a branch: its id, its `draftRevision`, who edited it and how often."""

    draft_id: str | None
    draft_revision: int | None
    edit_count: int
    editors: tuple[str, ...]  # editor names (or ids) of its edits, as the API gives them


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    revision_id: str
    status: str
    revision_number: int | None
    scan_status: str | None
    scan_reason: str | None
    config: Mapping[str, Any] | None = field(default=None, compare=False)
    source_draft_id: str | None = None  # the draft it was published from (`sourceDraftId`)

    @property
    def committed(self) -> bool:
        return self.status == PUBLISHED

    @property
    def scan_failed(self) -> bool:
        return (self.scan_status or "").lower() in SCAN_FAILED


@dataclass(frozen=True, slots=True)
class Published:
    """A publish's (or restore's) answer: `committed` (200, the revision given) or `scanning` (202)."""

    state: str
    revision: RevisionInfo | None


def bad(message: str, hint: str | None = None) -> BadAnswer:
    """An answer that came (2xx) but cannot be used as the vendor documents it."""
    return BadAnswer(message, status=200, hint=hint)


def data(body: Mapping[str, Any], where: str) -> Any:
    if "data" not in body:
        raise bad(f"{where}: the answer has no `data`")
    return body["data"]


def plain(value: Any, what: str, where: str) -> str:
    if not is_plain_id(value):
        raise bad(f"{where}: {what} {shown(str(value), 40)!r} is not a plain id; not used in a request")
    return str(value)


def optional_id(value: Any, what: str, where: str) -> str | None:
    return None if value in (None, "") else plain(value, what, where)


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def agent_page(body: Mapping[str, Any], where: str) -> tuple[list[AgentSummary], int | None]:
    """One page of `GET /agent`: its agents, and the `total` it claims (None when absent)."""
    page = data(body, where)
    agents = page.get("agents") if isinstance(page, Mapping) else None
    if not isinstance(agents, list):
        raise bad(f"{where}: no `data.agents` array")
    total = page.get("total")
    if isinstance(total, bool) or not isinstance(total, int | float) or total < 0 or total != int(total):
        total = None
    out = []
    for item in agents:
        if not isinstance(item, Mapping):
            raise bad(f"{where}: an agent entry that is not an object")
        name = item.get("name")
        out.append(AgentSummary(plain(item.get("_id"), "agent id", where), name if isinstance(name, str) else "",
                                item.get("archived") is True))
    return out, None if total is None else int(total)


def agent_config(body: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """`GET /agent/{id}`'s `_resolvedConfig` (the live config, or a draft's with `?draftId`); {} when absent."""
    agent = data(body, where)
    if not isinstance(agent, Mapping):
        raise bad(f"{where}: `data` is not an agent object")
    config = agent.get("_resolvedConfig")
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise bad(f"{where}: `_resolvedConfig` is not an object")
    return config


def branches(body: Mapping[str, Any], where: str) -> list[BranchInfo]:
    """`GET /agent/{id}/branches`: each `BranchSummary` (`branch` inside, `isLive` beside it)."""
    listed = data(body, where)
    items = listed.get("branches") if isinstance(listed, Mapping) else None
    if not isinstance(items, list):
        raise bad(f"{where}: no `data.branches` array")
    out = []
    for item in items:
        inner = item.get("branch") if isinstance(item, Mapping) else None
        if not isinstance(inner, Mapping):
            raise bad(f"{where}: a branch entry without its `branch` object")
        name = inner.get("name")
        number = item.get("headRevisionNumber")
        open_draft = optional_id(inner.get("openDraftId"), "draft id", where)
        if open_draft is None and item.get("hasOpenDraft") is True:
            open_draft = ""  # a draft is open, its id not given
        out.append(BranchInfo(
            plain(inner.get("_id"), "branch id", where), name if isinstance(name, str) else "",
            inner.get("isDefault") is True, item.get("isLive") is True,
            optional_id(inner.get("headRevisionId"), "revision id", where), open_draft,
            number if isinstance(number, int) and not isinstance(number, bool) else None,
        ))
    if sum(b.is_live for b in out) > 1:
        raise bad(f"{where}: more than one branch is live")
    return out


def draft(body: Mapping[str, Any], where: str) -> DraftInfo:
    """`GET .../draft` (a `DraftDetail`): `latest` revision, `editCount`, `editHistory`."""
    detail = data(body, where)
    if not isinstance(detail, Mapping) or not isinstance(detail.get("latest"), Mapping):
        raise bad(f"{where}: no `data.latest` revision")
    latest = detail["latest"]
    listed = detail.get("editHistory")
    history: list[Any] = listed if isinstance(listed, list) else []
    editors = []
    for entry in history[:1000]:
        if not isinstance(entry, Mapping):
            continue
        made = _object(entry.get("revision"))
        who = entry.get("editorName") or made.get("createdBy")
        if isinstance(who, str) and who:
            editors.append(who)
    if not editors and isinstance(latest.get("createdBy"), str) and latest["createdBy"]:
        editors.append(latest["createdBy"])
    count = detail.get("editCount")
    revision = latest.get("draftRevision")
    return DraftInfo(
        optional_id(latest.get("draftId"), "draft id", where),
        revision if isinstance(revision, int) and not isinstance(revision, bool) else None,
        count if isinstance(count, int) and not isinstance(count, bool) else len(history),
        tuple(dict.fromkeys(editors)),
    )


def revision(item: Any, where: str, config: Any = None) -> RevisionInfo:
    """One `Revision` document (and the `resolvedConfig` beside it, when given)."""
    if not isinstance(item, Mapping):
        raise bad(f"{where}: a revision that is not an object")
    check = _object(item.get("securityCheck"))
    number = item.get("revisionNumber")
    status = item.get("status")
    reason = check.get("reason")
    scan = check.get("status")
    if config is not None and not isinstance(config, Mapping):
        raise bad(f"{where}: `resolvedConfig` is not an object")
    source = item.get("sourceDraftId")
    return RevisionInfo(
        plain(item.get("_id"), "revision id", where), status if isinstance(status, str) else "",
        number if isinstance(number, int) and not isinstance(number, bool) else None,
        scan if isinstance(scan, str) else None, reason if isinstance(reason, str) else None, config,
        source if is_plain_id(source) else None,
    )


def revision_with_config(body: Mapping[str, Any], where: str) -> RevisionInfo:
    """`GET .../revisions/{revisionId}`: `data.revision` and `data.resolvedConfig`."""
    got = data(body, where)
    if not isinstance(got, Mapping):
        raise bad(f"{where}: `data` is not an object")
    return revision(got.get("revision"), where, got.get("resolvedConfig") or {})


def revisions(body: Mapping[str, Any], where: str) -> list[RevisionInfo]:
    """`GET .../revisions`: `data.revisions`, newest first."""
    got = data(body, where)
    items = got.get("revisions") if isinstance(got, Mapping) else None
    if not isinstance(items, list):
        raise bad(f"{where}: no `data.revisions` array")
    return [revision(item, where) for item in items]


def published(body: Mapping[str, Any], where: str) -> Published:
    """A `PublishResult`: `state` committed (with `revision`) or scanning."""
    got = data(body, where)
    state = got.get("state") if isinstance(got, Mapping) else None
    if state not in ("committed", "scanning"):
        raise bad(f"{where}: `data.state` is {shown(str(state), 40)!r}, not committed or scanning")
    assert isinstance(got, Mapping)
    item = got.get("revision")
    return Published(state, revision(item, where) if isinstance(item, Mapping) else None)


def written_draft(body: Mapping[str, Any], where: str) -> tuple[str | None, int | None]:
    """`PUT .../draft`'s answer (a draft `Revision`): its draft id and `draftRevision`."""
    got = data(body, where)
    if not isinstance(got, Mapping):
        raise bad(f"{where}: `data` is not the draft revision")
    number = got.get("draftRevision")
    return (optional_id(got.get("draftId"), "draft id", where),
            number if isinstance(number, int) and not isinstance(number, bool) else None)
