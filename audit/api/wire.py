"""The vendor's wire format: the Waves API's JSON field names, in both directions.

Owns reading the API's loose JSON into the shared vocabulary of `audit.core` (a list entry
into a `Clone`, the list's `data` array into `Clone`s, a create answer into a `CreatedClone`,
an analytics entry into a `TtsCall`) and writing the request bodies that carry its field
names (the create form, the TTS and delete bodies). Every field the API sends is optional and may be
oddly typed: parsing is tolerant, never guesses a value that could make a voice look
compliant, and notes what it read as absent in `Clone.odd`. Pure: no I/O.
"""

from __future__ import annotations

import sys
from datetime import datetime
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from audit.core.models import Clone, CloneStatus, CreatedClone
from audit.core.untrusted import is_plain_id, shown
from audit.core.usage import TtsCall, read_timestamp

_TEXT_FIELDS = ("displayName", "language", "createdAt", "cloningType", "description", "accent", "_id")


def parse_clone(item: Mapping[str, Any], shared: dict[Any, Any] | None = None) -> Clone:
    """One list entry; tolerant of missing or oddly typed optional fields. `shared` (a list's
    values seen so far) gives a value many clones repeat (a status, a language, a model list,
    tags, a description) one object for them all, not a copy per clone.

    Raises ValueError only when the entry has no usable voiceId.
    """
    def one(value: Any) -> Any:
        return value if shared is None else shared.setdefault(value, value)

    voice_id = item.get("voiceId")
    if "voiceId" not in item:
        raise ValueError("it has no voiceId")
    if not isinstance(voice_id, str) or not voice_id.strip():
        raise ValueError(f"voiceId is {_describe(voice_id)}, not a non-empty string")
    odd: list[str] = []
    raw_models = item.get("modelIds")
    model_ids: tuple[str, ...] | None
    if raw_models is None:
        model_ids = None
    elif isinstance(raw_models, list):
        model_ids = one(tuple(str(m) for m in raw_models))
        if not all(isinstance(m, str) for m in raw_models):
            odd.append(f"modelIds holds non-strings ({_describe(raw_models)})")
    else:  # undocumented: read as absent, so only a probe can call this voice compliant
        model_ids = None
        odd.append(f"modelIds is {_describe(raw_models)}, not a list")
    raw_status = item.get("status")
    try:
        status = CloneStatus(raw_status) if isinstance(raw_status, str) else CloneStatus.MISSING
    except ValueError:
        status = CloneStatus.MISSING
    if raw_status is not None and not isinstance(raw_status, str):
        odd.append(f"status is {_describe(raw_status)}, not a string")
    elif status is CloneStatus.MISSING and raw_status is not None:
        odd.append(f"status {raw_status[:40]!r} is not one the API documents")
    raw_tags = item.get("tags")
    if isinstance(raw_tags, list):
        tags = one(tuple(str(t) for t in raw_tags))
    elif isinstance(raw_tags, str):
        tags = one(tuple(t.strip() for t in raw_tags.split(",") if t.strip()))
    else:
        tags = ()
        if raw_tags is not None:
            odd.append(f"tags is {_describe(raw_tags)}, not a list")
    texts = {name: item.get(name) for name in _TEXT_FIELDS}
    odd += [f"{name} is {_describe(v)}, not a string" for name, v in texts.items()
            if v is not None and not isinstance(v, str)]
    return Clone(
        voice_id=voice_id,
        display_name=_opt_str(texts["displayName"]) or "",
        model_ids=model_ids,
        status=status,
        raw_status=one(raw_status) if isinstance(raw_status, str) else None,
        language=one(_opt_str(texts["language"])),
        created_at=_opt_str(texts["createdAt"]),
        cloning_type=one(_opt_str(texts["cloningType"])),
        description=one(_opt_str(texts["description"])),
        accent=one(_opt_str(texts["accent"])),
        tags=tags,
        db_id=_opt_str(texts["_id"]),
        odd=tuple(odd),
    )


def parse_clone_list(items: Sequence[Any]) -> list[Clone]:
    """Every entry of the list's `data` array, in order; unreadable ones as placeholders, and
    each later entry of a voiceId already listed marked `listed_twice`. A value many entries
    repeat is held once for the whole list (`parse_clone`'s `shared`)."""
    clones: list[Clone] = []
    seen: set[str] = set()
    shared: dict[Any, Any] = {}
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            clones.append(_placeholder(index, f"{_describe(item)}, not an object"))
            continue
        try:
            clone = parse_clone(item, shared)
        except ValueError as exc:
            clones.append(_placeholder(index, str(exc)))
            continue
        if clone.voice_id in seen:
            clone = replace(clone, listed_twice=True)
        seen.add(clone.voice_id)
        clones.append(clone)
    return clones


