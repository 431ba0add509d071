"""Plan and apply over real HTTP against the emulator: nothing touched by a plan, exactly
one new clone per voice whatever happens, resumable, mapping complete."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import pytest

from audit.core.secrets import Secret
from audit.migrate.selection import ApplyOptions
from audit.api.client import WavesClient
from audit.core.config import Settings
from audit.emulator import EmulatorServer, ManualClock
from audit.emulator.knobs import OLDER_QUOTA_TEXTS, QUOTA_TEXT
from audit.core.errors import ExitCode, QuotaReached, UsageError
from audit.core.models import MARKER_PREFIX, Action
from audit.pipeline.plan import plan_migration
from audit.pipeline.scan import scan_organisation, write_scan_reports
import audit.pipeline.apply as apply_pipeline
from audit.pipeline.apply import apply_plan
from audit.pipeline.retire import retire_replaced
from audit.migrate.document import PlanError
from tests.support.emulator import running
from tests.support.migration import YES, apply, creates, plan, reclone_ids, replacements_on

pytestmark = pytest.mark.integration


async def apply_unverifiable(server: EmulatorServer, settings: Settings, plan_path: Path, options: ApplyOptions):
    """Apply while the account refuses every TTS call: the new clones end `completed`, unverified."""
    server.state.config = replace(server.state.config, tts_429_every=1)
    try:
        return await apply(server, replace(settings, api=replace(settings.api, max_attempts=2)), plan_path, options)
    finally:
        server.state.config = replace(server.state.config, tts_429_every=0)


async def test_plan_touches_nothing_and_apply_does_what_it_announced(tmp_path: Path) -> None:
    with running(40, 21, tmp_path) as (server, settings):
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            scanned = write_scan_reports(await scan_organisation(client, settings), tmp_path / "out").folder
            seen = len(server.state.requests())
            planned = await plan_migration(client, settings, tmp_path / "out", scan_folder=scanned)
        during_plan = server.state.requests()[seen:]
        assert [(e.method, e.path) for e in during_plan] == [("GET", "/waves/v1/voice-cloning")]
        totals, forecast = planned.plan.totals(), planned.plan.forecast
        assert totals["RECLONE"] > 0 and totals["BLOCKED"] > 0
        run = await apply(server, settings, planned.plan_path)
        reclone_ids = {e.voice_id for e in planned.plan.entries if e.action is Action.RECLONE}
        made = replacements_on(server)
        assert set(made) == reclone_ids and set(made.values()) == {1}
        assert creates(server) == forecast["api_calls"]["create"] == totals["RECLONE"]
        tts_after_plan = len([e for e in server.state.requests()[seen:] if e.path == "/waves/v1/tts"])
    assert run.exit_code is ExitCode.OK and run.states["verified"] == totals["RECLONE"]
    assert tts_after_plan == forecast["api_calls"]["verify_tts"]
    assert any(e.probe_verdict == "short-wav" and "metadata claims v3.1" in e.reason
               for e in planned.plan.entries if e.action is not Action.KEEP)  # the scan's probes were used
    mapping = (planned.folder / "mapping.csv").read_text(encoding="utf-8")
    for voice_id in reclone_ids:
        assert voice_id in mapping
    assert mapping.count(",ready,") == totals["RECLONE"]
    # apply writes its own report; the plan's, the reviewed evidence, is left as it was
    assert run.run_json is not None and "Old → new voice ids" in (run.run_json.parent / "report.html").read_text()
    assert "Old → new voice ids" not in (planned.folder / "report.html").read_text(encoding="utf-8")


async def test_a_rerun_resumes_with_no_call_beyond_the_list(tmp_path: Path) -> None:
    with running(30, 4, tmp_path, model_as_object=True) as (server, settings):  # the live create shape
        planned = await plan(server, settings, tmp_path / "out")
        first = await apply(server, settings, planned.plan_path)
        before = len(server.state.requests())
        second = await apply(server, settings, planned.plan_path)
        after = server.state.requests()[before:]
    assert first.selection.todo and not second.selection.todo
    assert len(second.selection.verified) == len(first.selection.todo)
    assert [(e.method, e.path) for e in after] == [("GET", "/waves/v1/voice-cloning")]


async def test_a_lost_ledger_is_rebuilt_from_the_markers(tmp_path: Path) -> None:
    with running(30, 4, tmp_path) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        await apply(server, settings, planned.plan_path, ApplyOptions(limit=3))
        (planned.folder / "ledger.sqlite").unlink()
        run = await apply(server, settings, planned.plan_path)
        made = replacements_on(server)
    assert run.adopted == 3
    assert set(made.values()) == {1}
    assert run.states["verified"] == planned.plan.totals()["RECLONE"]


async def test_create_timeouts_that_still_create_never_duplicate(tmp_path: Path) -> None:
    with running(45, 8, tmp_path, create_timeout_rate=0.34) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        run = await apply(server, settings, planned.plan_path)
        timeouts = [e for e in server.state.requests(method="POST", path="/waves/v1/voice-cloning") if e.status == 500]
        made = replacements_on(server)
    assert timeouts, "the emulator should have timed out some creates"
    assert set(made) == {e.voice_id for e in planned.plan.entries if e.action is Action.RECLONE}
    assert set(made.values()) == {1}
    assert run.exit_code is ExitCode.OK


async def test_only_and_limit_make_a_canary_batch(tmp_path: Path) -> None:
    with running(30, 4, tmp_path) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        ids = [e.voice_id for e in planned.plan.entries if e.action is Action.RECLONE]
        run = await apply(server, settings, planned.plan_path, ApplyOptions(only=frozenset(ids[:3]), limit=2))
        made = replacements_on(server)
    assert len(run.selection.todo) == 2 and run.selection.beyond_limit == 1
    assert set(made) <= set(ids[:3]) and len(made) == 2


async def test_a_stale_plan_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    with running(30, 4, tmp_path) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        victim = next(e.voice_id for e in planned.plan.entries if e.action is Action.RECLONE)
        server.state.remove_clone(victim)
        with pytest.raises(PlanError, match=f"{victim} .* is no longer on the account") as caught:
            await apply(server, settings, planned.plan_path)
        assert creates(server) == 0
    assert "clone-audit plan" in caught.value.hint

    with running(30, 4, tmp_path / "again") as (server, settings):
        expired = replace(settings, plan=replace(settings.plan, expiry_hours=-1))
        planned = await plan(server, expired, tmp_path / "out2")
        with pytest.raises(PlanError, match="expired"):
            await apply(server, expired, planned.plan_path)


async def test_a_changed_recording_is_not_uploaded(tmp_path: Path) -> None:
    with running(30, 4, tmp_path) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        entry = next(e for e in planned.plan.entries if e.action is Action.RECLONE and e.upload and not e.upload.fitted)
        Path(entry.upload.path).write_bytes(b"RIFF" + b"\x00" * 100)
        run = await apply(server, settings, planned.plan_path, ApplyOptions(only=frozenset({entry.voice_id})))
        assert creates(server) == 0
    assert run.states["failed"] == 1 and run.exit_code is ExitCode.FINDINGS


@pytest.mark.parametrize(("mode", "deleted"), [("gone", 0), ("ok", 3)])
async def test_retire_deletes_only_verified_or_lists_them_for_the_dashboard(tmp_path: Path, mode: str, deleted: int) -> None:
    with running(30, 4, tmp_path, delete_mode=mode) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        await apply(server, settings, planned.plan_path, ApplyOptions(limit=3))
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            run = (await retire_replaced(client, settings, planned.plan_path, YES)).retired
        remaining = {c.voice_id for c in server.state.clones()}
    assert len(run.deleted) == deleted
    assert len(run.deleted) + len(run.for_dashboard) == 3
    assert not set(run.deleted) & remaining
    if mode == "gone":
        assert "dashboard" in run.reason


async def test_a_refused_sample_fails_that_voice_and_the_run_goes_on(tmp_path: Path) -> None:
    with running(30, 4, tmp_path, clone_error_rate=1.0) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        run = await apply(server, settings, planned.plan_path)
        again = await apply(server, settings, planned.plan_path)
    assert run.states["failed"] == len(reclone_ids(planned)) and run.exit_code is ExitCode.FINDINGS
    assert "cleaner" in run.folder.joinpath("mapping.csv").read_text()  # the API's hint reaches the user
    assert not again.selection.todo and len(again.selection.failed) == len(reclone_ids(planned))
    assert again.exit_code is ExitCode.FINDINGS


async def test_fail_fast_stops_starting_new_voices(tmp_path: Path) -> None:
    with running(30, 4, tmp_path, clone_error_rate=1.0) as (server, settings):
        settings = replace(settings, api=replace(settings.api, concurrency=1))
        planned = await plan(server, settings, tmp_path / "out")
        run = await apply(server, settings, planned.plan_path, ApplyOptions(fail_fast=True))
        assert creates(server) == 1
    assert run.stopped_early and len(run.selection.todo) == len(reclone_ids(planned))
    assert run.states["failed"] == 1 and run.exit_code is ExitCode.FINDINGS


async def test_a_slow_clone_is_waited_for_again_not_created_again(tmp_path: Path) -> None:
    with running(30, 4, tmp_path, processing_s=1.5) as (server, settings):
        impatient = replace(settings, apply=replace(settings.apply, poll_timeout_s=0.3))
        planned = await plan(server, settings, tmp_path / "out")
        first = await apply(server, impatient, planned.plan_path, ApplyOptions(limit=2))
        assert first.states["failed"] == 2
        second = await apply(server, settings, planned.plan_path, ApplyOptions(limit=2, retry_failed=True))
        assert creates(server) == 2
        made = replacements_on(server)
    assert second.states["verified"] == 2 and set(made.values()) == {1}


async def test_a_failed_replacement_does_not_block_re_planning(tmp_path: Path) -> None:
    with running(30, 4, tmp_path, new_clone_fail_rate=1.0) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        run = await apply(server, settings, planned.plan_path, ApplyOptions(limit=2))
        replanned = await plan(server, settings, tmp_path / "out2")
    assert run.states["failed"] == 2
    assert reclone_ids(replanned) == reclone_ids(planned)  # failed clones are no replacement


async def test_a_verification_that_could_not_run_is_retried_by_the_next_run(tmp_path: Path) -> None:
    with running(30, 4, tmp_path) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        first = await apply_unverifiable(server, settings, planned.plan_path, ApplyOptions(limit=2))
        second = await apply(server, settings, planned.plan_path, ApplyOptions(limit=2))
        assert creates(server) == 2
    assert first.states["completed"] == 2 and first.exit_code is ExitCode.FINDINGS
    assert second.states["verified"] == 2


async def test_only_with_an_id_the_plan_does_not_re_clone_is_a_usage_error(tmp_path: Path) -> None:
    with running(30, 4, tmp_path) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        keep = next(e.voice_id for e in planned.plan.entries if e.action is Action.KEEP)
        with pytest.raises(UsageError) as caught:
            await apply(server, settings, planned.plan_path, ApplyOptions(only=frozenset({"voice_nothere00", keep})))
        assert "voice_nothere00 (not in the plan)" in caught.value.message
        assert f"{keep} (KEEP)" in caught.value.message
        assert creates(server) == 0


def quick_window(settings: Settings, create_timeout_s: float, settle_s: float) -> Settings:
    """Settings that give an unknown create `create_timeout_s + settle_s` to show up."""
    return replace(settings, api=replace(settings.api, create_timeout_s=create_timeout_s),
                   apply=replace(settings.apply, settle_s=settle_s))


@pytest.mark.parametrize("lag_s", [0.15, 0.6])  # shorter, then longer than settle_s
async def test_a_list_lagging_behind_timed_out_creates_still_gives_one_clone_each(
    tmp_path: Path, lag_s: float
) -> None:
    with running(30, 8, tmp_path, create_timeout_rate=0.5, list_lag_s=lag_s) as (server, settings):
        settings = quick_window(settings, create_timeout_s=1.0, settle_s=0.2)
        planned = await plan(server, settings, tmp_path / "out")
        run = await apply(server, settings, planned.plan_path)
        made = replacements_on(server)
    assert set(made) == set(reclone_ids(planned)) and set(made.values()) == {1}
    assert run.exit_code is ExitCode.OK


async def test_a_refused_retry_after_an_unknown_create_keeps_looking_for_the_first(tmp_path: Path) -> None:
    # The first create times out (but happens); the list shows it only after 1 s; the retry,
    # sent after the 0.7 s window, is refused by the quota. The next run must find the first.
    clock = ManualClock(ticking=True)
    with running(30, 4, tmp_path, clock, create_timeout_rate=1.0, list_lag_s=1.0, clone_quota=31) as (server, settings):
        settings = quick_window(settings, create_timeout_s=0.5, settle_s=0.2)
        planned = await plan(server, settings, tmp_path / "out")
        one = ApplyOptions(only=frozenset(reclone_ids(planned)[:1]))
        first = await apply(server, settings, planned.plan_path, one)
        assert first.states["creating"] == 1 and first.exit_code is ExitCode.FINDINGS
        clock.advance(1.0)  # the list lag is over: the list shows the first create now
        second = await apply(server, settings, planned.plan_path, one)
        made = replacements_on(server)
    assert second.states["verified"] == 1 and list(made.values()) == [1]


async def test_a_replacement_deleted_after_it_completed_is_made_again(tmp_path: Path) -> None:
    with running(30, 4, tmp_path) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        one = ApplyOptions(only=frozenset(reclone_ids(planned)[:1]))
        first = await apply_unverifiable(server, settings, planned.plan_path, one)
        assert first.states["completed"] == 1
        (gone,) = [c.voice_id for c in server.state.clones() if any(t.startswith(MARKER_PREFIX) for t in c.tags)]
        server.state.remove_clone(gone)  # deleted in the dashboard
        second = await apply(server, settings, planned.plan_path, one)
        made = replacements_on(server)
    assert second.states["verified"] == 1 and list(made.values()) == [1] and creates(server) == 2


def _later_by(shift: timedelta) -> type[datetime]:
    """A `datetime` whose `now` is `shift` ahead: the apply pipeline's clock, moved past an expiry."""
    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Later:
            moved = datetime.now(tz) + shift
            return cls.fromtimestamp(moved.timestamp(), tz)
    return Later


