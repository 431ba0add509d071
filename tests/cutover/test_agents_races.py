"""`cutover --agents --write` when the branch moves under it, against the emulator's lifecycle:
a colleague's draft or publish racing the write, a publish already in its scan, a failed scan,
a stop after the publish, a poll that fails, and a record rolled back with another account."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from audit.api import atoms as atoms_module
from audit.api.client import WavesClient
from audit.core.config import ApiSettings
from audit.core.errors import BadAnswer, UsageError
from audit.core.secrets import Secret
from audit.cutover.agentrecord import read_agent_record
from audit.emulator import EmulatorServer, Fault
from audit.emulator.agentbook import RIVAL
from audit.migrate.proposal import Proposal
from audit.pipeline.agents import AgentOptions, agents_cutover
from audit.pipeline.agentsundo import agents_rollback
from tests.support.atomsfake import BASE as FAKE_BASE
from tests.support.atomsfake import FakeAtoms, ok

FAST = AgentOptions(write=True, scan_wait_s=3, poll_s=0.05)
NEW = "voice_NEW0000000x"
OLD = "voice_AAAAAAAAAA"


def yes(proposal: Proposal) -> bool:
    return True


@pytest.fixture
def start() -> Iterator[Any]:
    servers: list[EmulatorServer] = []

    def started(**config: Any) -> EmulatorServer:
        server = EmulatorServer.with_org(n=16, seed=7, **config).start()
        servers.append(server)
        return server
    yield started
    for server in servers:
        server.stop()


def agent_id(server: EmulatorServer, name: str = "Front Desk") -> str:
    book = server.state.agents
    (found,) = [i for i in book.ids() if book.get_agent(i)["name"] == name]
    return found


def live(server: EmulatorServer, name: str = "Front Desk") -> dict[str, Any]:
    return server.state.agents.live_config(agent_id(server, name))


def main_branch(server: EmulatorServer) -> str:
    return server.state.agents.branches(agent_id(server))[0]["branch"]["_id"]


def mapping_for(server: EmulatorServer, folder: Path) -> Path:
    old = live(server)["synthesizer"]["voiceConfig"]["voiceId"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mapping.csv"
    path.write_text(f"old_voice_id,new_voice_id,status,fidelity\n{old},{NEW},ready,match\n", encoding="utf-8")
    return path


def client(server: EmulatorServer, key: str | None = None) -> WavesClient:
    return WavesClient(ApiSettings(base_url=server.base_url, max_attempts=2, backoff_initial_s=0.0,
                                   backoff_max_s=0.01), Secret(key or server.api_key))


def front_desk(run: Any) -> Any:
    (outcome,) = [o for o in run.outcomes if o.agent_name == "Front Desk"]
    return outcome


def voice(config: dict[str, Any]) -> str:
    return config["synthesizer"]["voiceConfig"]["voiceId"]


async def test_a_colleagues_draft_opened_before_the_write_is_never_published(
        start: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = start()
    book = server.state.agents
    mapping = mapping_for(server, tmp_path / "m")
    write = book.write_draft

    def colleague_first(agent: str, branch: str, fields: Any, expected: Any, *, rival_first: bool = False) -> Any:
        with book._lock:  # their save lands between clone-audit's check and its write
            book._edit(book._branch(agent, branch)[1], {"globalPrompt": "UNREVIEWED prompt"}, RIVAL)
        return write(agent, branch, fields, expected, rival_first=rival_first)
    monkeypatch.setattr(book, "write_draft", colleague_first)
    before = live(server)
    async with client(server) as c:
        run = await agents_cutover(c, mapping, FAST, confirm=yes)
    outcome = front_desk(run)
    assert outcome.state == "skipped" and "colleague" in outcome.reason
    assert live(server) == before  # nothing of theirs (or ours) went live
    draft = book.get_draft(agent_id(server), main_branch(server))
    assert "Dana Whitfield" in [e["editorName"] for e in draft["editHistory"]]  # their draft left open


async def test_a_colleagues_publish_before_the_write_is_not_reverted(
        start: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = start()
    book = server.state.agents
    mapping = mapping_for(server, tmp_path / "m")
    write = book.write_draft

    def colleague_publishes(agent: str, branch: str, fields: Any, expected: Any, *, rival_first: bool = False) -> Any:
        with book._lock:
            book._edit(book._branch(agent, branch)[1], {"synthesizer": {"speed": 1.4}}, RIVAL)
        book.publish(agent, branch, "faster", fails=False)
        monkeypatch.setattr(book, "write_draft", write)
        return write(agent, branch, fields, expected, rival_first=rival_first)
    monkeypatch.setattr(book, "write_draft", colleague_publishes)
    async with client(server) as c:
        run = await agents_cutover(c, mapping, FAST, confirm=yes)
        assert front_desk(run).state == "skipped" and "head moved" in front_desk(run).reason
        assert live(server)["synthesizer"]["speed"] == 1.4  # their published change stays live
        undo = await agents_rollback(c, run.record_file)
    assert any("discarded" in b.reason for b in undo.branches)  # clone-audit's own draft, cleaned
    assert book.branches(agent_id(server))[0]["hasOpenDraft"] is False


def test_the_draft_write_sends_only_the_path_to_the_voice_id() -> None:
    from audit.cutover.agents import AgentHit, switch_fields
    config = {"synthesizer": {"speed": 1.0, "voiceConfig": {"voiceId": "voice_old", "model": "m"}},
              "workflowGraph": {"nodes": [{"id": "a", "data": {"voiceId": "voice_old", "x": 1}}], "edges": []}}

    def hit(*parts: Any) -> AgentHit:
        return AgentHit("a", "A", False, "b", "main", True, "head", "r", parts, "voice_old", NEW, True, "")
    patch = switch_fields(config, [hit("synthesizer", "voiceConfig", "voiceId"),
                                   hit("workflowGraph", "nodes", 0, "data", "voiceId")])
    assert patch == {"synthesizer": {"voiceConfig": {"voiceId": NEW}},
                     "workflowGraph": {"nodes": [{"id": "a", "data": {"voiceId": NEW, "x": 1}}]}}


async def test_a_publish_already_in_its_scan_is_seen_before_any_write(start: Any, tmp_path: Path) -> None:
    server = start(agents_scan_s=3600)
    book = server.state.agents
    mapping = mapping_for(server, tmp_path / "m")
    agent, branch = agent_id(server), main_branch(server)
    with book._lock:
        book._edit(book._branch(agent, branch)[1], {"globalPrompt": "reviewed"}, RIVAL)
    book.publish(agent, branch, "colleague", fails=False)
    async with client(server) as c:
        run = await agents_cutover(c, mapping, FAST, confirm=yes)
    outcome = front_desk(run)
    assert outcome.state == "skipped" and "security scan" in outcome.reason and "in its" in outcome.reason
    assert book.branches(agent_id(server))[0]["hasOpenDraft"] is False  # no draft of ours left behind


async def test_a_failed_scan_is_undone_truthfully_and_its_reopened_draft_discarded(start: Any, tmp_path: Path) -> None:
    server = start(agents_scan_s=0.3, agents_scan_fail=Fault(every=1))
    mapping = mapping_for(server, tmp_path / "m")
    async with client(server) as c:
        run = await agents_cutover(c, mapping, FAST, confirm=yes)
        assert front_desk(run).state == "scan-failed"
        assert "draft" in front_desk(run).reason
        undo = await agents_rollback(c, run.record_file)
    (entry,) = undo.branches
    assert "someone published" not in entry.reason and "security scan" in entry.reason
    assert "discarded" in entry.reason
    assert server.state.agents.branches(agent_id(server))[0]["hasOpenDraft"] is False


@pytest.mark.parametrize("stop", ["after_publish", "poll_error"])
async def test_a_switch_that_went_live_unrecorded_is_rolled_back(
        start: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: str) -> None:
    server = start(agents_scan_s=0.2) if stop == "poll_error" else start()
    mapping = mapping_for(server, tmp_path / "m")
    before = voice(live(server))
    publish, latest = atoms_module.AtomsApi.publish, atoms_module.AtomsApi.latest_revision

    class Killed(BaseException):
        pass

    async def killed_after(self: Any, *args: Any, **kwargs: Any) -> Any:
        await publish(self, *args, **kwargs)
        raise Killed()

    polls = 0

    async def flaky(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal polls
        polls += 1
        if polls > 1:  # the check before the write reads it; the scan's polls fail
            raise BadAnswer("GET .../revisions answered 502", status=502)
        return await latest(self, *args, **kwargs)
    if stop == "after_publish":
        monkeypatch.setattr(atoms_module.AtomsApi, "publish", killed_after)
    else:
        monkeypatch.setattr(atoms_module.AtomsApi, "latest_revision", flaky)
    async with client(server) as c:
        try:
            run = await agents_cutover(c, mapping, FAST, confirm=yes)
            assert front_desk(run).state == "scanning" and "may be live" in front_desk(run).reason
        except Killed:
            pass
    monkeypatch.setattr(atoms_module.AtomsApi, "publish", publish)
    monkeypatch.setattr(atoms_module.AtomsApi, "latest_revision", latest)
    (record,) = list((mapping.parent / "clone-audit-rollback").glob("agents-rollback-*.json"))
    assert json.loads(record.read_text())["agents"][0]["state"] in ("publishing", "scanning")
    time.sleep(0.5)  # the scan ends
    assert voice(live(server)) == NEW  # it went live
    async with client(server) as c:
        undo = await agents_rollback(c, record, AgentOptions(scan_wait_s=3, poll_s=0.05))
    assert [b.state for b in undo.branches] == ["restored"]
    assert voice(live(server)) == before


async def test_a_record_of_another_account_is_refused_before_any_call(start: Any, tmp_path: Path) -> None:
    a, b = start(), start()
    mapping = mapping_for(a, tmp_path / "a")
    async with client(a) as c:
        run = await agents_cutover(c, mapping, FAST, confirm=yes)
    switched_b = voice(live(b))
    async with client(b) as c:
        with pytest.raises(UsageError, match="made against"):
            await agents_rollback(c, run.record_file)
    async with client(a, key="sk_live_another_account_0123456789") as c:
        with pytest.raises(UsageError, match="account"):
            await agents_rollback(c, run.record_file)
    assert voice(live(b)) == switched_b and voice(live(a)) == NEW  # neither was touched


@respx.mock
async def test_a_deeply_nested_config_marks_its_agent_not_checked(tmp_path: Path) -> None:
    old = "voice_AAAAAAAAAA"
    mapping = tmp_path / "mapping.csv"
    mapping.write_text(f"old_voice_id,new_voice_id,status,fidelity\n{old},{NEW},ready,match\n", encoding="utf-8")
    deep: list[Any] = []
    for _ in range(600):  # well within what JSON parses; deeper than any config nests
        deep = [deep]
    fake = FakeAtoms()
    odd = fake.agent("Front desk", old)
    odd.branches[0].revisions[0].config["synthesizer"]["extra"] = deep
    fine = fake.agent("Second", old)
    fake.install(respx.mock)
    settings = ApiSettings(base_url=FAKE_BASE, max_attempts=2, backoff_initial_s=0.0, backoff_max_s=0.01)
    async with WavesClient(settings, Secret("sk_test_0123456789abcdef")) as c:
        run = await agents_cutover(c, mapping, FAST, confirm=yes)
    assert int(run.exit_code) == 4  # partial: one agent not checked
    assert [name for _, name, _ in run.unchecked] == ["Front desk"]
    assert [(o.agent_id, o.state) for o in run.outcomes] == [(fine.id, "switched")]  # the others still switched


def fake_account(tmp_path: Path, **fake_options: Any) -> tuple[FakeAtoms, Path]:
    mapping = tmp_path / "mapping.csv"
    mapping.write_text(f"old_voice_id,new_voice_id,status,fidelity\n{OLD},{NEW},ready,match\n", encoding="utf-8")
    fake = FakeAtoms(**fake_options)
    fake.install(respx.mock)
    return fake, mapping


def fake_client() -> WavesClient:
    settings = ApiSettings(base_url=FAKE_BASE, max_attempts=2, backoff_initial_s=0.0, backoff_max_s=0.01)
    return WavesClient(settings, Secret("sk_test_0123456789abcdef"))


@respx.mock
async def test_a_publish_refused_as_in_progress_is_not_called_a_failed_scan(tmp_path: Path) -> None:
    fake, mapping = fake_account(tmp_path, publish_mode="busy")
    agent = fake.agent("Front desk", OLD)
    async with fake_client() as c:
        run = await agents_cutover(c, mapping, FAST, confirm=yes)
    (outcome,) = run.outcomes
    assert outcome.state != "scan-failed" and "in progress" in outcome.reason
    assert "security scan refusing" not in outcome.reason and "refused the draft" not in outcome.reason
    assert agent.branches[0].draft is not None and agent.branches[0].draft.id in outcome.reason  # named


@respx.mock
async def test_a_committed_answer_the_branch_does_not_show_is_checked_against_the_head(tmp_path: Path) -> None:
    fake, mapping = fake_account(tmp_path, publish_mode="misreport")
    agent = fake.agent("Front desk", OLD)
    async with fake_client() as c:
        run = await agents_cutover(c, mapping, FAST, confirm=yes)
    (outcome,) = run.outcomes
    head = agent.branches[0].head
    assert head is not None and outcome.state == "switched" and outcome.revision_after == head.id
    assert read_agent_record(run.record_file)["agents"][0]["revision_after"] == head.id


@respx.mock
async def test_archived_agents_in_the_active_list_are_read_only_on_request(tmp_path: Path) -> None:
    fake, mapping = fake_account(tmp_path)
    fake.agent("Front desk", OLD)
    archived = fake.agent("Old line", OLD, archived=True)
    listed = fake._list

    def with_archived(request: Any) -> Any:  # a server that lists archived agents with the active ones
        if request.url.params.get("archived") == "true":
            return listed(request)
        return ok({"agents": [{"_id": a.id, "name": a.name, "archived": a.archived} for a in fake.agents],
                   "total": len(fake.agents)})
    fake._list = with_archived  # type: ignore[method-assign]
    fake.install(respx.mock)
    async with fake_client() as c:
        run = await agents_cutover(c, mapping, AgentOptions())
        assert archived.id not in {h.agent_id for h in run.hits} and run.agents_read == 1
        run = await agents_cutover(c, mapping, AgentOptions(include_archived=True))
        assert archived.id in {h.agent_id for h in run.hits}
