"""Talking to the emulated Atoms agent routes in tests: `atoms_client(server)` (an httpx client
on `/atoms/v1` with the server's key), `data(response, status)` (the `data` of a vendor envelope,
checked), `all_agents`, `agent_named`, `branches`, `live_branch`, `live_voice`, `write_voice`
(a draft write of the synthesizer's voice), `publish`, `revisions`, and `analytics_log` (every
entry of the TTS analytics log)."""

from __future__ import annotations

from typing import Any

import httpx

from audit.emulator import EmulatorServer
from audit.emulator.agentdata import iso

BASE = "/atoms/v1"


def atoms_client(server: EmulatorServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url + BASE, headers={"Authorization": f"Bearer {server.api_key}"},
                        timeout=10)


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] is True
    return body["data"]


def all_agents(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every agent the list gives, page by page (7 a page), until it has `total` of them."""
    agents: list[dict[str, Any]] = []
    page = 1
    while True:
        page_data = data(client.get("/agent", params={"page": page, "offset": 7, **params}))
        agents += page_data["agents"]
        if not page_data["agents"] or len(agents) >= page_data["total"]:
            return agents
        page += 1


def agent_named(client: httpx.Client, name: str, archived: bool = False) -> dict[str, Any]:
    listed = next(a for a in all_agents(client, archived=str(archived).lower()) if a["name"] == name)
    return data(client.get(f"/agent/{listed['_id']}"))


def branches(client: httpx.Client, agent: dict[str, Any]) -> list[dict[str, Any]]:
    return data(client.get(f"/agent/{agent['_id']}/branches"))["branches"]


def live_branch(client: httpx.Client, agent: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in branches(client, agent) if b["isLive"])


def live_voice(client: httpx.Client, agent_id: str) -> str:
    return data(client.get(f"/agent/{agent_id}"))["_resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]


def write_voice(client: httpx.Client, agent: dict[str, Any], branch: dict[str, Any], voice_id: str,
                expected: int | None = None) -> httpx.Response:
    body: dict[str, Any] = {"synthesizer": {"voiceConfig": {"voiceId": voice_id}}}
    if expected is not None:
        body["expectedRevision"] = expected
    return client.put(f"/agent/{agent['_id']}/branches/{branch['branch']['_id']}/draft", json=body)


def publish(client: httpx.Client, agent: dict[str, Any], branch: dict[str, Any]) -> httpx.Response:
    return client.post(f"/agent/{agent['_id']}/branches/{branch['branch']['_id']}/draft/publish",
                       json={"label": "switch voice"})


def revisions(client: httpx.Client, agent: dict[str, Any], branch: dict[str, Any]) -> list[dict[str, Any]]:
    return data(client.get(f"/agent/{agent['_id']}/branches/{branch['branch']['_id']}/revisions"))["revisions"]


def analytics_log(client: httpx.Client) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get("/waves/v1/analytics/tts/logs", params={"page": page, "pageSize": 100}).json()
        entries += body["data"]
        if page >= body["totalPages"]:
            return entries
        page += 1


def iso_time(at: float) -> str:
    return iso(at) or ""
