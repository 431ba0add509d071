"""What the emulated Atoms routes accept: query parameters, ids and bodies, checked as the spec types them.

This module owns the request checks of atoms.py, each raising `Rejected` (a 400 with the
vendor's `{"status": false, "errors": [...]}` body): whole numbers within bounds, booleans,
enums, 24-hex ids, and the draft body: a JSON object with at least one recognised config field
(`agentdata.SECTIONS`), an optional `expectedRevision` (a whole number >= 0), every typed field
of the spec's `UpdateBranchDraftRequest` of its type, and `synthesizer` and `language` in the
shapes `GET /agent/{id}` documents (so what a write stores can be read back as documented);
`waves_voice_ids` finds the voice ids a write names for a Waves model (the
`agents_check_voice_ids` knob refuses those the account does not hold).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import QueryParams

from audit.emulator.agentdata import SECTIONS

OBJECT_ID = re.compile(r"[a-f\d]{24}")
WHOLE = re.compile(r"-?\d{1,12}")
LANGUAGES = ("en", "hi", "mr", "gu", "ta", "es", "north_indic", "bn", "or")
SLM_MODELS = ("electron", "electron-kogta", "electron-kogta-v2", "gpt-4o", "gpt-4.1", "gpt-5.2", "gpt-realtime",
              "gpt-realtime-mini")
TTS_MODELS = ("waves_lightning_v3_1", "gpt-realtime", "gpt-realtime-mini")
STRINGS = ("globalPrompt", "firstMessage", "timezone", "globalKnowledgeBaseId", "prompt")
BOOLEANS = ("muteUserUntilFirstBotResponse", "allowInterruptions", "waitForUserToSpeakFirst", "enableStyleGuide")
OBJECTS = ("synthesizer", "language", "defaultVariables", "preCallAPI", "smartTurnConfig", "voiceDetectionConfig",
           "voiceMailDetectionConfig", "denoisingConfig", "redactionConfig", "pronunciationDicts",
           "llmIdleTimeoutConfig", "sessionTimeoutConfig", "callDispositionConfig", "speechFormatting",
           "workflowGraph")
ENUMS = {"slmModel": SLM_MODELS, "backgroundSound": ("", "office", "cafe", "call_center", "static")}


class Rejected(Exception):
    """A request the spec does not allow: answered 400 with this message."""


def whole(query: QueryParams, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not WHOLE.fullmatch(raw):
        raise Rejected(f"{name} must be a whole number")
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise Rejected(f"{name} must be between {low} and {high}" if high is not None else f"{name} must be >= {low}")
    return value


def boolean(query: QueryParams, name: str, default: bool) -> bool:
    raw = query.get(name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise Rejected(f"{name} must be true or false")
    return raw == "true"


def choice(query: QueryParams, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    raw = query.get(name)
    if raw is None:
        return default
    if raw not in allowed:
        raise Rejected(f"{name} must be one of {', '.join(allowed)}")
    return raw


def object_id(value: str) -> bool:
    return OBJECT_ID.fullmatch(value) is not None


def json_object(raw: bytes, *, required: bool) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` unless `required`."""
    if not raw.strip() and not required:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise Rejected("Body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise Rejected("Body must be a JSON object")
    return body


def publish_label(body: Mapping[str, Any]) -> str | None:
    label = body.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > 200):
        raise Rejected("label must be a string of at most 200 characters")
    return label


def draft_fields(body: Mapping[str, Any]) -> tuple[dict[str, Any], int | None]:
    """The recognised config fields of a draft write, and its `expectedRevision`."""
    expected = body.get("expectedRevision")
    if expected is not None and (not _is_int(expected) or expected < 0):
        raise Rejected("expectedRevision must be a whole number >= 0")
    for name, value in body.items():
        _check_field(name, value)
    fields = {k: v for k, v in body.items() if k in SECTIONS and k != "tools"}
    if not fields:
        raise Rejected("No recognized config fields in request body")
    return fields, expected


def waves_voice_ids(value: Any) -> list[str]:
    """The voice ids of `value` (a draft body) that a Waves model speaks (`model` absent or
    `waves_lightning_v3_1`): the ones the vendor checks against the account."""
    found: list[str] = []
    if isinstance(value, dict):
        if isinstance(value.get("voiceId"), str) and value.get("model", TTS_MODELS[0]) == TTS_MODELS[0]:
            found.append(value["voiceId"])
        for item in value.values():
            found += waves_voice_ids(item)
    elif isinstance(value, list):
        for item in value:
            found += waves_voice_ids(item)
    return found


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_field(name: str, value: Any) -> None:
    wrong = (
        (name in STRINGS and not isinstance(value, str))
        or (name in BOOLEANS and not isinstance(value, bool))
        or (name in OBJECTS and not isinstance(value, dict))
        or (name in ENUMS and value not in ENUMS[name])
        or (name == "interruptionBackoffTimer" and not _is_number(value))
    )
    if wrong:
        raise Rejected(f"{name} has the wrong type")
    if name == "synthesizer":
        _check_synthesizer(value)
    elif name == "language":
        _check_language(value)
    elif name == "workflowGraph":
        _check_graph(value)


def _check_synthesizer(value: Mapping[str, Any]) -> None:
    voice = value.get("voiceConfig", {})
    problems = [
        not isinstance(voice, dict),
        isinstance(voice, dict) and "model" in voice and voice["model"] not in TTS_MODELS,
        isinstance(voice, dict) and "voiceId" in voice and not isinstance(voice["voiceId"], str),
        isinstance(voice, dict) and "gender" in voice and voice["gender"] not in ("male", "female"),
        any(k in value and not _is_number(value[k]) for k in ("speed", "consistency", "similarity", "enhancement",
                                                               "sampleRate")),
    ]
    if any(problems):
        raise Rejected("synthesizer is not in the documented shape")


def _check_language(value: Mapping[str, Any]) -> None:
    switching = value.get("switching", {})
    problems = [
        "default" in value and value["default"] not in LANGUAGES,
        "supported" in value and not (isinstance(value["supported"], list)
                                      and all(isinstance(x, str) for x in value["supported"])),
        not isinstance(switching, dict),
        isinstance(switching, dict) and "isEnabled" in switching and not isinstance(switching["isEnabled"], bool),
        isinstance(switching, dict) and any(not _is_number(v) for k, v in switching.items() if k != "isEnabled"),
    ]
    if any(problems):
        raise Rejected("language is not in the documented shape")


def _check_graph(value: Mapping[str, Any]) -> None:
    for key in ("nodes", "edges"):
        items = value.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise Rejected(f"workflowGraph.{key} must be a list of objects")
    for node in value.get("nodes", []):
        if "data" in node and not isinstance(node["data"], dict):
            raise Rejected("a workflow node's data must be an object")
        _check_synthesizer(node.get("data", {}).get("synthesizer", {}) if isinstance(node.get("data"), dict) else {})