async def test_an_expired_plan_finishes_what_it_started_and_starts_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(30, 4, tmp_path) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        first = await apply_unverifiable(server, settings, planned.plan_path, ApplyOptions(limit=2))
        assert first.states["completed"] == 2
        # the plan's expiry passes between the two applies (apply reads the time once, to decide)
        expiry = planned.plan.expires_at - datetime.now(UTC)
        monkeypatch.setattr(apply_pipeline, "datetime", _later_by(expiry + timedelta(minutes=1)))
        second = await apply(server, settings, planned.plan_path)
        assert creates(server) == 2
    assert second.states["verified"] == 2
    assert len(second.selection.expired) == len(reclone_ids(planned)) - 2
    assert second.exit_code is ExitCode.FINDINGS


async def test_retire_leaves_a_voice_whose_replacement_is_not_verified(tmp_path: Path) -> None:
    with running(30, 4, tmp_path, delete_mode="ok") as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        ids = reclone_ids(planned)
        await apply(server, settings, planned.plan_path, ApplyOptions(only=frozenset(ids[:2])))
        await apply_unverifiable(server, settings, planned.plan_path, ApplyOptions(only=frozenset(ids[2:3])))
        async with WavesClient(settings.api, Secret(server.api_key)) as client:
            run = (await retire_replaced(client, settings, planned.plan_path, YES)).retired
        remaining = {c.voice_id for c in server.state.clones()}
    assert sorted(run.deleted) == sorted(ids[:2])
    assert ids[2] in remaining


