"""The emulated Atoms agents over real HTTP: seeding, pages, reads of branches, drafts and revisions,
and the draft → publish → restore lifecycle (its faults and calls: test_atoms_faults.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, Fault, ManualClock, generate_org
from audit.emulator.agentseed import SCENARIOS
from audit.emulator.archivekinds import archive_outcomes
from audit.emulator.recordings import generate_archive
from tests.support.atoms import (
    BASE, agent_named, all_agents, atoms_client, branches, data, live_branch, live_voice, publish, revisions,
    write_voice,
)

pytestmark = pytest.mark.integration

StartEmulator = Callable[..., EmulatorServer]
MODEL = "waves_lightning_v3_1"


@pytest.fixture(scope="module")
def shared() -> Any:
    with EmulatorServer.with_org(n=30, seed=0) as server, atoms_client(server) as client:
        yield server, client


# -- seeding and reads ---------------------------------------------------------------------


def test_pages_list_every_active_agent_once_and_archived_ones_only_on_request(shared: Any) -> None:
    server, client = shared
    active = all_agents(client)
    archived = all_agents(client, archived="true")
    assert len(active) == 23 and len({a["_id"] for a in active}) == 23
    assert [a["name"] for a in archived] == ["Collections"] and archived[0]["archived"] is True
    assert data(client.get("/agent", params={"page": 99}))["agents"] == []
    assert set(SCENARIOS) - {"Collections"} <= {a["name"] for a in active}


def test_an_agent_resolves_its_live_config_naming_its_voice(shared: Any) -> None:
    server, client = shared
    org = generate_org(30, 0)
    usable = {v for v, o in archive_outcomes(org.clones, 0).items() if o in ("ok", "fit")}
    front = agent_named(client, "Front Desk")
    voice = front["_resolvedConfig"]["synthesizer"]["voiceConfig"]
    assert voice["model"] == MODEL and voice["voiceId"] in usable
    assert front["workflowType"] == "single_prompt" and front["activeVersionId"]
    ivr = agent_named(client, "IVR Router")
    nodes = ivr["_resolvedConfig"]["workflowGraph"]["nodes"]
    node_voices = [n["data"]["synthesizer"]["voiceConfig"]["voiceId"] for n in nodes if "synthesizer" in n["data"]]
    assert len(node_voices) == 1 and node_voices[0] in usable
    unusable = agent_named(client, "Sales Outreach")["_resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
    assert unusable in archive_outcomes(org.clones, 0) and unusable not in usable
    assert client.get("/agent/" + "0" * 24).status_code == 400


def test_every_agent_has_exactly_one_live_branch_and_the_multi_branch_agent_names_two_voices(shared: Any) -> None:
    server, client = shared
    for agent in all_agents(client):
        assert sum(b["isLive"] for b in branches(client, agent)) == 1
    reminders = agent_named(client, "Appointment Reminders")
    named = {b["branch"]["name"]: b for b in branches(client, reminders)}
    assert named["Main"]["isLive"] and not named["weekend-hours"]["isLive"]
    weekend = named["weekend-hours"]["branch"]
    revision = data(client.get(f"/agent/{reminders['_id']}/branches/{weekend['_id']}/revisions/"
                                f"{weekend['headRevisionId']}"))
    other = revision["resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
    assert other != live_voice(client, reminders["_id"])
    spring = {b["branch"]["name"]: b["isLive"] for b in branches(client, agent_named(client, "Spring Campaign"))}
    assert spring == {"Main": False, "spring-2026": True}


def test_a_colleagues_open_draft_shows_its_editor_and_revision(shared: Any) -> None:
    server, client = shared
    triage = agent_named(client, "Support Triage")
    main = live_branch(client, triage)
    assert main["hasOpenDraft"] and main["branch"]["openDraftId"]
    draft = data(client.get(f"/agent/{triage['_id']}/branches/{main['branch']['_id']}/draft"))
    assert draft["editCount"] == 2 and draft["latest"]["draftRevision"] == 2
    assert {e["editorName"] for e in draft["editHistory"]} == {"Dana Whitfield"}
    preview = data(client.get(f"/agent/{triage['_id']}", params={"draftId": main["branch"]["openDraftId"]}))
    assert preview["_configSource"] == "draft" and preview["_resolvedConfig"]["globalPrompt"].startswith("You triage")


def test_the_seeded_agents_are_the_same_for_the_same_org_and_seed() -> None:
    org = generate_org(30, 4)
    books = [EmulatorState(EmulatorConfig(seed=4), org.clones).agents for _ in range(2)]
    assert books[0].ids() == books[1].ids()
    assert [books[0].live_config(i) for i in books[0].ids()] == [books[1].live_config(i) for i in books[1].ids()]


def test_archive_outcomes_are_those_the_written_archive_gets(tmp_path: Any) -> None:
    org = generate_org(30, 2)
    assert archive_outcomes(org.clones, 2) == generate_archive(org, tmp_path, 2).outcomes


def test_without_the_key_the_atoms_routes_answer_401_in_their_own_shape(shared: Any) -> None:
    server, _ = shared
    answer = httpx.get(server.base_url + BASE + "/agent")
    assert answer.status_code == 401 and answer.json() == {"status": False, "errors": ["Unauthorized"]}


def test_agent_knobs_are_validated() -> None:
    for bad in ({"agent_count": -1}, {"agents_scan_s": -1.0}, {"agents_scan_fail": 2}):
        with pytest.raises(ValueError):
            EmulatorConfig(**bad)  # type: ignore[arg-type]


# -- the lifecycle ---------------------------------------------------------------------------


def test_a_stale_expected_revision_is_refused_with_the_conflicting_fields(start_emulator: StartEmulator) -> None:
    with atoms_client(start_emulator()) as client:
        triage = agent_named(client, "Support Triage")
        main = live_branch(client, triage)
        url = f"/agent/{triage['_id']}/branches/{main['branch']['_id']}/draft"
        stale = client.put(url, json={"globalPrompt": "Mine.", "expectedRevision": 1})
        assert stale.status_code == 409
        body = stale.json()
        assert body["status"] is False and body["errors"] == ["globalPrompt"]
        assert body["data"]["conflict"]["expectedRevision"] == 1 and body["data"]["conflict"]["latestRevision"] == 2
        unknown = client.put(url, json={"globalPrompt": "Mine.", "expectedRevision": 7})
        assert unknown.status_code == 409 and unknown.json()["errors"] == ["base_revision_unavailable"]
        elsewhere = data(write_voice(client, triage, main, "voice_other", expected=1))  # another field: merges
        assert elsewhere["draftRevision"] == 3 and elsewhere["draftId"] == main["branch"]["openDraftId"]
        assert client.put(url, json={"expectedRevision": 3}).status_code == 400  # nothing to write


def test_publish_commits_a_new_head_that_the_live_config_serves(start_emulator: StartEmulator) -> None:
    server = start_emulator()
    with atoms_client(server) as client:
        front = agent_named(client, "Front Desk")
        main = live_branch(client, front)
        old = live_voice(client, front["_id"])
        assert data(write_voice(client, front, main, "voice_new0000", expected=0))["draftRevision"] == 1
        assert live_voice(client, front["_id"]) == old  # a draft serves nobody
        result = data(publish(client, front, main))
        assert result["state"] == "committed" and result["revision"]["revisionNumber"] == 2
        assert result["revision"]["status"] == "published" and result["revision"]["label"] == "switch voice"
        assert live_voice(client, front["_id"]) == "voice_new0000"
        assert live_branch(client, front)["hasOpenDraft"] is False
        published = server.state.agents.publications()
        assert [(p.agent, p.kind, p.live, p.voice_ids) for p in published] == [
            (front["_id"], "publish", True, ("voice_new0000",))]


def test_a_slow_scan_answers_202_and_commits_when_the_clock_passes_it(start_emulator: StartEmulator) -> None:
    clock = ManualClock()
    server = start_emulator(clock=clock, agents_scan_s=30.0)
    with atoms_client(server) as client:
        front = agent_named(client, "Front Desk")
        main = live_branch(client, front)
        old = live_voice(client, front["_id"])
        data(write_voice(client, front, main, "voice_new0000", expected=0))
        assert data(publish(client, front, main), 202) == {"state": "scanning"}
        newest = revisions(client, front, main)[0]
        assert newest["status"] == "draft" and newest["securityCheck"]["status"] == "queued"
        assert publish(client, front, main).status_code == 404  # the draft went to the scan
        assert live_voice(client, front["_id"]) == old
        clock.advance(30.0)
        newest = data(client.get(f"/agent/{front['_id']}/branches/{main['branch']['_id']}/revisions/{newest['_id']}"))
        assert newest["revision"]["status"] == "published" and newest["revision"]["revisionNumber"] == 2
        assert live_voice(client, front["_id"]) == "voice_new0000"


def test_a_failed_scan_is_a_409_and_the_live_config_stays(start_emulator: StartEmulator) -> None:
    server = start_emulator(agents_scan_fail=Fault(every=1))
    with atoms_client(server) as client:
        front = agent_named(client, "Front Desk")
        main = live_branch(client, front)
        old = live_voice(client, front["_id"])
        data(write_voice(client, front, main, "voice_new0000", expected=0))
        failed = publish(client, front, main)
        assert failed.status_code == 409 and failed.json()["error_type"] == "security_scan_failed"
        assert live_voice(client, front["_id"]) == old and live_branch(client, front)["hasOpenDraft"]
        assert publish(client, front, main).status_code == 409
        assert server.state.agents.publications() == []


def test_a_scan_that_fails_later_leaves_the_revision_uncommitted(start_emulator: StartEmulator) -> None:
    clock = ManualClock()
    server = start_emulator(clock=clock, agents_scan_s=5.0, agents_scan_fail=Fault(every=1))
    with atoms_client(server) as client:
        front = agent_named(client, "Front Desk")
        main = live_branch(client, front)
        old = live_voice(client, front["_id"])
        data(write_voice(client, front, main, "voice_new0000", expected=0))
        assert publish(client, front, main).status_code == 202
        clock.advance(5.0)
        newest = revisions(client, front, main)[0]
        assert newest["securityCheck"]["status"] == "failed" and newest["revisionNumber"] is None
        assert live_voice(client, front["_id"]) == old
        again = publish(client, front, main)
        assert again.status_code == 409 and again.json()["error_type"] == "security_scan_failed"


def test_restore_republishes_an_older_revision_as_a_new_head(start_emulator: StartEmulator) -> None:
    server = start_emulator()
    with atoms_client(server) as client:
        billing = agent_named(client, "Billing Line")
        main = live_branch(client, billing)
        first, second = revisions(client, billing, main)[::-1]
        assert live_voice(client, billing["_id"]) != data(client.get(
            f"/agent/{billing['_id']}/branches/{main['branch']['_id']}/revisions/{first['_id']}"))[
            "resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
        url = f"/agent/{billing['_id']}/branches/{main['branch']['_id']}/revisions/{first['_id']}/restore"
        result = data(client.post(url))
        assert result["state"] == "committed" and result["revision"]["revisionNumber"] == 3
        assert result["revision"]["restoredFromRevisionId"] == first["_id"]
        assert [r["revisionNumber"] for r in revisions(client, billing, main)] == [3, 2, 1]
        assert live_branch(client, billing)["branch"]["headRevisionId"] == result["revision"]["_id"]
        first_voice = data(client.get(f"/agent/{billing['_id']}/branches/{main['branch']['_id']}/revisions/"
                                       f"{first['_id']}"))["resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
        assert live_voice(client, billing["_id"]) == first_voice
        assert server.state.agents.live_config(billing["_id"])["synthesizer"]["voiceConfig"]["voiceId"] == first_voice
        assert [p.kind for p in server.state.agents.publications()] == ["restore"]