def _placeholder(index: int, reason: str) -> Clone:
    """Stands in for list entry `data[index]`, which could not be read."""
    return Clone(voice_id=f"<unparseable entry {index}>", unreadable=f"data[{index}]: {reason}")


def parse_created_clone(body: Mapping[str, Any]) -> CreatedClone:
    """The answer of a create: `{"data": {...}}` or the entry itself. ValueError when it names
    no voiceId, or one that is not a plain voice id (it would be recorded and acted on)."""
    data = body.get("data") if isinstance(body.get("data"), Mapping) else body
    assert isinstance(data, Mapping)
    voice_id = data.get("voiceId")
    if not isinstance(voice_id, str) or not voice_id:
        raise ValueError("create answer has no data.voiceId")
    if not is_plain_id(voice_id):  # it would be recorded, verified and written to mapping.csv
        raise ValueError(f"create answer's data.voiceId {shown(voice_id)} is not a plain voice id")
    model = data.get("model")
    if isinstance(model, Mapping):  # the live answer: {"_id": …, "modelName": …}
        model = model.get("modelName")
    try:
        status = CloneStatus(str(data.get("status")))
    except ValueError:
        status = CloneStatus.MISSING
    samples = data.get("samples")
    return CreatedClone(
        voice_id=voice_id,
        display_name=_opt_str(data.get("displayName")) or "",
        model=_opt_str(model),
        status=status,
        language=_opt_str(data.get("language")),
        sample_count=len(samples) if isinstance(samples, list) else 0,
    )


def parse_tts_call(item: Mapping[str, Any]) -> TtsCall:
    """One `data` entry of the TTS analytics log, every documented field read; ValueError when it
    has no voice id. A time that cannot be read makes a call at an unknown time (it still counts),
    not a skipped entry; a time without a zone is marked `zoneless` (the server's local time).
    `text_len` gives the characters, else the length of `text`; the model is kept as written
    (the log writes `lightning-v3.1`, TTS requests `lightning_v3.1`)."""
    voice_id = item.get("voice_id")
    if not isinstance(voice_id, str) or not voice_id:
        raise ValueError("entry without a voice_id")
    try:
        at: datetime | None
        at, zoneless = read_timestamp(item.get("timestamp"))
    except (ValueError, TypeError, OverflowError):
        at, zoneless = None, False
    text_len, text = _number(item.get("text_len")), item.get("text")
    characters = int(text_len) if text_len is not None else len(text) if isinstance(text, str) else 0
    rate = _number(item.get("sample_rate"))
    pvc = item.get("is_pvc")
    return TtsCall(  # the names repeat across a log: one copy of each (sys.intern)
        at=at, voice_id=sys.intern(voice_id), characters=max(0, characters),
        model=_name(item.get("model")), language=_name(item.get("language")) or None, zoneless=zoneless,
        request_type=_name(item.get("request_type")), credits=_number(item.get("credits")),
        speed=_number(item.get("speed")), sample_rate=int(rate) if rate is not None else None,
        output_format=_name(item.get("output_format")), is_pvc=pvc if isinstance(pvc, bool) else None,
    )


def _number(value: Any) -> float | None:
    """A finite JSON number, else None (a number written as a string is not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or abs(value) == float("inf"):
        return None
    return value


def _name(value: Any) -> str | None:
    """A short name the log repeats (model, language, route kind, format), interned; else None."""
    return sys.intern(value) if isinstance(value, str) and len(value) <= 64 else None


def create_form(
    *, display_name: str, model: str, language: str | None, description: str | None, accent: str | None,
    tags: Sequence[str],
) -> dict[str, str]:
    """The form fields of a create (the file goes beside them); empty optional fields are left out."""
    form = {"displayName": display_name, "model": model}
    optional = {"language": language, "description": description, "accent": accent}
    form.update({k: v for k, v in optional.items() if v})
    if tags:
        form["tags"] = ",".join(tags)
    return form


def tts_body(
    voice_id: str, text: str, *, model: str, sample_rate: int, language: str | None, output_format: str
) -> dict[str, Any]:
    """The JSON body of a TTS call; no language leaves the choice to the API."""
    payload: dict[str, Any] = {
        "text": text,
        "voice_id": voice_id,
        "model": model,
        "sample_rate": sample_rate,
        "output_format": output_format,
    }
    if language:
        payload["language"] = language
    return payload


def delete_body(voice_id: str) -> dict[str, str]:
    """The JSON body of a delete."""
    return {"voiceId": voice_id}


def _describe(value: Any) -> str:
    """A short, printable description of an unexpected JSON value: its type and its start."""
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
    if value is None:
        return kind
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{kind} ({text})"


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
