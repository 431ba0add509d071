"""Re-cloning onto the configured pool, and deleting through the route the vendor announced.

Over real HTTP against the emulator: with `[plan] target_model = "lightning-v3.1-pro"` the plan
(plan.json, plan.csv, its report) says so, every create sends that model and apply verifies
each new clone on the Pro TTS model (on the standard one it would answer the symptom). retire
tries `POST /waves/v1/voice-cloning/delete` first: while it answers 401 to an API key (the
default, as today) the voices go to the dashboard list and the run ends as documented, never
as a bad key; once it is open to the key, it deletes there.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import respx

from audit.api.client import WavesClient
from audit.core.config import ApiSettings, PlanSettings
from audit.core.errors import ExitCode, RequestRejected
from audit.core.secrets import Secret
from audit.migrate.ledger import Ledger
from audit.migrate.retire import retire
from audit.migrate.selection import ApplyOptions
from audit.pipeline.retire import RetireRun, retire_replaced
from tests.support.emulator import running
from tests.support.migration import YES, apply, plan

POST_DELETE = "/waves/v1/voice-cloning/delete"
OLD_DELETE = "/waves/v1/lightning-large"


@pytest.mark.integration
async def test_a_plan_onto_the_pro_pool_creates_there_and_apply_verifies_there(tmp_path: Path) -> None:
    with running(30, 4, tmp_path) as (server, settings):
        settings = replace(settings, plan=PlanSettings(target_model="lightning-v3.1-pro"))
        planned = await plan(server, settings, tmp_path / "out")
        reclones = [e for e in planned.plan.entries if e.new_clone is not None]
        assert reclones and {e.new_clone.model for e in reclones if e.new_clone} == {"lightning-v3.1-pro"}
        document = json.loads(planned.plan_path.read_text(encoding="utf-8"))
        assert document["forecast"]["target_model"] == "lightning-v3.1-pro"
        assert document["parameters"]["plan"]["target_model"] == "lightning-v3.1-pro"
        rows = list(csv.DictReader(io.StringIO((planned.folder / "plan.csv").read_text(encoding="utf-8"))))
        assert {r["new_model"] for r in rows if r["action"] == "RECLONE"} == {"lightning-v3.1-pro"}
        assert "lightning-v3.1-pro" in (planned.folder / "report.html").read_text(encoding="utf-8")
        assert any("lightning-v3.1-pro" in line for line in planned.lines())
        run = await apply(server, settings, planned.plan_path, ApplyOptions(limit=2))
        made = [c for c in server.state.clones() if any(t.startswith("migrated-from:") for t in c.tags)]
        heard = {r.voice_id: r.model for r in server.state.tts_log()}
    assert len(made) == 2 and all(c.fields["modelIds"] == ["lightning-v3.1-pro"] for c in made)
    assert {heard[c.voice_id] for c in made} == {"lightning_v3.1_pro"}  # verified on its own pool
    assert run.states["verified"] == 2


async def _retire_three(tmp_path: Path, **knobs: Any) -> tuple[RetireRun, list[Any], list[Any], set[str]]:
    """Plan 30 clones, apply three, retire them: the run, the POST and DELETE delete requests the
    emulator saw, and the clones still on the account."""
    with running(30, 4, tmp_path, **knobs) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        await apply(server, settings, planned.plan_path, ApplyOptions(limit=3))
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            run = await retire_replaced(client, settings, planned.plan_path, YES)
        return (run, server.state.requests("POST", POST_DELETE), server.state.requests("DELETE", OLD_DELETE),
                {c.voice_id for c in server.state.clones()})


@pytest.mark.integration
async def test_retire_lists_for_the_dashboard_when_the_post_route_refuses_the_key(tmp_path: Path) -> None:
    # POST delete 401 to a key, DELETE 410: as the vendor's routes answer today
    run, posts, deletes, remaining = await _retire_three(tmp_path)
    assert run.exit_code is ExitCode.OK and not run.retired.deleted
    assert len(run.retired.for_dashboard) == 3 and set(run.retired.for_dashboard) <= remaining
    assert [e.status for e in posts] == [401] and [e.status for e in deletes] == [410]  # POST asked once
    assert "dashboard" in run.retired.reason and "401" in run.retired.reason
    assert run.record.changes["retire"]["for_dashboard"] == list(run.retired.for_dashboard)


@pytest.mark.integration
async def test_retire_deletes_through_the_post_route_once_it_is_open_to_the_key(tmp_path: Path) -> None:
    run, posts, deletes, remaining = await _retire_three(tmp_path, delete_post_mode="open")
    assert len(run.retired.deleted) == 3 and not run.retired.for_dashboard and run.exit_code is ExitCode.OK
    assert not set(run.retired.deleted) & remaining
    assert [e.status for e in posts] == [200] * 3 and not deletes


@respx.mock
@pytest.mark.parametrize("status", [401, 403, 404, 405, 410])
async def test_any_refusal_of_both_delete_routes_hands_the_voices_to_the_dashboard(tmp_path: Path,
                                                                                 status: int) -> None:
    base = "https://api.test"
    respx.post(base + POST_DELETE).respond(401, json={"error": "Unauthorized"})
    respx.delete(base + OLD_DELETE).respond(status, json={"error": "not here"})
    ids = ["voice_aaaaaaaaaa", "voice_bbbbbbbbbb"]
    settings = ApiSettings(base_url=base, max_attempts=1)
    async with WavesClient(settings, Secret("sk_test_key")) as client:
        with Ledger(tmp_path / "ledger.sqlite") as ledger:
            retired = await retire(client, ledger, ids)
    assert retired.for_dashboard == tuple(ids) and not retired.deleted
    assert f"{OLD_DELETE}: {status}" in retired.reason and f"{POST_DELETE}: 401" in retired.reason


@respx.mock
async def test_a_delete_refused_for_another_reason_still_stops_the_run(tmp_path: Path) -> None:
    base = "https://api.test"
    respx.post(base + POST_DELETE).respond(401, json={"error": "Unauthorized"})
    respx.delete(base + OLD_DELETE).respond(400, json={"error": "Voice ID required"})
    async with WavesClient(ApiSettings(base_url=base, max_attempts=1), Secret("sk_test_key")) as client:
        with Ledger(tmp_path / "ledger.sqlite") as ledger, pytest.raises(RequestRejected, match="Voice ID required"):
            await retire(client, ledger, ["voice_aaaaaaaaaa"])
