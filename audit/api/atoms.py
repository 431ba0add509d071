"""The Atoms (voice agents) endpoints: agents, branches, drafts, publish, revisions, restore.

Owns `AtomsApi` (reached as `WavesClient.atoms`) and its paths, under `/atoms/v1` on the same
host and with the same key as the Waves API (so an emulator's base URL works the same). Every
call goes through the client's `transport.Transport`: the deadline, the byte cap, the limiter,
the retry rule. Reads are bounded like every other read:

- the agent list is read page by page (`page`, and `offset`, the page's size in the vendor's
  naming) up to `MAX_AGENT_PAGES` pages and `LIST_DEADLINE_S` seconds; a page that repeats the
  one before, holds more than asked for or only agents already read, a `total` that changes
  between pages, or a list that ends before its `total` is a `BadAnswer` naming the page:
  the read is never silently short and never loops;
- each answer is capped (`MAX_CONFIG_BYTES`); ids read from answers are plain before they go
  into a path (`atomswire`).

Writes (draft, publish, restore) are retried only when they certainly did not reach the API
(the rule of a create); a refusal that concerns one branch (403, 404, 409, 423, or an answer
lost on the way) raises `BranchRefused` with the reason, for the caller to record; a 401 or an
unreachable API stops the run as everywhere else. `settle` waits out a publish's security scan
(202): the newest revision of the branch, polled until it is published or its scan failed,
within a bounded wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from audit.api import atomswire as wire
from audit.api.atomswire import AgentSummary, BranchInfo, DraftInfo, Published, RevisionInfo, bad
from audit.api.body import Answer
from audit.api.failures import json_object
from audit.api.transport import Transport
from audit.core.config import ApiSettings
from audit.core.errors import ApiError, AuthError, BadAnswer, CreateOutcomeUnknown, RequestRejected

ATOMS = "/atoms/v1"
AGENTS_PATH = f"{ATOMS}/agent"
#: Agents asked for per page (the vendor's `offset` query parameter).
PAGE_SIZE = 50
#: The agent list is read up to this many pages (20,000 agents): a longer one is an error.
MAX_AGENT_PAGES = 400
#: The agent list starts no new page after this many seconds.
LIST_DEADLINE_S = 900.0
#: Cap on one Atoms answer (an agent page, a config with its workflow graph).
MAX_CONFIG_BYTES = 16 * 1024 * 1024
#: Statuses of a write that concern one branch only: recorded, the run goes on.
BRANCH_STATUSES = frozenset({400, 403, 404, 409, 422, 423})


class BranchRefused(Exception):
    """A write to one branch was refused (or its outcome is unknown): `reason` says why."""

    def __init__(self, reason: str, *, status: int = 0, conflict: bool = False, error_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.conflict = conflict  # 409 on a draft write: someone else's edit since the read
        self.error_type = error_type  # the vendor's `error_type` (`security_scan_failed`, `publish_in_progress`)


def refusal(exc: BranchRefused | ApiError) -> str:
    """Why one agent or branch could not be read or written, reported beside the others; a 401
    (the key itself refused) is no refusal of one agent: it is raised again and stops the run."""
    if isinstance(exc, BranchRefused):
        return exc.reason
    if isinstance(exc, AuthError) and exc.status == 401:
        raise exc
    return exc.message


class AtomsApi:
    """The Atoms calls of one `WavesClient` (its transport, its key)."""

    def __init__(self, transport: Transport, settings: ApiSettings) -> None:
        self._transport = transport
        self._settings = settings

    async def _get(self, path: str, **params: Any) -> Mapping[str, Any]:
        answer = await self._transport.call("GET", path, params=params or None, max_bytes=MAX_CONFIG_BYTES)
        return json_object(answer)

    async def _write(self, method: str, path: str, body: Mapping[str, Any] | None, what: str) -> Answer:
        try:
            return await self._transport.call(method, path, json=body, create=True, max_bytes=MAX_CONFIG_BYTES,
                                              label=what)
        except CreateOutcomeUnknown as exc:
            raise BranchRefused(f"{what}: the answer was lost (HTTP {exc.status or 'none'}); whether it happened "
                                "is not known: re-read the branch before trying again", status=exc.status) from None
        except ApiError as exc:
            if isinstance(exc, BadAnswer) or exc.status not in BRANCH_STATUSES:
                raise
            raise BranchRefused(f"{what} refused (HTTP {exc.status}): {exc.message}", status=exc.status,
                                conflict=exc.status == 409, error_type=exc.error_code) from None

    # -- reads -----------------------------------------------------------------------

    async def list_agents(self, *, archived: bool = False, max_pages: int = MAX_AGENT_PAGES,
                          deadline_s: float = LIST_DEADLINE_S) -> list[AgentSummary]:
        """Every agent of the organisation (or every archived one), all pages, bounded."""
        seen: dict[str, AgentSummary] = {}
        total: int | None = None
        previous: list[str] | None = None
        ends = time.monotonic() + deadline_s
        hint = ("The agent list did not page as the API documents; run again. If it persists, report it to "
                "the vendor. No agent was changed.")
        for page in range(1, max_pages + 1):
            if time.monotonic() >= ends:
                raise bad(f"the agent list was still being read after {deadline_s:g} s ({page - 1} pages)",
                                hint=hint)
            where = f"GET {AGENTS_PATH} page {page}"
            body = await self._get(AGENTS_PATH, page=page, offset=PAGE_SIZE, archived=str(archived).lower())
            agents, claimed = wire.agent_page(body, where)
            ids = [a.agent_id for a in agents]
            if len(agents) > PAGE_SIZE:
                raise bad(f"{where} holds {len(agents)} agents, more than the {PAGE_SIZE} asked for", hint=hint)
            if previous is not None and ids and ids == previous:
                raise bad(f"{where} repeats page {page - 1}", hint=hint)
            if agents and all(i in seen for i in ids):
                raise bad(f"{where} holds only agents already read (the paging loops)", hint=hint)
            if claimed is not None and total is not None and claimed != total:
                raise bad(f"{where}: the list's total changed from {total} to {claimed} while it was read",
                                hint=hint + " (Agents created or archived meanwhile also change it.)")
            total = claimed if claimed is not None else total
            seen.update((a.agent_id, a) for a in agents)
            if len(agents) < PAGE_SIZE or (total is not None and len(seen) >= total):
                break
            previous = ids
        else:
            raise bad(f"the agent list goes on past {max_pages} pages of {PAGE_SIZE}", hint=hint)
        if total is not None and len(seen) < total:
            raise bad(f"the agent list ended after {len(seen)} agents of the {total} it claims", hint=hint)
        return list(seen.values())

    async def get_agent_config(self, agent_id: str, *, draft_id: str | None = None,
                               version_id: str | None = None) -> Mapping[str, Any]:
        """The agent's resolved config: the live one, with `draft_id` that draft's, with
        `version_id` that revision's (resolved the same way, so the two compare)."""
        path = f"{AGENTS_PATH}/{wire.plain(agent_id, 'agent id', AGENTS_PATH)}"
        params = {"draftId": draft_id} if draft_id else {"versionId": version_id} if version_id else {}
        body = await self._get(path, **params)
        return wire.agent_config(body, f"GET {path}")

    async def list_branches(self, agent_id: str) -> list[BranchInfo]:
        path = self._agent(agent_id) + "/branches"
        return wire.branches(await self._get(path), f"GET {path}")

    async def get_draft(self, agent_id: str, branch_id: str) -> DraftInfo | None:
        """The branch's open draft, or None (404: no draft is open)."""
        path = self._branch(agent_id, branch_id) + "/draft"
        try:
            body = await self._get(path)
        except RequestRejected as exc:
            if exc.status == 404:
                return None
            raise
        return wire.draft(body, f"GET {path}")

    async def get_revision(self, agent_id: str, branch_id: str, revision_id: str) -> RevisionInfo:
        """One revision with its `resolvedConfig`."""
        path = self._branch(agent_id, branch_id) + f"/revisions/{wire.plain(revision_id, 'revision id', '')}"
        return wire.revision_with_config(await self._get(path), f"GET {path}")

    async def latest_revision(self, agent_id: str, branch_id: str) -> RevisionInfo | None:
        """The branch's newest revision (committed or scanning), or None when it has none."""
        path = self._branch(agent_id, branch_id) + "/revisions"
        found = wire.revisions(await self._get(path, limit=1), f"GET {path}")
        return found[0] if found else None

    async def revision_from_draft(self, agent_id: str, branch_id: str, draft_id: str,
                                  limit: int = 20) -> RevisionInfo | None:
        """The revision published from the draft `draft_id` (its `sourceDraftId`), among the
        branch's newest `limit`; None when none of them is."""
        path = self._branch(agent_id, branch_id) + "/revisions"
        found = wire.revisions(await self._get(path, limit=limit), f"GET {path}")
        return next((r for r in found if r.source_draft_id == draft_id), None)

    # -- writes ----------------------------------------------------------------------

    async def write_draft(self, agent_id: str, branch_id: str, fields: Mapping[str, Any],
                          expected_revision: int) -> tuple[str | None, int | None]:
        """Merge `fields` (a patch: objects are merged key by key by the API, lists replaced)
        into the branch's draft, based on `expected_revision`; the draft's id and new
        `draftRevision`. BranchRefused on a 409."""
        path = self._branch(agent_id, branch_id) + "/draft"
        answer = await self._write("PUT", path, {**fields, "expectedRevision": expected_revision},
                                   f"PUT {path}")
        return wire.written_draft(json_object(answer), f"PUT {path}")

    async def publish(self, agent_id: str, branch_id: str, label: str) -> Published:
        path = self._branch(agent_id, branch_id) + "/draft/publish"
        answer = await self._write("POST", path, {"label": label}, f"POST {path}")
        return self._published(answer, path)

    async def discard_draft(self, agent_id: str, branch_id: str) -> None:
        """Discard the branch's open draft (its unpublished edits are lost; the head stays)."""
        path = self._branch(agent_id, branch_id) + "/draft"
        await self._write("DELETE", path, None, f"DELETE {path}")

    async def restore(self, agent_id: str, branch_id: str, revision_id: str) -> Published:
        path = self._branch(agent_id, branch_id) + f"/revisions/{wire.plain(revision_id, 'revision id', '')}/restore"
        answer = await self._write("POST", path, None, f"POST {path}")
        return self._published(answer, path)

    async def settle(self, agent_id: str, branch_id: str, outcome: Published, before: str | None, *,
                     wait_s: float, interval_s: float) -> RevisionInfo | None:
        """The revision a publish or restore made, once committed, its scan failed, or `wait_s`
        passed (then as last seen: scanning); None when no new revision showed up in time.
        `before`: the branch's head before the publish (the new revision is any other)."""
        if outcome.state == "committed" and outcome.revision is not None:
            return outcome.revision
        ends = time.monotonic() + wait_s
        seen: RevisionInfo | None = None
        while True:
            newest = await self.latest_revision(agent_id, branch_id)
            if newest is not None and newest.revision_id != before:
                seen = await self.get_revision(agent_id, branch_id, newest.revision_id)
                if seen.committed or seen.scan_failed:
                    return seen
            if time.monotonic() >= ends:
                return seen
            await asyncio.sleep(interval_s)

    # -- helpers -----------------------------------------------------------------------

    def _agent(self, agent_id: str) -> str:
        return f"{AGENTS_PATH}/{wire.plain(agent_id, 'agent id', AGENTS_PATH)}"

    def _branch(self, agent_id: str, branch_id: str) -> str:
        return f"{self._agent(agent_id)}/branches/{wire.plain(branch_id, 'branch id', AGENTS_PATH)}"

    @staticmethod
    def _published(answer: Answer, path: str) -> Published:
        outcome = wire.published(json_object(answer), f"POST {path}")
        if answer.status == 202 and outcome.state != "scanning":
            raise bad(f"POST {path} answered 202 with state {outcome.state}")
        return outcome