@pytest.mark.parametrize("wording", [QUOTA_TEXT, *OLDER_QUOTA_TEXTS])
async def test_a_full_clone_quota_stops_apply_at_once_with_a_hint(tmp_path: Path, wording: str) -> None:
    """Whatever words the API uses for the quota (the vendor's `clone limit exceeded, consider
    upgrading`, or an older one), apply stops at the first refusal and leaves the rest queued."""
    with running(30, 4, tmp_path, clone_quota=32, quota_text=wording) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        assert len(reclone_ids(planned)) > 3
        one_at_a_time = replace(settings, api=replace(settings.api, concurrency=1))
        lines: list[str] = []
        with pytest.raises(QuotaReached) as caught:
            async with WavesClient(one_at_a_time.api, Secret(server.api_key)) as client:
                await apply_plan(client, one_at_a_time, planned.plan_path, ApplyOptions(), YES, on_voice=lines.append)
        # two creates fit, the third is refused, and no doomed create is sent for the rest
        assert creates(server) == 3 and len(replacements_on(server)) == 2
    said = wording.replace("{quota}", "32").split(":")[0]
    assert "clone quota is full" in caught.value.message and said in caught.value.message
    assert caught.value.exit_code == ExitCode.RUN_FAILED
    assert all(word in caught.value.hint for word in ("retire", "upgrade", "apply again"))
    assert sum(": verified" in line for line in lines) == 2 and not any(": failed" in line for line in lines)
    assert any(": queued: not created: " in line and said in line for line in lines)
    mapping = (planned.folder / "mapping.csv").read_text(encoding="utf-8")
    assert ",queued," in mapping and ",failed," not in mapping


