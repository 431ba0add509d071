"""Parsing the API's loose JSON: every field is optional and must not crash anything."""

from __future__ import annotations

import pytest

from audit.api.wire import parse_clone, parse_clone_list, parse_created_clone
from audit.core.models import CloneStatus


def test_a_full_list_entry() -> None:
    c = parse_clone({
        "_id": "66f0", "voiceId": "voice_dLP5T67Qw7", "displayName": "Emma", "accent": "general",
        "tags": ["en", "support"], "language": "en", "status": "completed", "cloningType": "instant",
        "modelIds": ["lightning-large"], "createdAt": "2025-01-15T09:30:00.000Z",
    })
    assert (c.voice_id, c.display_name, c.model_ids, c.status) == (
        "voice_dLP5T67Qw7", "Emma", ("lightning-large",), CloneStatus.COMPLETED)
    assert c.tags == ("en", "support") and c.db_id == "66f0"


def test_a_bare_entry_with_only_a_voice_id() -> None:
    c = parse_clone({"voiceId": "voice_x"})
    assert c.model_ids is None and c.status is CloneStatus.MISSING and c.language is None


@pytest.mark.parametrize("entry", [
    {"voiceId": "v", "modelIds": None, "status": None, "language": None, "tags": None},
    {"voiceId": "v", "modelIds": "lightning-large", "status": "archived", "tags": "a, b"},
    {"voiceId": "v", "displayName": 42, "createdAt": 1700000000},
])
def test_odd_types_do_not_crash(entry: dict) -> None:
    c = parse_clone(entry)
    assert c.voice_id == "v"


def test_an_undocumented_status_is_kept_raw_and_noted() -> None:
    c = parse_clone({"voiceId": "v", "status": "archived", "modelIds": "lightning-large", "tags": "a, b"})
    assert c.status is CloneStatus.MISSING and c.raw_status == "archived" and c.status_undocumented
    assert c.tags == ("a", "b")
    # modelIds as a string is not the documented list: read as absent and noted, never guessed
    assert c.model_ids is None
    assert "modelIds is a string ('lightning-large'), not a list" in c.odd


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("voice_abc", "data[1]: a string ('voice_abc'), not an object"),
        (None, "data[1]: null, not an object"),
        (["voice_abc"], "data[1]: a list (['voice_abc']), not an object"),
        (7, "data[1]: a number (7), not an object"),
        ({"displayName": "Emma"}, "data[1]: it has no voiceId"),
        ({"voiceId": 12345}, "data[1]: voiceId is a number (12345), not a non-empty string"),
        ({"voiceId": ""}, "data[1]: voiceId is a string (''), not a non-empty string"),
        ({"voiceId": {"id": "x"}}, "data[1]: voiceId is an object ({'id': 'x'}), not a non-empty string"),
    ],
)
def test_an_unreadable_list_entry_is_kept_as_a_counted_placeholder(entry, reason) -> None:
    clones = parse_clone_list([{"voiceId": "voice_good"}, entry, {"voiceId": "voice_also"}])
    assert [c.voice_id for c in clones] == ["voice_good", "<unparseable entry 1>", "voice_also"]
    assert clones[1].unreadable == reason and clones[0].unreadable is None


def test_schema_drift_in_optional_fields_is_noted_not_fatal() -> None:
    (c,) = parse_clone_list([{"voiceId": "v", "modelIds": ["lightning-large", 3], "tags": {"a": 1},
                              "createdAt": 1700000000, "status": 1, "language": ["en"]}])
    assert c.model_ids == ("lightning-large", "3") and c.tags == () and c.created_at is None
    assert c.language is None and c.status is CloneStatus.MISSING and c.status_undocumented
    assert len(c.odd) == 5 and all(" is " in note or " holds " in note for note in c.odd)


def test_an_entry_without_voice_id_is_refused() -> None:
    with pytest.raises(ValueError, match="voiceId"):
        parse_clone({"displayName": "x"})


@pytest.mark.parametrize("model", ["lightning-v3.1", {"_id": "m1", "modelName": "lightning-v3.1"}])
def test_create_answer_accepts_model_as_string_or_object(model) -> None:
    created = parse_created_clone({"message": "ok", "data": {
        "voiceId": "voice_abcdefghij", "displayName": "Emma", "model": model, "status": "pending",
        "samples": [{"text": "Hi", "audioUrl": "https://x/y?signature=s"}]}})
    assert created.model == "lightning-v3.1" and created.status is CloneStatus.PENDING
    assert created.sample_count == 1


@pytest.mark.parametrize("voice_id", ["../../x\n", "voice_ok\x1b[2J", ".hidden", "a/b", "x" * 129])
def test_a_create_answer_whose_voice_id_is_not_plain_is_unusable(voice_id) -> None:
    with pytest.raises(ValueError, match="not a plain voice id"):
        parse_created_clone({"data": {"voiceId": voice_id, "status": "pending"}})


def test_a_voice_id_listed_twice_keeps_both_rows_and_marks_the_later_ones() -> None:
    entry = {"voiceId": "voice_dup0000001", "modelIds": ["lightning-large"], "status": "completed"}
    clones = parse_clone_list([entry, {**entry, "displayName": "B"}, {"voiceId": "voice_other00001"}, entry])
    assert [c.voice_id for c in clones] == ["voice_dup0000001", "voice_dup0000001", "voice_other00001",
                                            "voice_dup0000001"]
    assert [c.listed_twice for c in clones] == [False, True, False, True]
    assert clones[1].display_name == "B" and clones[1].unreadable is None
