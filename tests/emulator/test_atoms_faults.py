"""The emulated Atoms agents' faults over real HTTP: a colleague's conflicting save, hostile pages
of the agent list, and the agents' calls in the TTS analytics log (and `usage` reading them)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from audit.emulator import EmulatorServer, Fault, ManualClock
from audit.emulator.agentseed import SCENARIOS
from tests.support.atoms import (
    agent_named, all_agents, analytics_log, atoms_client, data, iso_time, live_branch, live_voice, publish,
    write_voice,
)
from tests.support.cli import cli_env, clone_audit
from tests.support.cutover import write_mapping

pytestmark = pytest.mark.integration

StartEmulator = Callable[..., EmulatorServer]


def test_the_conflict_fault_is_a_colleagues_save_just_before_the_write(start_emulator: StartEmulator) -> None:
    server = start_emulator(agents_draft_conflict=Fault(every=1))
    with atoms_client(server) as client:
        front = agent_named(client, "Front Desk")
        main = live_branch(client, front)
        old = live_voice(client, front["_id"])
        refused = write_voice(client, front, main, "voice_new0000", expected=0)
        assert refused.status_code == 409 and refused.json()["errors"] == ["synthesizer.voiceConfig.voiceId"]
        draft = data(client.get(f"/agent/{front['_id']}/branches/{main['branch']['_id']}/draft"))
        assert [e["editorName"] for e in draft["editHistory"]] == ["Dana Whitfield"]
        assert live_voice(client, front["_id"]) == old
        preview = data(client.get(f"/agent/{front['_id']}", params={"draftId": draft["latest"]["draftId"]}))
        assert preview["_resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"] == old  # nothing of ours written


# -- hostile pages ---------------------------------------------------------------------------


def test_a_looping_page_answers_page_one_whatever_is_asked(start_emulator: StartEmulator) -> None:
    with atoms_client(start_emulator(agents_page_loop=Fault(every=1))) as client:
        pages = [data(client.get("/agent", params={"page": p}))["agents"] for p in (1, 2, 3)]
        assert pages[0] and pages[0] == pages[1] == pages[2]


@pytest.mark.parametrize("fault", ["agents_truncated", "agents_garbage"])
def test_a_broken_page_is_not_json(start_emulator: StartEmulator, fault: str) -> None:
    with atoms_client(start_emulator(**{fault: Fault(every=1)})) as client:
        answer = client.get("/agent")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
        with pytest.raises(json.JSONDecodeError):
            answer.json()


def test_a_page_of_the_wrong_types(start_emulator: StartEmulator) -> None:
    with atoms_client(start_emulator(agents_wrong_shape=Fault(every=1), wrong_shape_every=2)) as client:
        page = client.get("/agent", params={"offset": 8}).json()["data"]
        assert isinstance(page["total"], str)
        bent = page["agents"][::2]
        assert bent[0]["_id"] == 4242 and isinstance(bent[1]["synthesizer"], str)
        assert isinstance(bent[2]["synthesizer"]["voiceConfig"], list) and bent[3] is None


def test_an_enormous_page(start_emulator: StartEmulator) -> None:
    with atoms_client(start_emulator(agents_huge=Fault(every=1), huge_list_bytes=3 << 20)) as client:
        answer = client.get("/agent")
        assert len(answer.content) == 3 << 20 and answer.json()["data"]["agents"]


# -- the agents' calls ---------------------------------------------------------------------


def test_an_agents_old_voice_goes_quiet_in_the_analytics_log_once_its_live_branch_switches(
        start_emulator: StartEmulator) -> None:
    clock = ManualClock(start=1_780_000_000.0)
    server = start_emulator(clock=clock, agent_call_every_s=60.0)
    with atoms_client(server) as client, httpx.Client(base_url=server.base_url, headers=client.headers) as waves:
        book = server.state.agents
        live = {i: book.live_config(i)["synthesizer"]["voiceConfig"]["voiceId"] for i in book.ids()}
        names = {a["_id"]: a["name"] for a in all_agents(client)}
        alone = next(i for i in names if names[i] in SCENARIOS and list(live.values()).count(live[i]) == 1)
        front = agent_named(client, names[alone])
        main = live_branch(client, front)
        old = live_voice(client, front["_id"])
        clock.advance(600.0)
        data(write_voice(client, front, main, "voice_new0000", expected=0))
        data(publish(client, front, main))
        switched = clock.now()
        clock.advance(600.0)
        log = analytics_log(waves)
        old_calls = [e for e in log if e["voice_id"] == old]
        new_calls = [e for e in log if e["voice_id"] == "voice_new0000"]
        assert old_calls and new_calls
        assert max(e["timestamp"] for e in old_calls) <= iso_time(switched) < min(e["timestamp"] for e in new_calls)
        archived = agent_named(client, "Collections", archived=True)
        archived_voice = archived["_resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
        others = {a["_resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
                  for a in (agent_named(client, n) for n in SCENARIOS if n != "Collections")}
        if archived_voice not in others:
            assert not [e for e in log if e["voice_id"] == archived_voice]


def test_usage_shows_an_agents_old_voice_quiet_after_its_live_branch_names_the_new_one(
        start_emulator: StartEmulator, tmp_path: Path) -> None:
    clock = ManualClock(start=time.time() - 7200)  # in the past: `usage --since` refuses the future
    server = start_emulator(clock=clock, agent_call_every_s=60.0)
    book = server.state.agents
    live = {i: book.live_config(i)["synthesizer"]["voiceConfig"]["voiceId"] for i in book.ids()}
    with atoms_client(server) as client:
        names = {a["_id"]: a["name"] for a in all_agents(client)}
        alone = next(i for i in names if names[i] in SCENARIOS and list(live.values()).count(live[i]) == 1)
        agent = agent_named(client, names[alone])
        new = next(c.voice_id for c in server.state.clones() if c.engine == "v3.1" and c.voice_id not in live.values())
        mapping = write_mapping(tmp_path, ((live[alone], new),))
        started = datetime.fromtimestamp(clock.now(), UTC).isoformat()
        clock.advance(600.0)
        data(write_voice(client, agent, live_branch(client, agent), new, expected=0))
        data(publish(client, agent, live_branch(client, agent)))
        switched = datetime.fromtimestamp(clock.now(), UTC).isoformat()
        clock.advance(600.0)
    before = clone_audit("usage", str(mapping), "--since", started, env=cli_env(server))
    assert before.returncode == 1 and f"{live[alone]}  10 call(s)" in before.stdout, before.stdout + before.stderr
    after = clone_audit("usage", str(mapping), "--since", switched, env=cli_env(server))
    assert after.returncode == 0, after.stdout + after.stderr
    assert f"{live[alone]}  0 call(s)" in after.stdout and "0 of 1 old id(s) called" in after.stdout
    assert f"new {new}: 10 call(s)" in after.stdout


def test_with_voice_checks_a_write_naming_a_voice_the_account_lacks_is_a_400(start_emulator: StartEmulator) -> None:
    server = start_emulator(agents_check_voice_ids=True)
    with atoms_client(server) as client:
        front = agent_named(client, "Front Desk")
        main = live_branch(client, front)
        refused = write_voice(client, front, main, "voice_NOTHERE00", expected=0)
        assert refused.status_code == 400 and "voice_NOTHERE00" in refused.json()["errors"][0]
        real = next(c.voice_id for c in server.state.clones() if c.engine == "v3.1")
        assert data(write_voice(client, front, main, real, expected=0))["draftRevision"] == 1
