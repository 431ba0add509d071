"""The planner (pure): one action per voice with its reason, the new clone's fields, the forecast."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit.api.wire import parse_clone_list
from audit.core.config import Settings
from audit.core.secrets import Secret
from audit.core.models import (
    Action,
    Clone,
    CloneStatus,
    FitWindow,
    ProbePolicy,
    ProbeResult,
    ProbeVerdict,
    SourceCheck,
    SourceProblem,
    Verdict,
    marker_tag,
)
from audit.core.provenance import Provenance
from audit.migrate.planner import build_plan, needs_source, replacements
from audit.core.models import Upload
from audit.migrate.document import PlanError, read_plan, stale_reasons
from audit.scan.rules import classify, decide, mark_migrated, should_probe

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
SHORT = ProbeResult(ProbeVerdict.SHORT_WAV, "HTTP 200 but only 144 bytes")
SPEAKS = ProbeResult(ProbeVerdict.SPEAKS, "1.2 s of speech")


def result(voice_id: str, probe: ProbeResult = SHORT, **fields):
    c = Clone(voice_id=voice_id, display_name=fields.pop("name", voice_id.title()), status=CloneStatus.COMPLETED,
              raw_status="completed", model_ids=fields.pop("model_ids", ("lightning-large",)), **fields)
    return decide(c, classify(c), probe)


GOOD = SourceCheck(None, "9.8 s of speech", path="emma.wav", matched_by="voice-id", sha256="ab" * 32,
                   kind="wav", mime="audio/wav", n_bytes=300_000, duration_s=10.0, speech_s=9.8)
UPLOAD = Upload("/archive/emma.wav", "emma.wav", "audio/wav", "ab" * 32, 300_000, fitted=False)


PROVENANCE = Provenance(Secret("sk_test_planner"))


def plan_of(results, sources=None, uploads=None, settings=None, markers=None):
    return build_plan(results, sources or {}, uploads or {}, settings or Settings(),
                      plan_id="p1", now=NOW, base_url="http://127.0.0.1:1", markers=markers)


def test_actions_for_each_kind_of_voice() -> None:
    results = [
        result("voice_legacy0001", language="en", tags=("support", "a,b")),
        result("voice_blocked001"),
        result("voice_speaks0001", SPEAKS, model_ids=("lightning-v3.1",)),
        result("voice_pending001", ProbeResult(ProbeVerdict.NOT_PROBED)),
    ]
    results[3] = decide(replace(results[3].clone, status=CloneStatus.PENDING), results[3].compatibility, results[3].probe)
    missing = SourceCheck(SourceProblem.MISSING, "no file holds voice_blocked001 or 'Voice_Blocked001'")
    the_plan = plan_of(results, {"voice_legacy0001": GOOD, "voice_blocked001": missing}, {"voice_legacy0001": UPLOAD})
    by_id = {e.voice_id: e for e in the_plan.entries}
    assert [by_id[v].action for v in ("voice_legacy0001", "voice_blocked001", "voice_speaks0001", "voice_pending001")] == [
        Action.RECLONE, Action.BLOCKED, Action.KEEP, Action.SKIP]
    assert by_id["voice_blocked001"].reason.startswith("missing: no file holds")
    new = by_id["voice_legacy0001"].new_clone
    assert new is not None
    assert new.tags == ("support", "a b", marker_tag("voice_legacy0001"))  # a comma would split the tag
    assert (new.display_name, new.language, new.model) == ("Voice_Legacy0001", "en", "lightning-v3.1")
    assert the_plan.totals() == {"RECLONE": 1, "KEEP": 1, "SKIP": 1, "BLOCKED": 1}


def test_a_voice_already_replaced_is_skipped_and_its_replacement_kept() -> None:
    old = result("voice_old0000001")
    tags = (marker_tag("voice_old0000001"), PROVENANCE.proof_tag("voice_old0000001"))
    new = result("voice_new0000001", SPEAKS, model_ids=("lightning-v3.1",), tags=tags)
    markers = PROVENANCE.markers([r.clone for r in (old, new)])
    results = mark_migrated([old, new], markers)
    assert results[0].verdict is Verdict.MIGRATED and results[0].evidence == "marker+proof"
    assert not needs_source(results[0], replacements([r.clone for r in results], markers), markers)
    the_plan = plan_of(results, markers=markers)
    assert [e.action for e in the_plan.entries] == [Action.SKIP, Action.SKIP]
    assert the_plan.entries[0].replacement == "voice_new0000001"
    assert "replacement clone of voice_old0000001" in the_plan.entries[1].reason


def test_a_replacement_that_speaks_as_someone_else_does_not_make_its_voice_migrated() -> None:
    old = result("voice_old0000001")
    tags = (marker_tag("voice_old0000001"), PROVENANCE.proof_tag("voice_old0000001"))
    new = result("voice_new0000001", SPEAKS, model_ids=("lightning-v3.1",), tags=tags)
    markers = PROVENANCE.markers([r.clone for r in (old, new)])
    flagged = mark_migrated([old, new], markers, {"voice_old0000001": "voice_new0000001"})
    assert flagged[0].verdict is Verdict.NON_COMPLIANT
    assert "voice_new0000001" in flagged[0].reason and "fidelity mismatch" in flagged[0].reason
    # a mismatch recorded for an earlier replacement says nothing about this one
    later = mark_migrated([old, new], markers, {"voice_old0000001": "voice_earlier001"})
    assert later[0].verdict is Verdict.MIGRATED


@pytest.mark.parametrize("proof", [None, "clone-audit-proof:" + "0" * 32, Provenance(Secret("sk_other")).proof_tag(
    "voice_old0000001")], ids=["no-proof", "made-up-proof", "proof-from-another-key"])
def test_a_marker_without_a_valid_proof_is_evidence_not_proof(proof: str | None) -> None:
    old = result("voice_old0000001")
    tags = (marker_tag("voice_old0000001"),) + ((proof,) if proof else ())
    foreign = result("voice_foreign001", SPEAKS, model_ids=("lightning-v3.1",), tags=tags)
    markers = PROVENANCE.markers([r.clone for r in (old, foreign)])
    results = mark_migrated([old, foreign], markers)
    assert results[0].verdict is Verdict.NON_COMPLIANT and not results[0].evidence
    assert "voice_foreign001 carries a migrated-from marker for it that the tool cannot verify" in results[0].reason
    assert "carries a migrated-from marker for voice_old0000001 the tool cannot verify" in results[1].reason
    assert replacements([r.clone for r in results], markers) == {}
    the_plan = plan_of(results, {"voice_old0000001": GOOD}, {"voice_old0000001": UPLOAD}, markers=markers)
    entry = the_plan.entries[0]
    assert entry.action is Action.BLOCKED and entry.replacement is None
    assert entry.reason.startswith("unverified-marker: voice_foreign001")
    assert the_plan.entries[1].action is Action.KEEP  # an ordinary voice that speaks


def test_without_an_archive_every_legacy_voice_is_blocked_as_missing() -> None:
    the_plan = plan_of([result("voice_legacy0001")])
    assert the_plan.entries[0].action is Action.BLOCKED
    assert "no archive is configured" in the_plan.entries[0].reason


def test_a_fitted_upload_is_announced() -> None:
    fit = replace(GOOD, fit=FitWindow(12.0, 27.0, "42.0 s is longer than 15 s"), mime=None)
    upload = replace(UPLOAD, fitted=True, path="/plan/fitted/voice_legacy0001.wav")
    entry = plan_of([result("voice_legacy0001")], {"voice_legacy0001": fit}, {"voice_legacy0001": upload}).entries[0]
    assert entry.action is Action.RECLONE and "fitted copy (42.0 s is longer than 15 s)" in entry.reason


def test_an_unsupported_language_is_left_out_of_the_new_clone() -> None:
    entry = plan_of([result("voice_legacy0001", language="el")], {"voice_legacy0001": GOOD},
                    {"voice_legacy0001": UPLOAD}).entries[0]
    assert entry.new_clone is not None and entry.new_clone.language is None
    assert "language unknown" in entry.reason


def test_the_forecast_counts_what_apply_would_do() -> None:
    results = [result(f"voice_legacy{i:04d}", language="en") for i in range(5)]
    sources = {r.clone.voice_id: GOOD for r in results}
    uploads = {r.clone.voice_id: UPLOAD for r in results}
    settings = Settings()
    settings = replace(settings, api=replace(settings.api, concurrency=2),
                       plan=replace(settings.plan, clone_quota=6, create_estimate_s=30.0))
    f = plan_of(results, sources, uploads, settings).forecast
    assert f["reclones"] == 5 and f["api_calls"]["create"] == 5 and f["api_calls"]["verify_tts"] == 5
    assert f["tts_characters"] == 5 * len("Hello, this is a short check of this voice.")
    assert (f["clones_now"], f["clones_after"], f["within_quota"]) == (5, 10, False)
    assert f["estimated_seconds"] == 90.0  # ceil(5 / 2) × 30 s
    assert f["upload_bytes"] == 5 * 300_000


def test_the_plan_file_round_trips_and_detects_staleness(tmp_path: Path) -> None:
    results = [result("voice_legacy0001", language="en"), result("voice_speaks0001", SPEAKS)]
    the_plan = plan_of(results, {"voice_legacy0001": GOOD}, {"voice_legacy0001": UPLOAD})
    path = tmp_path / "plan.json"
    path.write_text(the_plan.to_json())
    loaded = read_plan(path)
    assert loaded == the_plan
    clones = [r.clone for r in results]
    assert stale_reasons(loaded, clones) == []
    renamed = [replace(clones[0], display_name="Someone else"), clones[1]]
    assert "changed since planning" in stale_reasons(loaded, renamed)[0]
    assert "no longer on the account" in stale_reasons(loaded, clones[1:])[0]
    assert stale_reasons(loaded, clones[1:], finished={"voice_legacy0001"}) == []  # done, then retired
    assert stale_reasons(loaded, [clones[0]]) == []  # an unplanned voice may come and go
    assert loaded.expires_at == NOW + timedelta(hours=24)


@pytest.mark.parametrize("text", ["", "{}", '{"format": "something-else"}', "not json"])
def test_a_file_that_is_not_a_plan_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(PlanError):
        read_plan(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["entries"][0]["new_clone"].update(tags=["support"]), "must carry exactly the tag"),
        (lambda d: d["entries"][0]["new_clone"].update(tags="x"), "tags must be a list"),
        (lambda d: d["entries"][0].update(upload=None), "without an upload"),
        (lambda d: d["entries"].append(dict(d["entries"][1])), "listed twice"),
        (lambda d: d.update(expires_at="2026-11-22T12:00:00"), "time zone"),
        (lambda d: d.update(entries="abc"), "damaged"),
        (lambda d: d.update(base_url=None), "not a URL"),
    ],
)
def test_an_edited_or_damaged_plan_is_refused_with_a_clear_error(tmp_path: Path, edit, message: str) -> None:
    results = [result("voice_legacy0001", language="en"), result("voice_speaks0001", SPEAKS)]
    document = json.loads(plan_of(results, {"voice_legacy0001": GOOD}, {"voice_legacy0001": UPLOAD}).to_json())
    edit(document)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    with pytest.raises(PlanError, match=message):
        read_plan(path)


def test_the_manifest_fills_in_a_language_and_name_the_clone_lacks() -> None:
    results = [result("voice_legacy0001", name="")]
    the_plan = build_plan(results, {"voice_legacy0001": GOOD}, {"voice_legacy0001": UPLOAD}, Settings(),
                          plan_id="p1", now=NOW, base_url="http://127.0.0.1:1",
                          manifest={"voice_legacy0001": {"language": "hi", "display_name": "Priya"}})
    new = the_plan.entries[0].new_clone
    assert new is not None and (new.language, new.display_name) == ("hi", "Priya")


def test_with_usage_numbers_the_plan_goes_most_called_first(tmp_path: Path) -> None:
    ids = ["voice_quiet00001", "voice_busy000001", "voice_unknown001", "voice_some000001", "voice_speaks0001"]
    results = [result(v) for v in ids[:4]] + [result(ids[4], SPEAKS, model_ids=("lightning-v3.1",))]
    sources = {v: replace(GOOD, path=f"{v}.wav") for v in ids[:4]}
    uploads = {v: replace(UPLOAD, path=f"/archive/{v}.wav") for v in ids[:4]}
    usage = {"voice_quiet00001": 0, "voice_busy000001": 1204, "voice_some000001": 9, "voice_speaks0001": 5000}
    the_plan = build_plan(results, sources, uploads, Settings(), plan_id="p1", now=NOW,
                          base_url="http://127.0.0.1:1", usage=usage)
    reclones = [e.voice_id for e in the_plan.entries if e.action is Action.RECLONE]
    # apply takes RECLONE entries in plan order: --limit 1 re-clones the busiest voice
    assert reclones == ["voice_busy000001", "voice_some000001", "voice_quiet00001", "voice_unknown001"]
    assert {e.voice_id: e.recent_calls for e in the_plan.entries} == {**usage, "voice_unknown001": None}
    (tmp_path / "plan.json").write_text(the_plan.to_json(), encoding="utf-8")
    again = read_plan(tmp_path / "plan.json")
    assert [e.recent_calls for e in again.entries] == [e.recent_calls for e in the_plan.entries]
    # without usage numbers the order is the scan's, and no entry claims a count
    plain = build_plan(results, sources, uploads, Settings(), plan_id="p1", now=NOW, base_url="http://127.0.0.1:1")
    assert [e.voice_id for e in plain.entries] == ids and all(e.recent_calls is None for e in plain.entries)


def test_a_voice_id_listed_twice_is_blocked_once_and_the_other_voices_still_migrate(tmp_path: Path) -> None:
    legacy = {"modelIds": ["lightning-large"], "status": "completed", "language": "en"}
    clones = parse_clone_list([{"voiceId": "voice_dup0000001", "displayName": "A", **legacy},
                               {"voiceId": "voice_dup0000001", "displayName": "B", **legacy,
                                "modelIds": ["lightning-v3.1"]},
                               {"voiceId": "voice_legacy0001", "displayName": "C", **legacy}])
    policy = ProbePolicy.LEGACY
    assert [should_probe(c, classify(c), policy) for c in clones] == [True, False, True]
    results = [decide(c, classify(c), SHORT if should_probe(c, classify(c), policy) else ProbeResult(ProbeVerdict.NOT_PROBED))
               for c in clones]
    assert results[1].verdict is Verdict.UNKNOWN and "listed twice by the API" in results[1].reason
    sources = {v: GOOD for v in ("voice_dup0000001", "voice_legacy0001")}
    uploads = {v: UPLOAD for v in ("voice_dup0000001", "voice_legacy0001")}
    the_plan = plan_of(results, sources, uploads)
    actions = [(e.voice_id, e.action) for e in the_plan.entries]
    assert actions == [("voice_dup0000001", Action.BLOCKED), ("voice_legacy0001", Action.RECLONE)]
    assert "listed twice by the API" in the_plan.entries[0].reason and the_plan.forecast["reclones"] == 1
    path = tmp_path / "plan.json"
    path.write_text(the_plan.to_json())
    assert read_plan(path) == the_plan and stale_reasons(the_plan, clones) == []  # apply accepts it
