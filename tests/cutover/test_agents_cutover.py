"""`cutover MAPPING --agents` against a fake Atoms account (respx): find, switch, record, roll back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import respx

from audit.api.client import WavesClient
from audit.core.config import ApiSettings
from audit.core.errors import AuthError, ExitCode
from audit.core.secrets import Secret
from audit.cutover.agentrecord import read_agent_record
from audit.migrate.proposal import Proposal
from audit.pipeline.agents import AgentOptions, agents_cutover
from audit.pipeline.agentsundo import agents_rollback
from tests.support.atomsfake import BASE, FakeAtoms, Revision, new_id, voice_config

OLD, NEW = "voice_AAAAAAAAAA", "voice_NNNNNNNNNN"
OLD2, NEW2 = "voice_BBBBBBBBBB", "voice_MMMMMMMMMM"
HELD = "voice_HHHHHHHHHH"  # its replacement is a fidelity mismatch nobody accepted
SETTINGS = ApiSettings(base_url=BASE, max_attempts=2, backoff_initial_s=0.0, backoff_max_s=0.01)
FAST = AgentOptions(write=True, scan_wait_s=5, poll_s=0)


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "migration" / "mapping.csv"
    path.parent.mkdir()
    path.write_text("old_voice_id,new_voice_id,status,fidelity\n"
                    f"{OLD},{NEW},ready,match\n{OLD2},{NEW2},ready,match\n{HELD},voice_XXXXXXXXXX,ready,mismatch\n",
                    encoding="utf-8")
    return path


@pytest.fixture
async def client():
    async with WavesClient(SETTINGS, Secret("sk_test_0123456789abcdef")) as c:
        yield c


def yes(proposal: Proposal) -> bool:
    return True


def voices(branch) -> str:
    return branch.head.config["synthesizer"]["voiceConfig"]["voiceId"]


@respx.mock
async def test_old_ids_are_found_on_live_and_other_branches_drafts_and_workflow_nodes(
        client: WavesClient, mapping: Path) -> None:
    fake = FakeAtoms()
    live = fake.agent("Front desk", OLD)
    staged = fake.agent("Sales", "voice_unrelated1", extra_branch="staging", extra_voice=OLD2)
    drafted = fake.agent("Support", "voice_unrelated2", draft_voice=OLD)
    graph = fake.agent("Router", "voice_unrelated3")
    graph.branches[0].head.config["workflowGraph"] = {"nodes": [
        {"id": "start", "data": {"prompt": "hi"}}, {"id": "es", "data": {"voice_id": HELD}}], "edges": []}
    fake.agent("Old", OLD, archived=True)
    fake.install(respx.mock)

    run = await agents_cutover(client, mapping, AgentOptions())
    found = {(h.agent_id, h.branch_name, h.live, h.kind, h.path, h.old_voice_id, h.new_voice_id, h.ready)
             for h in run.hits}
    assert found == {
        (live.id, "main", True, "head", "synthesizer.voiceConfig.voiceId", OLD, NEW, True),
        (staged.id, "staging", False, "head", "synthesizer.voiceConfig.voiceId", OLD2, NEW2, True),
        (drafted.id, "main", True, "draft", "synthesizer.voiceConfig.voiceId", OLD, NEW, True),
        (graph.id, "main", True, "head", "workflowGraph.nodes[1].data.voice_id", HELD, "voice_XXXXXXXXXX", False),
    }
    assert run.agents_read == 4  # the archived agent only on request
    assert [h.why_not for h in run.hits if not h.ready] == ["fidelity mismatch"]
    assert f"-  synthesizer.voiceConfig.voiceId: {OLD}" in run.diff()
    assert f"+  synthesizer.voiceConfig.voiceId: {NEW}" in run.diff()
    assert fake.writes == [] and run.exit_code == ExitCode.FINDINGS  # a dry run writes nothing
    assert f"agent {drafted.id} (Support) · branch main [live] · draft  (an open draft: reported, never switched)" \
        in run.diff()

    archived = await agents_cutover(client, mapping, AgentOptions(include_archived=True))
    assert archived.agents_read == 5 and any(h.archived for h in archived.hits)


@respx.mock
async def test_write_switches_ready_ids_and_leaves_not_ready_ones(client: WavesClient, mapping: Path) -> None:
    fake = FakeAtoms()
    ready = fake.agent("Front desk", OLD)
    held = fake.agent("Held", HELD)
    fake.install(respx.mock)
    run = await agents_cutover(client, mapping, FAST, confirm=yes)
    assert voices(ready.branches[0]) == NEW and len(ready.branches[0].revisions) == 2
    assert voices(held.branches[0]) == HELD and [w["agent"] for w in fake.writes] == [ready.id]
    assert [(h.agent_id, h.old_voice_id) for h in run.remaining] == [(held.id, HELD)]
    assert run.outcomes[0].state == "switched" and run.outcomes[0].revision_after == ready.branches[0].head.id


@respx.mock
async def test_nothing_is_written_without_the_confirmation(client: WavesClient, mapping: Path) -> None:
    fake = FakeAtoms()
    fake.agent("Front desk", OLD)
    fake.install(respx.mock)
    asked: list[Proposal] = []
    run = await agents_cutover(client, mapping, FAST, confirm=lambda proposal: bool(asked.append(proposal)))
    assert fake.writes == [] and run.confirmed is False
    # the question showed what would change before it was asked: each branch with its old → new ids
    (proposal,) = asked
    assert proposal.count == 1 and f"{OLD} → {NEW}" in proposal.voices[0] and "Front desk" in proposal.voices[0]
    assert "publish" in proposal.cost
    assert any("confirmation" in line for line in run.lines())


@respx.mock
async def test_a_conflict_is_skipped_and_never_overwritten(client: WavesClient, mapping: Path) -> None:
    fake = FakeAtoms(conflict_on_write=True)
    agent = fake.agent("Front desk", OLD)
    fake.install(respx.mock)
    run = await agents_cutover(client, mapping, FAST, confirm=yes)
    assert len(fake.writes) == 1 and fake.writes[0]["body"]["expectedRevision"] == 0
    assert run.outcomes[0].state == "skipped" and "never overwritten" in run.outcomes[0].reason
    assert len(agent.branches[0].revisions) == 1 and voices(agent.branches[0]) == OLD  # nothing published
    assert run.exit_code == ExitCode.FINDINGS


@respx.mock
async def test_a_branch_with_someone_elses_open_draft_is_not_touched(client: WavesClient, mapping: Path) -> None:
    fake = FakeAtoms()
    agent = fake.agent("Support", OLD, draft_voice=OLD)
    fake.install(respx.mock)
    run = await agents_cutover(client, mapping, FAST, confirm=yes)
    assert fake.writes == [] and agent.branches[0].draft.editor == "Priya"
    assert run.outcomes[0].state == "skipped" and "open draft (by Priya)" in run.outcomes[0].reason


@respx.mock
async def test_a_202_publish_is_waited_out_until_committed(client: WavesClient, mapping: Path) -> None:
    fake = FakeAtoms(publish_mode="scan", scan_polls=3)
    agent = fake.agent("Front desk", OLD)
    fake.install(respx.mock)
    run = await agents_cutover(client, mapping, FAST, confirm=yes)
    assert run.outcomes[0].state == "switched" and voices(agent.branches[0]) == NEW
    assert run.remaining == [] and run.exit_code == ExitCode.OK


@pytest.mark.parametrize("mode", ["scan-fail", "refuse"])
@respx.mock
async def test_a_failed_security_scan_is_reported(client: WavesClient, mapping: Path, mode: str) -> None:
    fake = FakeAtoms(publish_mode=mode, scan_polls=1)
    agent = fake.agent("Front desk", OLD)
    fake.install(respx.mock)
    run = await agents_cutover(client, mapping, FAST, confirm=yes)
    outcome = run.outcomes[0]
    assert outcome.state == "scan-failed" and ("scan" in outcome.reason)
    assert voices(agent.branches[0]) == OLD and run.exit_code == ExitCode.FINDINGS
    entry = read_agent_record(run.record_file)["agents"][0]
    assert entry["state"] == "failed"


@respx.mock
async def test_each_switched_branch_is_recorded_before_the_next_call(client: WavesClient, mapping: Path) -> None:
    fake = FakeAtoms()
    first = fake.agent("Front desk", OLD)
    fake.agent("Sales", OLD2)
    seen: list[dict] = []

    def at_write(agent_id: str, branch_id: str) -> None:
        if agent_id != first.id:  # the process could die here: what does the record hold?
            record_file = next((mapping.parent / "clone-audit-rollback").glob("agents-rollback-*.json"))
            seen.append(read_agent_record(record_file))

    fake.on_write = at_write
    fake.install(respx.mock)
    await agents_cutover(client, mapping, FAST, confirm=yes)
    entries = seen[0]["agents"]
    assert entries[0]["agent_id"] == first.id and entries[0]["state"] == "published"
    assert entries[0]["revision_before"] == first.branches[0].revisions[0].id
    assert entries[0]["revision_after"] == first.branches[0].head.id
    assert entries[1]["state"] == "writing"  # the second, recorded before its own write went out


@respx.mock
async def test_rollback_restores_only_where_the_head_is_still_ours(client: WavesClient, mapping: Path) -> None:
    fake = FakeAtoms()
    ours = fake.agent("Front desk", OLD)
    moved = fake.agent("Sales", OLD2)
    fake.install(respx.mock)
    run = await agents_cutover(client, mapping, FAST, confirm=yes)
    moved.branches[0].revisions.append(Revision(new_id(), 3, voice_config("voice_someoneelse")))  # published since

    undone = await agents_rollback(client, run.record_file, FAST)
    states = {b.agent_id: (b.state, b.reason) for b in undone.branches}
    assert states[ours.id][0] == "restored" and voices(ours.branches[0]) == OLD
    assert states[moved.id][0] == "left" and "someone published since" in states[moved.id][1]
    assert voices(moved.branches[0]) == "voice_someoneelse" and undone.exit_code == ExitCode.FINDINGS


async def test_a_tampered_record_restores_nothing(client: WavesClient, tmp_path: Path) -> None:
    from audit.core.errors import UsageError
    from audit.cutover.agentrecord import AgentRecord

    book = AgentRecord(tmp_path / "agents-rollback.json", {"mapping": str(tmp_path / "m.csv")})
    book.add(agent_id=new_id(), agent_name="a", branch_id=new_id(), branch_name="main", live=True,
             revision_before=new_id(), changes=[{"path": "p", "old": OLD, "new": NEW}])
    document = json.loads(book.path.read_text())
    document["agents"][0]["revision_before"] = new_id()
    book.path.write_text(json.dumps(document))
    with pytest.raises(UsageError, match="changed after it was written"):
        await agents_rollback(client, book.path)


@respx.mock
async def test_an_agent_that_cannot_be_read_is_named_and_the_others_are_read(client: WavesClient, mapping: Path) -> None:
    fake = FakeAtoms()
    broken = fake.agent("Broken", OLD)
    fine = fake.agent("Fine", OLD2)
    respx.get(url__regex=rf".*/agent/{broken.id}/branches$").respond(200, json={"status": True, "data": {"branches": "?"}})
    fake.install(respx.mock)
    run = await agents_cutover(client, mapping, AgentOptions())
    assert [h.agent_id for h in run.hits] == [fine.id]
    assert [(a, n) for a, n, _ in run.unchecked] == [(broken.id, "Broken")]
    assert run.exit_code == ExitCode.PARTIAL and any(f"not checked: agent {broken.id}" in x for x in run.lines())


@respx.mock
async def test_a_refused_agent_is_named_but_a_refused_key_stops_the_run(client: WavesClient, mapping: Path) -> None:
    """403 on one agent: that agent is not checked, the others are read; 401: the key itself is
    refused, so the run stops rather than calling every agent unreadable."""
    fake = FakeAtoms()
    refused = fake.agent("Refused", OLD)
    fine = fake.agent("Fine", OLD2)
    route = respx.get(url__regex=rf".*/agent/{refused.id}/branches$")
    route.respond(403, json={"status": False, "errors": ["Forbidden"]})
    fake.install(respx.mock)
    run = await agents_cutover(client, mapping, AgentOptions())
    assert [h.agent_id for h in run.hits] == [fine.id]
    assert [(a, n) for a, n, _ in run.unchecked] == [(refused.id, "Refused")]
    assert run.exit_code == ExitCode.PARTIAL
    route.respond(401, json={"status": False, "errors": ["Unauthorized"]})
    with pytest.raises(AuthError) as stopped:
        await agents_cutover(client, mapping, AgentOptions())
    assert stopped.value.status == 401


class Killed(BaseException):
    """The process dying mid-run (nothing catches a BaseException of its own)."""


@respx.mock
async def test_a_run_killed_mid_way_leaves_a_record_of_the_first_agent(client: WavesClient, mapping: Path) -> None:
    fake = FakeAtoms()
    first = fake.agent("Front desk", OLD)
    second = fake.agent("Sales", OLD2)

    def die(agent_id: str, branch_id: str) -> None:
        if agent_id == second.id:
            raise Killed

    fake.on_write = die
    fake.install(respx.mock)
    with pytest.raises(Killed):
        await agents_cutover(client, mapping, FAST, confirm=yes)
    (record_file,) = (mapping.parent / "clone-audit-rollback").glob("agents-rollback-*.json")
    entries = read_agent_record(record_file)["agents"]
    assert [(e["agent_id"], e["state"]) for e in entries] == [(first.id, "published"), (second.id, "writing")]
    assert entries[0]["revision_after"] == first.branches[0].head.id

    undone = await agents_rollback(client, record_file, FAST)  # what was published is undone; the rest said
    assert [b.state for b in undone.branches] == ["restored", "left"] and voices(first.branches[0]) == OLD
