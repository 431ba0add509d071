"""The emulated Atoms agent routes (`/atoms/v1`): agents, branches, drafts, publish, revisions, restore.

This module owns the routes `ATOMS_ROUTES` of the vendor's branch model as the tool uses them,
each answering the vendor's envelope `{"status": true, "data": ...}` (refusals
`{"status": false, "errors": [...]}`, with `error_type` on a 409 that has one):
- `GET /agent`: pages of agents (`page` from 1, `offset` agents a page, default 10; `search`,
  `type`, `sortField`, `sortOrder`, `archived=true` for the archived ones only) as
  `{"agents": [...], "total": n}`, or one of the `AGENT_LIST_FAULTS` pages (faults.py);
- `GET /agent/{id}`: the agent with `_resolvedConfig` (the live branch's head; `?draftId=` /
  `?versionId=` resolve a draft or revision and add `_configSource`); an unknown id is a 400;
- `GET /agent/{id}/branches`, `GET .../branches/{branchId}`: branch summaries;
- `GET` / `PUT` / `DELETE .../draft`: the open draft's detail, its discard; a write with `expectedRevision` (with
  `EmulatorConfig.agents_check_voice_ids`, a 400 for a Waves voice id the account lacks);
- `POST .../draft/publish`: 200 committed, 202 scanning, 409 on a failed scan;
- `GET .../revisions` (`limit` 1-100, default 20; `skip`), `GET .../revisions/{revisionId}`,
  `POST .../revisions/{revisionId}/restore`.
The lifecycle itself is `agentbook.AgentBook`'s (the state's `agents`); request checks are
atomsinput.py's. Authentication and the generic faults are the app's gatekeeper's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from audit.emulator import atomsinput as check
from audit.emulator.agentbook import AgentError
from audit.emulator.agentseed import STOCK_VOICES
from audit.emulator.faults import agents_answer
from audit.emulator.knobs import AGENT_LIST_FAULTS
from audit.emulator.state import EmulatorState

BASE = "/atoms/v1"
WORKFLOW_TYPES = ("single_prompt", "workflow_graph")
SORT_FIELDS = ("createdAt", "updatedAt", "totalCalls", "name", "workflowType")
Handler = Callable[[Request, EmulatorState], Awaitable[Response]]


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"status": True, "data": data}, status_code=status)


def refused(status: int, text: str) -> JSONResponse:
    return JSONResponse({"status": False, "errors": [text]}, status_code=status)


def _route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The handler with the route latency, and its 400s and refusals answered as the vendor does."""
    async def endpoint(request: Request) -> Response:
        state: EmulatorState = request.app.state.emulator
        await state.delay("agents")
        try:
            return await handler(request, state)
        except check.Rejected as exc:
            return refused(400, str(exc))
        except AgentError as exc:
            return JSONResponse(exc.body, status_code=exc.status)
    return endpoint


def _ids(request: Request, *names: str) -> list[str]:
    """The path's ids; one that is not 24 hex digits names nothing: 404."""
    values = [request.path_params[n] for n in names]
    if not all(check.object_id(v) for v in values):
        raise AgentError(404, "Resource not found")
    return values


async def list_agents(request: Request, state: EmulatorState) -> Response:
    query = request.query_params
    page = check.whole(query, "page", 1, 1)
    size = check.whole(query, "offset", 10, 1)
    archived = check.boolean(query, "archived", False)
    workflow_type = check.choice(query, "type", WORKFLOW_TYPES, None)
    sort_field = check.choice(query, "sortField", SORT_FIELDS, "createdAt") or "createdAt"
    descending = check.choice(query, "sortOrder", ("asc", "desc"), "desc") == "desc"
    fault = state.pick_fault("agents", AGENT_LIST_FAULTS)
    if fault == "agents_page_loop":
        page = 1
    agents = state.agents.list_agents(archived=archived, search=query.get("search"), workflow_type=workflow_type,
                                      sort_field=sort_field, descending=descending)
    body = {"status": True, "data": {"agents": agents[(page - 1) * size: page * size], "total": len(agents)}}
    if fault is not None and fault != "agents_page_loop":
        return agents_answer(fault, state.config, body)
    return JSONResponse(body)


