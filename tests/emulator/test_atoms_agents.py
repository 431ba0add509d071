"""The emulated Atoms agents over real HTTP: seeding, pages, the draft → publish → restore lifecycle,
its faults and hostile pages, and the agents' calls in the TTS analytics log."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.emulator import EmulatorConfig, EmulatorServer, EmulatorState, Fault, ManualClock, generate_org
from audit.emulator.agentseed import SCENARIOS
from audit.emulator.archivekinds import archive_outcomes
from audit.emulator.recordings import generate_archive
from tests.support.cli import cli_env, clone_audit
from tests.support.cutover import write_mapping

pytestmark = pytest.mark.integration

StartEmulator = Callable[..., EmulatorServer]
BASE = "/atoms/v1"
MODEL = "waves_lightning_v3_1"


def _client(server: EmulatorServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url + BASE, headers={"Authorization": f"Bearer {server.api_key}"},
                        timeout=10)


def _data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] is True
    return body["data"]


def _all_agents(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    agents: list[dict[str, Any]] = []
    page = 1
    while True:
        data = _data(client.get("/agent", params={"page": page, "offset": 7, **params}))
        agents += data["agents"]
        if not data["agents"] or len(agents) >= data["total"]:
            return agents
        page += 1


def _agent(client: httpx.Client, name: str, archived: bool = False) -> dict[str, Any]:
    listed = next(a for a in _all_agents(client, archived=str(archived).lower()) if a["name"] == name)
    return _data(client.get(f"/agent/{listed['_id']}"))


def _branches(client: httpx.Client, agent: dict[str, Any]) -> list[dict[str, Any]]:
    return _data(client.get(f"/agent/{agent['_id']}/branches"))["branches"]


def _live(client: httpx.Client, agent: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in _branches(client, agent) if b["isLive"])


def _voice(client: httpx.Client, agent_id: str) -> str:
    return _data(client.get(f"/agent/{agent_id}"))["_resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]


def _write(client: httpx.Client, agent: dict[str, Any], branch: dict[str, Any], voice_id: str,
           expected: int | None = None) -> httpx.Response:
    body: dict[str, Any] = {"synthesizer": {"voiceConfig": {"voiceId": voice_id}}}
    if expected is not None:
        body["expectedRevision"] = expected
    return client.put(f"/agent/{agent['_id']}/branches/{branch['branch']['_id']}/draft", json=body)


def _publish(client: httpx.Client, agent: dict[str, Any], branch: dict[str, Any]) -> httpx.Response:
    return client.post(f"/agent/{agent['_id']}/branches/{branch['branch']['_id']}/draft/publish",
                       json={"label": "switch voice"})


def _revisions(client: httpx.Client, agent: dict[str, Any], branch: dict[str, Any]) -> list[dict[str, Any]]:
    return _data(client.get(f"/agent/{agent['_id']}/branches/{branch['branch']['_id']}/revisions"))["revisions"]


@pytest.fixture(scope="module")
def shared() -> Any:
    with EmulatorServer.with_org(n=30, seed=0) as server, _client(server) as client:
        yield server, client


# -- seeding and reads ---------------------------------------------------------------------


def test_pages_list_every_active_agent_once_and_archived_ones_only_on_request(shared: Any) -> None:
    server, client = shared
    active = _all_agents(client)
    archived = _all_agents(client, archived="true")
    assert len(active) == 23 and len({a["_id"] for a in active}) == 23
    assert [a["name"] for a in archived] == ["Collections"] and archived[0]["archived"] is True
    assert _data(client.get("/agent", params={"page": 99}))["agents"] == []
    assert set(SCENARIOS) - {"Collections"} <= {a["name"] for a in active}


def test_an_agent_resolves_its_live_config_naming_its_voice(shared: Any) -> None:
    server, client = shared
    org = generate_org(30, 0)
    usable = {v for v, o in archive_outcomes(org.clones, 0).items() if o in ("ok", "fit")}
    front = _agent(client, "Front Desk")
    voice = front["_resolvedConfig"]["synthesizer"]["voiceConfig"]
    assert voice["model"] == MODEL and voice["voiceId"] in usable
    assert front["workflowType"] == "single_prompt" and front["activeVersionId"]
    ivr = _agent(client, "IVR Router")
    nodes = ivr["_resolvedConfig"]["workflowGraph"]["nodes"]
    node_voices = [n["data"]["synthesizer"]["voiceConfig"]["voiceId"] for n in nodes if "synthesizer" in n["data"]]
    assert len(node_voices) == 1 and node_voices[0] in usable
    unusable = _agent(client, "Sales Outreach")["_resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
    assert unusable in archive_outcomes(org.clones, 0) and unusable not in usable
    assert client.get("/agent/" + "0" * 24).status_code == 400


def test_every_agent_has_exactly_one_live_branch_and_the_multi_branch_agent_names_two_voices(shared: Any) -> None:
    server, client = shared
    for agent in _all_agents(client):
        assert sum(b["isLive"] for b in _branches(client, agent)) == 1
    reminders = _agent(client, "Appointment Reminders")
    branches = {b["branch"]["name"]: b for b in _branches(client, reminders)}
    assert branches["Main"]["isLive"] and not branches["weekend-hours"]["isLive"]
    weekend = branches["weekend-hours"]["branch"]
    revision = _data(client.get(f"/agent/{reminders['_id']}/branches/{weekend['_id']}/revisions/"
                                f"{weekend['headRevisionId']}"))
    other = revision["resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
    assert other != _voice(client, reminders["_id"])
    spring = {b["branch"]["name"]: b["isLive"] for b in _branches(client, _agent(client, "Spring Campaign"))}
    assert spring == {"Main": False, "spring-2026": True}


def test_a_colleagues_open_draft_shows_its_editor_and_revision(shared: Any) -> None:
    server, client = shared
    triage = _agent(client, "Support Triage")
    main = _live(client, triage)
    assert main["hasOpenDraft"] and main["branch"]["openDraftId"]
    draft = _data(client.get(f"/agent/{triage['_id']}/branches/{main['branch']['_id']}/draft"))
    assert draft["editCount"] == 2 and draft["latest"]["draftRevision"] == 2
    assert {e["editorName"] for e in draft["editHistory"]} == {"Dana Whitfield"}
    preview = _data(client.get(f"/agent/{triage['_id']}", params={"draftId": main["branch"]["openDraftId"]}))
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
    with _client(start_emulator()) as client:
        triage = _agent(client, "Support Triage")
        main = _live(client, triage)
        url = f"/agent/{triage['_id']}/branches/{main['branch']['_id']}/draft"
        stale = client.put(url, json={"globalPrompt": "Mine.", "expectedRevision": 1})
        assert stale.status_code == 409
        body = stale.json()
        assert body["status"] is False and body["errors"] == ["globalPrompt"]
        assert body["data"]["conflict"]["expectedRevision"] == 1 and body["data"]["conflict"]["latestRevision"] == 2
        unknown = client.put(url, json={"globalPrompt": "Mine.", "expectedRevision": 7})
        assert unknown.status_code == 409 and unknown.json()["errors"] == ["base_revision_unavailable"]
        elsewhere = _data(_write(client, triage, main, "voice_other", expected=1))  # another field: merges
        assert elsewhere["draftRevision"] == 3 and elsewhere["draftId"] == main["branch"]["openDraftId"]
        assert client.put(url, json={"expectedRevision": 3}).status_code == 400  # nothing to write


def test_publish_commits_a_new_head_that_the_live_config_serves(start_emulator: StartEmulator) -> None:
    server = start_emulator()
    with _client(server) as client:
        front = _agent(client, "Front Desk")
        main = _live(client, front)
        old = _voice(client, front["_id"])
        assert _data(_write(client, front, main, "voice_new0000", expected=0))["draftRevision"] == 1
        assert _voice(client, front["_id"]) == old  # a draft serves nobody
        result = _data(_publish(client, front, main))
        assert result["state"] == "committed" and result["revision"]["revisionNumber"] == 2
        assert result["revision"]["status"] == "published" and result["revision"]["label"] == "switch voice"
        assert _voice(client, front["_id"]) == "voice_new0000"
        assert _live(client, front)["hasOpenDraft"] is False
        published = server.state.agents.publications()
        assert [(p.agent, p.kind, p.live, p.voice_ids) for p in published] == [
            (front["_id"], "publish", True, ("voice_new0000",))]


def test_a_slow_scan_answers_202_and_commits_when_the_clock_passes_it(start_emulator: StartEmulator) -> None:
    clock = ManualClock()
    server = start_emulator(clock=clock, agents_scan_s=30.0)
    with _client(server) as client:
        front = _agent(client, "Front Desk")
        main = _live(client, front)
        old = _voice(client, front["_id"])
        _data(_write(client, front, main, "voice_new0000", expected=0))
        assert _data(_publish(client, front, main), 202) == {"state": "scanning"}
        newest = _revisions(client, front, main)[0]
        assert newest["status"] == "draft" and newest["securityCheck"]["status"] == "queued"
        assert _publish(client, front, main).status_code == 404  # the draft went to the scan
        assert _voice(client, front["_id"]) == old
        clock.advance(30.0)
        newest = _data(client.get(f"/agent/{front['_id']}/branches/{main['branch']['_id']}/revisions/{newest['_id']}"))
        assert newest["revision"]["status"] == "published" and newest["revision"]["revisionNumber"] == 2
        assert _voice(client, front["_id"]) == "voice_new0000"


def test_a_failed_scan_is_a_409_and_the_live_config_stays(start_emulator: StartEmulator) -> None:
    server = start_emulator(agents_scan_fail=Fault(every=1))
    with _client(server) as client:
        front = _agent(client, "Front Desk")
        main = _live(client, front)
        old = _voice(client, front["_id"])
        _data(_write(client, front, main, "voice_new0000", expected=0))
        failed = _publish(client, front, main)
        assert failed.status_code == 409 and failed.json()["error_type"] == "security_scan_failed"
        assert _voice(client, front["_id"]) == old and _live(client, front)["hasOpenDraft"]
        assert _publish(client, front, main).status_code == 409
        assert server.state.agents.publications() == []


def test_a_scan_that_fails_later_leaves_the_revision_uncommitted(start_emulator: StartEmulator) -> None:
    clock = ManualClock()
    server = start_emulator(clock=clock, agents_scan_s=5.0, agents_scan_fail=Fault(every=1))
    with _client(server) as client:
        front = _agent(client, "Front Desk")
        main = _live(client, front)
        old = _voice(client, front["_id"])
        _data(_write(client, front, main, "voice_new0000", expected=0))
        assert _publish(client, front, main).status_code == 202
        clock.advance(5.0)
        newest = _revisions(client, front, main)[0]
        assert newest["securityCheck"]["status"] == "failed" and newest["revisionNumber"] is None
        assert _voice(client, front["_id"]) == old
        again = _publish(client, front, main)
        assert again.status_code == 409 and again.json()["error_type"] == "security_scan_failed"


def test_restore_republishes_an_older_revision_as_a_new_head(start_emulator: StartEmulator) -> None:
    server = start_emulator()
    with _client(server) as client:
        billing = _agent(client, "Billing Line")
        main = _live(client, billing)
        first, second = _revisions(client, billing, main)[::-1]
        assert _voice(client, billing["_id"]) != _data(client.get(
            f"/agent/{billing['_id']}/branches/{main['branch']['_id']}/revisions/{first['_id']}"))[
            "resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
        url = f"/agent/{billing['_id']}/branches/{main['branch']['_id']}/revisions/{first['_id']}/restore"
        result = _data(client.post(url))
        assert result["state"] == "committed" and result["revision"]["revisionNumber"] == 3
        assert result["revision"]["restoredFromRevisionId"] == first["_id"]
        assert [r["revisionNumber"] for r in _revisions(client, billing, main)] == [3, 2, 1]
        assert _live(client, billing)["branch"]["headRevisionId"] == result["revision"]["_id"]
        first_voice = _data(client.get(f"/agent/{billing['_id']}/branches/{main['branch']['_id']}/revisions/"
                                       f"{first['_id']}"))["resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
        assert _voice(client, billing["_id"]) == first_voice
        assert server.state.agents.live_config(billing["_id"])["synthesizer"]["voiceConfig"]["voiceId"] == first_voice
        assert [p.kind for p in server.state.agents.publications()] == ["restore"]


def test_the_conflict_fault_is_a_colleagues_save_just_before_the_write(start_emulator: StartEmulator) -> None:
    server = start_emulator(agents_draft_conflict=Fault(every=1))
    with _client(server) as client:
        front = _agent(client, "Front Desk")
        main = _live(client, front)
        old = _voice(client, front["_id"])
        refused = _write(client, front, main, "voice_new0000", expected=0)
        assert refused.status_code == 409 and refused.json()["errors"] == ["synthesizer.voiceConfig.voiceId"]
        draft = _data(client.get(f"/agent/{front['_id']}/branches/{main['branch']['_id']}/draft"))
        assert [e["editorName"] for e in draft["editHistory"]] == ["Dana Whitfield"]
        assert _voice(client, front["_id"]) == old
        preview = _data(client.get(f"/agent/{front['_id']}", params={"draftId": draft["latest"]["draftId"]}))
        assert preview["_resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"] == old  # nothing of ours written


# -- hostile pages ---------------------------------------------------------------------------


def test_a_looping_page_answers_page_one_whatever_is_asked(start_emulator: StartEmulator) -> None:
    with _client(start_emulator(agents_page_loop=Fault(every=1))) as client:
        pages = [_data(client.get("/agent", params={"page": p}))["agents"] for p in (1, 2, 3)]
        assert pages[0] and pages[0] == pages[1] == pages[2]


@pytest.mark.parametrize("fault", ["agents_truncated", "agents_garbage"])
def test_a_broken_page_is_not_json(start_emulator: StartEmulator, fault: str) -> None:
    with _client(start_emulator(**{fault: Fault(every=1)})) as client:
        answer = client.get("/agent")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
        with pytest.raises(json.JSONDecodeError):
            answer.json()


def test_a_page_of_the_wrong_types(start_emulator: StartEmulator) -> None:
    with _client(start_emulator(agents_wrong_shape=Fault(every=1), wrong_shape_every=2)) as client:
        data = client.get("/agent", params={"offset": 8}).json()["data"]
        assert isinstance(data["total"], str)
        bent = data["agents"][::2]
        assert bent[0]["_id"] == 4242 and isinstance(bent[1]["synthesizer"], str)
        assert isinstance(bent[2]["synthesizer"]["voiceConfig"], list) and bent[3] is None


def test_an_enormous_page(start_emulator: StartEmulator) -> None:
    with _client(start_emulator(agents_huge=Fault(every=1), huge_list_bytes=3 << 20)) as client:
        answer = client.get("/agent")
        assert len(answer.content) == 3 << 20 and answer.json()["data"]["agents"]


# -- the agents' calls ---------------------------------------------------------------------


def test_an_agents_old_voice_goes_quiet_in_the_analytics_log_once_its_live_branch_switches(
        start_emulator: StartEmulator) -> None:
    clock = ManualClock(start=1_780_000_000.0)
    server = start_emulator(clock=clock, agent_call_every_s=60.0)
    with _client(server) as client, httpx.Client(base_url=server.base_url, headers=client.headers) as waves:
        book = server.state.agents
        live = {i: book.live_config(i)["synthesizer"]["voiceConfig"]["voiceId"] for i in book.ids()}
        names = {a["_id"]: a["name"] for a in _all_agents(client)}
        alone = next(i for i in names if names[i] in SCENARIOS and list(live.values()).count(live[i]) == 1)
        front = _agent(client, names[alone])
        main = _live(client, front)
        old = _voice(client, front["_id"])
        clock.advance(600.0)
        _data(_write(client, front, main, "voice_new0000", expected=0))
        _data(_publish(client, front, main))
        switched = clock.now()
        clock.advance(600.0)
        log = _data_log(waves)
        old_calls = [e for e in log if e["voice_id"] == old]
        new_calls = [e for e in log if e["voice_id"] == "voice_new0000"]
        assert old_calls and new_calls
        assert max(e["timestamp"] for e in old_calls) <= _iso(switched) < min(e["timestamp"] for e in new_calls)
        archived = _agent(client, "Collections", archived=True)
        archived_voice = archived["_resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
        others = {a["_resolvedConfig"]["synthesizer"]["voiceConfig"]["voiceId"]
                  for a in (_agent(client, n) for n in SCENARIOS if n != "Collections")}
        if archived_voice not in others:
            assert not [e for e in log if e["voice_id"] == archived_voice]


def test_usage_shows_an_agents_old_voice_quiet_after_its_live_branch_names_the_new_one(
        start_emulator: StartEmulator, tmp_path: Path) -> None:
    clock = ManualClock(start=time.time() - 7200)  # in the past: `usage --since` refuses the future
    server = start_emulator(clock=clock, agent_call_every_s=60.0)
    book = server.state.agents
    live = {i: book.live_config(i)["synthesizer"]["voiceConfig"]["voiceId"] for i in book.ids()}
    with _client(server) as client:
        names = {a["_id"]: a["name"] for a in _all_agents(client)}
        alone = next(i for i in names if names[i] in SCENARIOS and list(live.values()).count(live[i]) == 1)
        agent = _agent(client, names[alone])
        new = next(c.voice_id for c in server.state.clones() if c.engine == "v3.1" and c.voice_id not in live.values())
        mapping = write_mapping(tmp_path, ((live[alone], new),))
        started = datetime.fromtimestamp(clock.now(), UTC).isoformat()
        clock.advance(600.0)
        _data(_write(client, agent, _live(client, agent), new, expected=0))
        _data(_publish(client, agent, _live(client, agent)))
        switched = datetime.fromtimestamp(clock.now(), UTC).isoformat()
        clock.advance(600.0)
    before = clone_audit("usage", str(mapping), "--since", started, env=cli_env(server))
    assert before.returncode == 1 and f"{live[alone]}  10 call(s)" in before.stdout, before.stdout + before.stderr
    after = clone_audit("usage", str(mapping), "--since", switched, env=cli_env(server))
    assert after.returncode == 0, after.stdout + after.stderr
    assert f"{live[alone]}  0 call(s)" in after.stdout and "0 of 1 old id(s) called" in after.stdout
    assert f"new {new}: 10 call(s)" in after.stdout


def _data_log(client: httpx.Client) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get("/waves/v1/analytics/tts/logs", params={"page": page, "pageSize": 100}).json()
        entries += body["data"]
        if page >= body["totalPages"]:
            return entries
        page += 1


def _iso(at: float) -> str:
    from audit.emulator.agentdata import iso
    return iso(at) or ""


def test_with_voice_checks_a_write_naming_a_voice_the_account_lacks_is_a_400(start_emulator: StartEmulator) -> None:
    server = start_emulator(agents_check_voice_ids=True)
    with _client(server) as client:
        front = _agent(client, "Front Desk")
        main = _live(client, front)
        refused = _write(client, front, main, "voice_NOTHERE00", expected=0)
        assert refused.status_code == 400 and "voice_NOTHERE00" in refused.json()["errors"][0]
        real = next(c.voice_id for c in server.state.clones() if c.engine == "v3.1")
        assert _data(_write(client, front, main, real, expected=0))["draftRevision"] == 1
