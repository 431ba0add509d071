"""The Atoms client against respx: request shapes, all pages of agents, hostile pages bounded."""

from __future__ import annotations

import httpx
import pytest
import respx

from audit.api.atoms import PAGE_SIZE, BranchRefused
from audit.api.client import WavesClient
from audit.core.config import ApiSettings
from audit.core.errors import BadAnswer
from audit.core.secrets import Secret
from tests.support.atomsfake import ATOMS, BASE, FakeAtoms, new_id, ok

KEY = "sk_test_0123456789abcdef"
FAST = ApiSettings(base_url=BASE, max_attempts=2, backoff_initial_s=0.0, backoff_max_s=0.01, timeout_s=5.0)


@pytest.fixture
async def client():
    async with WavesClient(FAST, Secret(KEY)) as c:
        yield c


def agents(n: int, start: int = 0) -> list[dict[str, str]]:
    return [{"_id": f"{i:024x}", "name": f"agent {i}"} for i in range(start, start + n)]


@respx.mock
async def test_every_page_of_agents_is_read_with_the_key(client: WavesClient) -> None:
    items = agents(PAGE_SIZE * 2 + 3)

    def page(request: httpx.Request) -> httpx.Response:
        number, size = int(request.url.params["page"]), int(request.url.params["offset"])
        return ok({"agents": items[(number - 1) * size: number * size], "total": len(items)})

    route = respx.get(f"{ATOMS}/agent").mock(side_effect=page)
    got = await client.atoms.list_agents()
    assert [a.agent_id for a in got] == [i["_id"] for i in items]
    assert route.call_count == 3
    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"
    assert route.calls.last.request.url.params["archived"] == "false"


@respx.mock
async def test_a_page_repeated_forever_is_an_error_not_a_hang(client: WavesClient) -> None:
    respx.get(f"{ATOMS}/agent").respond(200, json={"status": True, "data": {"agents": agents(PAGE_SIZE)}})
    with pytest.raises(BadAnswer, match="repeats page 1"):
        await client.atoms.list_agents()


@respx.mock
async def test_pages_that_never_end_stop_at_the_page_cap(client: WavesClient) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        return ok({"agents": agents(PAGE_SIZE, number * PAGE_SIZE)})

    route = respx.get(f"{ATOMS}/agent").mock(side_effect=page)
    with pytest.raises(BadAnswer, match="past 5 pages"):
        await client.atoms.list_agents(max_pages=5)
    assert route.call_count == 5


@respx.mock
async def test_a_list_that_ends_before_its_total_is_an_error(client: WavesClient) -> None:
    respx.get(f"{ATOMS}/agent").respond(200, json={"status": True, "data": {"agents": agents(3), "total": 40}})
    with pytest.raises(BadAnswer, match="after 3 agents of the 40"):
        await client.atoms.list_agents()


@pytest.mark.parametrize("body", [
    {"status": True, "data": {"agents": "nope"}},
    {"status": True, "data": {"agents": [{"_id": "../../waves/v1/voice-cloning", "name": "x"}]}},
    {"status": True, "data": {"agents": agents(PAGE_SIZE + 1)}},
    {"status": True},
])
@respx.mock
async def test_hostile_agent_pages_are_clear_errors(client: WavesClient, body: dict) -> None:
    respx.get(f"{ATOMS}/agent").respond(200, json=body)
    with pytest.raises(BadAnswer):
        await client.atoms.list_agents()


@respx.mock
async def test_a_huge_page_is_cut_at_its_cap(client: WavesClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audit.api.atoms.MAX_CONFIG_BYTES", 10_000)
    respx.get(f"{ATOMS}/agent").respond(200, content=b'{"data": {"agents": [' + b" " * 50_000 + b"]}}")
    with pytest.raises(BadAnswer, match="cap"):
        await client.atoms.list_agents()


@respx.mock
async def test_draft_write_sends_whole_fields_and_the_revision_read(client: WavesClient) -> None:
    fake = FakeAtoms()
    agent = fake.agent("Front desk", "voice_AAAAAAAAAA")
    fake.install(respx.mock)
    branch = agent.branches[0]
    fields = {"synthesizer": {"voiceConfig": {"voiceId": "voice_NNNNNNNNNN"}}}
    draft_id, revision = await client.atoms.write_draft(agent.id, branch.id, fields, 0)
    sent = fake.writes[-1]["body"]
    assert sent == {**fields, "expectedRevision": 0} and revision == 1 and draft_id == branch.draft.id
    assert respx.calls.last.request.method == "PUT"


@respx.mock
async def test_a_conflicting_draft_write_is_refused_for_that_branch_only(client: WavesClient) -> None:
    fake = FakeAtoms(conflict_on_write=True)
    agent = fake.agent("Front desk", "voice_AAAAAAAAAA")
    fake.install(respx.mock)
    with pytest.raises(BranchRefused) as refused:
        await client.atoms.write_draft(agent.id, agent.branches[0].id, {"synthesizer": {}}, 0)
    assert refused.value.conflict and refused.value.status == 409
    assert len(fake.writes) == 1  # a write is never retried blindly


@respx.mock
async def test_a_202_publish_is_waited_out_until_committed(client: WavesClient) -> None:
    fake = FakeAtoms(publish_mode="scan", scan_polls=3)
    agent = fake.agent("Front desk", "voice_AAAAAAAAAA")
    fake.install(respx.mock)
    branch = agent.branches[0]
    before = branch.head.id
    await client.atoms.write_draft(agent.id, branch.id, {"firstMessage": "Hi"}, 0)
    outcome = await client.atoms.publish(agent.id, branch.id, "switch")
    assert outcome.state == "scanning" and outcome.revision is None
    revision = await client.atoms.settle(agent.id, branch.id, outcome, before, wait_s=5, interval_s=0)
    assert revision is not None and revision.committed and revision.revision_id == branch.head.id != before


@respx.mock
async def test_the_scan_wait_is_bounded(client: WavesClient) -> None:
    fake = FakeAtoms(publish_mode="scan", scan_polls=10_000)
    agent = fake.agent("Front desk", "voice_AAAAAAAAAA")
    fake.install(respx.mock)
    branch = agent.branches[0]
    await client.atoms.write_draft(agent.id, branch.id, {"firstMessage": "Hi"}, 0)
    outcome = await client.atoms.publish(agent.id, branch.id, "switch")
    revision = await client.atoms.settle(agent.id, branch.id, outcome, branch.head.id, wait_s=0.05, interval_s=0.01)
    assert revision is not None and not revision.committed and not revision.scan_failed


@respx.mock
async def test_ids_from_answers_must_be_plain_before_they_go_into_a_path(client: WavesClient) -> None:
    agent = new_id()
    respx.get(f"{ATOMS}/agent/{agent}/branches").respond(200, json={"status": True, "data": {"branches": [
        {"branch": {"_id": "x/../../y", "name": "main"}, "isLive": True}]}})
    with pytest.raises(BadAnswer, match="not a plain id"):
        await client.atoms.list_branches(agent)
