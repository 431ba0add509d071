"""The vendor's wire format, with plain dicts: request bodies written, answers read (list entries
and create answers are also covered in tests/unit/test_models.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from audit.api.wire import (
    create_form,
    delete_body,
    parse_clone,
    parse_clone_list,
    parse_created_clone,
    parse_tts_call,
    tts_body,
)
from audit.core.models import CloneStatus


def test_a_create_form_leaves_out_empty_fields_and_joins_tags_with_commas() -> None:
    full = create_form(display_name="Emma", model="lightning-v3.1", language="en", description="support line",
                       accent="general", tags=("migrated-from:voice_old", "clone-audit-proof:ab12"))
    assert full == {"displayName": "Emma", "model": "lightning-v3.1", "language": "en", "description": "support line",
                    "accent": "general", "tags": "migrated-from:voice_old,clone-audit-proof:ab12"}
    bare = create_form(display_name="Emma", model="lightning-v3.1", language=None, description="", accent=None, tags=())
    assert bare == {"displayName": "Emma", "model": "lightning-v3.1"}


def test_a_tts_body_names_the_language_only_when_given() -> None:
    body = tts_body("voice_x", "Hello", model="lightning-v3.1", sample_rate=24000, language=None, output_format="wav")
    assert body == {"text": "Hello", "voice_id": "voice_x", "model": "lightning-v3.1", "sample_rate": 24000,
                    "output_format": "wav"}
    assert tts_body("voice_x", "Hola", model="m", sample_rate=8000, language="es", output_format="wav")["language"] == "es"


def test_a_delete_body_names_the_voice() -> None:
    assert delete_body("voice_abc") == {"voiceId": "voice_abc"}


@pytest.mark.parametrize(("text_len", "characters"), [(42, 42), (12.9, 12), (-5, 0), (True, 0), ("42", 0), (None, 0)])
def test_an_analytics_entry_counts_only_a_real_length(text_len: object, characters: int) -> None:
    call = parse_tts_call({"timestamp": "2026-03-01T10:00:00+02:00", "voice_id": "voice_x", "text_len": text_len})
    assert call.characters == characters and call.at == datetime(2026, 3, 1, 8, tzinfo=UTC)


def test_an_analytics_entry_keeps_only_text_model_and_language() -> None:
    call = parse_tts_call({"timestamp": 1772359200, "voice_id": "voice_x", "model": 3, "language": ["en"]})
    assert call.model is None and call.language is None and call.at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="voice_id"):
        parse_tts_call({"timestamp": 1772359200, "voice_id": ""})


def test_text_fields_of_another_type_are_read_as_absent_and_noted() -> None:
    clone = parse_clone({"voiceId": "voice_x", "displayName": 7, "language": None, "accent": {"a": 1}})
    assert clone.display_name == "" and clone.language is None and clone.accent is None
    assert clone.odd == ("displayName is a number (7), not a string", "accent is an object ({'a': 1}), not a string")


def test_a_list_keeps_every_entry_in_order_with_placeholders_named_by_index() -> None:
    clones = parse_clone_list([{"voiceId": "voice_a"}, None, {"voiceId": "  "}, {"voiceId": "voice_b"}])
    assert [c.voice_id for c in clones] == ["voice_a", "<unparseable entry 1>", "<unparseable entry 2>", "voice_b"]
    assert clones[1].unreadable == "data[1]: null, not an object"
    assert clones[2].unreadable == "data[2]: voiceId is a string ('  '), not a non-empty string"


def test_a_list_holds_a_value_its_entries_repeat_once_and_reads_each_entry_as_alone() -> None:
    entry = {"status": "completed", "language": "en", "cloningType": "instant", "accent": "british",
             "description": "Cloned from the studio recording", "modelIds": ["lightning-large"], "tags": ["ivr", "en"]}
    listed = [{"voiceId": f"voice_{i}", **json.loads(json.dumps(entry))} for i in range(3)]  # each value its own copy
    clones = parse_clone_list(listed)
    alone = [parse_clone(item) for item in listed]
    assert clones == alone  # the same values as each entry parsed alone
    for name in ("raw_status", "language", "cloning_type", "accent", "description", "model_ids", "tags"):
        assert getattr(clones[2], name) is getattr(clones[0], name), name  # one object for a 100,000-clone list
    assert alone[2].language is not alone[0].language


def test_a_create_answer_may_come_without_its_data_wrapper() -> None:
    created = parse_created_clone({"voiceId": "voice_new", "status": "archived", "samples": "one"})
    assert (created.voice_id, created.status, created.sample_count, created.model) == (
        "voice_new", CloneStatus.MISSING, 0, None)