async def test_the_vendors_quota_text_stops_apply_with_its_default_settings(tmp_path: Path) -> None:
    """With the account's limit discovered and several voices in progress, the vendor's quota
    text still stops apply at the first refusal: nothing marked failed, the rest queued."""
    with running(30, 4, tmp_path, clone_quota=32) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        with pytest.raises(QuotaReached) as caught:
            await apply(server, settings, planned.plan_path)
        assert creates(server) == 3 and len(replacements_on(server)) == 2
    assert "clone limit exceeded, consider upgrading" in caught.value.message
    mapping = (planned.folder / "mapping.csv").read_text(encoding="utf-8")
    assert ",failed," not in mapping and ",queued," in mapping


@pytest.mark.parametrize("most", [1, 6])
async def test_voices_waiting_for_their_new_clone_hold_no_request_slot(tmp_path: Path, most: int) -> None:
    """With one request in flight allowed, apply still keeps `max_in_progress` voices going: a voice
    whose clone is processing waits without a slot, so the next voice's create goes out meanwhile.
    `max_in_progress = 1` is one voice after another: create, wait, verify, then the next create."""
    with running(40, 21, tmp_path, processing_s=0.4, tts_concurrency=1) as (server, settings):
        settings = replace(settings, api=replace(settings.api, concurrency=1),
                           apply=replace(settings.apply, max_in_progress=most))
        planned = await plan(server, settings, tmp_path / "out")
        seen = len(server.state.requests())
        run = await apply(server, settings, planned.plan_path)
        during = [e for e in server.state.requests()[seen:] if e.method == "POST"]
    reclone = planned.plan.totals()["RECLONE"]
    assert reclone >= 6 and run.states["verified"] == reclone
    kinds = ["create" if e.path == "/waves/v1/voice-cloning" else "tts" for e in during]
    assert kinds.count("create") == reclone and all(e.status != 429 for e in during)
    creates_before_first_check = kinds.index("tts")
    if most == 1:
        assert kinds == ["create", "tts"] * reclone
    else:
        assert creates_before_first_check >= 3, kinds