async def get_agent(request: Request, state: EmulatorState) -> Response:
    agent_id = request.path_params["id"]
    if not check.object_id(agent_id):
        return refused(400, "No agent found")
    query = request.query_params
    return ok(state.agents.get_agent(agent_id, query.get("draftId"), query.get("versionId")))


async def list_branches(request: Request, state: EmulatorState) -> Response:
    (agent_id,) = _ids(request, "id")
    return ok({"branches": state.agents.branches(agent_id)})


async def get_branch(request: Request, state: EmulatorState) -> Response:
    return ok(state.agents.get_branch(*_ids(request, "id", "branchId")))


async def get_draft(request: Request, state: EmulatorState) -> Response:
    return ok(state.agents.get_draft(*_ids(request, "id", "branchId")))


async def write_draft(request: Request, state: EmulatorState) -> Response:
    agent_id, branch_id = _ids(request, "id", "branchId")
    fields, expected = check.draft_fields(check.json_object(await request.body(), required=True))
    if state.config.agents_check_voice_ids:
        unknown = [v for v in check.waves_voice_ids(fields) if v not in STOCK_VOICES and state.clone(v) is None]
        if unknown:
            raise check.Rejected(f"Voice {unknown[0]} not found for model waves_lightning_v3_1")
    rival = state.pick_fault("agent_draft", ("agents_draft_conflict",)) is not None
    return ok(state.agents.write_draft(agent_id, branch_id, fields, expected, rival_first=rival))


async def discard_draft(request: Request, state: EmulatorState) -> Response:
    return ok(state.agents.discard_draft(*_ids(request, "id", "branchId")))


async def publish(request: Request, state: EmulatorState) -> Response:
    agent_id, branch_id = _ids(request, "id", "branchId")
    label = check.publish_label(check.json_object(await request.body(), required=False))
    fails = state.pick_fault("agent_publish", ("agents_scan_fail",)) is not None
    status, result = state.agents.publish(agent_id, branch_id, label, fails=fails)
    return ok(result, status)


async def list_revisions(request: Request, state: EmulatorState) -> Response:
    agent_id, branch_id = _ids(request, "id", "branchId")
    limit = check.whole(request.query_params, "limit", 20, 1, 100)
    skip = check.whole(request.query_params, "skip", 0, 0)
    revisions, total = state.agents.revisions(agent_id, branch_id, limit, skip)
    return ok({"revisions": revisions, "total": total})


async def get_revision(request: Request, state: EmulatorState) -> Response:
    return ok(state.agents.revision(*_ids(request, "id", "branchId", "revisionId")))


async def restore(request: Request, state: EmulatorState) -> Response:
    status, result = state.agents.restore(*_ids(request, "id", "branchId", "revisionId"))
    return ok(result, status)


_BRANCH = BASE + "/agent/{id}/branches/{branchId}"
ATOMS_ROUTES = [
    Route(BASE + "/agent", _route(list_agents), methods=["GET"]),
    Route(BASE + "/agent/{id}", _route(get_agent), methods=["GET"]),
    Route(BASE + "/agent/{id}/branches", _route(list_branches), methods=["GET"]),
    Route(_BRANCH, _route(get_branch), methods=["GET"]),
    Route(_BRANCH + "/draft", _route(get_draft), methods=["GET"]),
    Route(_BRANCH + "/draft", _route(write_draft), methods=["PUT"]),
    Route(_BRANCH + "/draft", _route(discard_draft), methods=["DELETE"]),
    Route(_BRANCH + "/draft/publish", _route(publish), methods=["POST"]),
    Route(_BRANCH + "/revisions", _route(list_revisions), methods=["GET"]),
    Route(_BRANCH + "/revisions/{revisionId}", _route(get_revision), methods=["GET"]),
    Route(_BRANCH + "/revisions/{revisionId}/restore", _route(restore), methods=["POST"]),
]
