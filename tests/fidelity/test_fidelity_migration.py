"""Fidelity end to end on the emulator: a replacement that speaks as someone else is a `mismatch`,
never ready, and its original is never retired until a person accepts it by its id."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from audit.core.errors import ExitCode, UsageError
from audit.core.models import Action
from audit.core.secrets import Secret
from audit.core.untrusted import file_stem
from audit.emulator.knobs import Fault
from audit.migrate.selection import ApplyOptions
from audit.migrate.state import State
from audit.pipeline.retire import retire_replaced
from audit.pipeline.review import review_mismatches
from audit.api.client import WavesClient
from audit.fidelity.verdict import THRESHOLDS
from tests.support.emulator import running
from tests.support.migration import YES, apply, plan

pytestmark = pytest.mark.integration

# A match scored at least its band's accept threshold, a mismatch under its band's reject threshold.
ACCEPT = min(cut.accept for cut in THRESHOLDS.values() if cut.accept is not None)
REJECT = max(cut.reject for cut in THRESHOLDS.values() if cut.reject is not None)


def mapping_rows(folder: Path) -> dict[str, dict[str, str]]:
    with (folder / "mapping.csv").open(encoding="utf-8", newline="") as f:
        return {r["old_voice_id"]: r for r in csv.DictReader(f)}


async def retire(server, settings, plan_path):  # type: ignore[no-untyped-def]
    async with WavesClient(settings.api, Secret(server.api_key)) as client:
        return (await retire_replaced(client, settings, plan_path, YES)).retired


async def test_the_wrong_speaker_is_a_mismatch_not_ready_and_its_original_stays_until_accepted(tmp_path: Path) -> None:
    with running(30, 5, tmp_path, delete_mode="ok", wrong_speaker=Fault(every=3)) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        reclone = {e.voice_id for e in planned.plan.entries if e.action is Action.RECLONE}
        assert len(reclone) >= 3
        run = await apply(server, settings, planned.plan_path)
        rows = {r.old_voice_id: r for r in run.rows}
        wrong = {v for v, r in rows.items() if r.state is State.MISMATCH}
        # every third create spoke as someone else; exactly those are mismatches, the rest match
        assert len(wrong) == len(reclone) // 3
        for voice_id in reclone - wrong:
            assert rows[voice_id].state is State.VERIFIED and rows[voice_id].fidelity == "match"
            assert rows[voice_id].similarity is not None and rows[voice_id].similarity >= ACCEPT
        for voice_id in wrong:
            row = rows[voice_id]
            assert row.fidelity == "mismatch" and row.similarity is not None and row.similarity < REJECT
            assert "does not sound like its source" in row.detail
        assert run.exit_code is ExitCode.FINDINGS  # a mismatch is a finding
        mapping = mapping_rows(planned.folder)
        for voice_id in wrong:
            assert mapping[voice_id]["status"] == "mismatch" and mapping[voice_id]["fidelity"] == "mismatch"
            assert float(mapping[voice_id]["similarity"]) < REJECT
        assert all(mapping[v]["status"] == "ready" and mapping[v]["fidelity"] == "match" for v in reclone - wrong)
        # apply's own report lets a reviewer hear each flagged voice: both clips kept in the
        # plan's folder, linked relatively; the plan's reviewed report is left as it was
        assert run.run_json is not None
        report = (run.run_json.parent / "report.html").read_text(encoding="utf-8")
        for voice_id in wrong:
            for which in ("source", "clone"):
                clip = planned.folder / f"listen/{file_stem(voice_id)}-{which}.wav"
                assert clip.is_file() and f'src="{os.path.relpath(clip, run.run_json.parent)}"' in report
        assert 'id="listen"' not in (planned.folder / "report.html").read_text(encoding="utf-8")

        accepted, *rest = sorted(wrong)
        first = await retire(server, settings, planned.plan_path)
        assert set(first.deleted) == reclone - wrong  # the mismatched originals are kept
        assert set(first.awaiting_review) == wrong
        assert all(server.state.clone(v) is not None for v in wrong)

        with pytest.raises(UsageError, match="not a fidelity mismatch"):  # all or nothing
            review_mismatches(planned.plan_path, [accepted, next(iter(reclone - wrong))], [], "alice")
        done = review_mismatches(planned.plan_path, [accepted], rest, "alice")
        assert done.accepted == (accepted,) and done.rejected == tuple(rest)

        second = await retire(server, settings, planned.plan_path)
        assert second.deleted == (accepted,) and set(second.awaiting_review) == set(rest)
        assert server.state.clone(accepted) is None
        assert all(server.state.clone(v) is not None for v in rest)

    mapping = mapping_rows(planned.folder)
    assert mapping[accepted]["status"] == "ready" and mapping[accepted]["review"] == "accepted"
    assert mapping[accepted]["reviewed_by"] == "alice" and mapping[accepted]["reviewed_at"]
    assert mapping[accepted]["retired_at"]
    for voice_id in rest:
        assert mapping[voice_id]["status"] == "mismatch" and mapping[voice_id]["review"] == "rejected"
    document = json.loads((planned.folder / "mapping.json").read_text(encoding="utf-8"))
    shown = {m["old_voice_id"]: m for m in document["mapping"]}
    assert shown[accepted]["reviewed_by"] == "alice" and shown[accepted]["fidelity"] == "mismatch"
    reviews = [p for p in planned.folder.parent.iterdir() if (p / "run.json").is_file()
               and json.loads((p / "run.json").read_text(encoding="utf-8")).get("kind") == "review"]
    (review_run,) = reviews  # the review wrote a run of its own
    report = (review_run / "report.html").read_text(encoding="utf-8")
    assert "alice" in report and "accepted" in report


async def test_a_mismatch_waits_for_retry_failed_and_is_checked_again(tmp_path: Path) -> None:
    with running(20, 8, tmp_path, wrong_speaker=Fault(every=2)) as (server, settings):
        planned = await plan(server, settings, tmp_path / "out")
        first = await apply(server, settings, planned.plan_path)
        wrong = {r.old_voice_id for r in first.rows if r.state is State.MISMATCH}
        assert wrong
        tts_before = len(server.state.requests(path="/waves/v1/tts"))
        again = await apply(server, settings, planned.plan_path)
        assert set(again.selection.failed) >= wrong and not again.selection.todo
        assert len(server.state.requests(path="/waves/v1/tts")) == tts_before  # nothing probed
        retried = await apply(server, settings, planned.plan_path, ApplyOptions(retry_failed=True))
        assert {e.voice_id for e in retried.selection.todo} == wrong
        # the same wrong clone is heard again: still a mismatch, and no clone was made twice
        assert {r.old_voice_id for r in retried.rows if r.state is State.MISMATCH} == wrong
