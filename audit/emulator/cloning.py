"""The emulated clone list and clone creation (docs/api-contract.md, §list and §create).

This module owns `GET /waves/v1/voice-cloning` (every clone in one `{"data": [...]}`, or one of
the configured list faults of faults.py: cut in half, not JSON, wrong shapes, huge) and
`POST /waves/v1/voice-cloning`: the multipart validation with the documented 400 texts,
the plan's clone quota, the injected `voice_clone_timeout` 500 that still creates the clone,
and the new clone's record (engine "v3.1", `createdAt` and a status moving pending → processing
→ completed or failed on the state's clock, the upload's sha256 and its tags kept for later
look-ups, and the upload's voice, which its TTS speaks with; the `wrong_speaker` fault swaps in
another person).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from audit.emulator import voice
from audit.emulator.faults import list_answer
from audit.emulator.knobs import LIST_FAULTS
from audit.emulator.state import CloneLifecycle, CloneRecord, EmulatorState, Outcome
from audit.emulator.tts import V31_LANGUAGES, too_many

ALLOWED_MIME_TYPES = ("audio/mpeg", "audio/mpeg-3", "audio/wav", "audio/wave",
                      "audio/webm", "video/webm", "audio/mp4", "video/mp4")  # fmt: skip
MAX_FILE_BYTES = 5_000_000  # "5 MB": the smaller reading (docs/api-contract.md, §create)
CLONE_MODELS = ("lightning-v3.1", "lightning-v3.1-pro")
V2_DEPRECATED = "Voice cloning for lightning-v2 is deprecated. Please use lightning-v3.1"
SAMPLE_TEXT = "Hello, this is a sample of my cloned voice. How does it sound?"


class CreateRejected(Exception):
    """A 400 of clone creation; the message is the documented `error` text."""


def iso_time(at: float) -> str:
    """`at` (seconds since the epoch) as the API writes times: ISO 8601, milliseconds, `Z`."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def list_clones(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    if not state.admit_other("list"):
        return too_many(state)
    try:
        return await _list_clones(state)
    finally:
        state.release_other("list")


async def _list_clones(state: EmulatorState) -> Response:
    await state.delay("list")
    now = state.now()
    lag = state.config.list_lag_s
    listed = [c for c in state.clones() if c.lifecycle is None or now - c.lifecycle.started >= lag]
    entries = [c.to_json(now) for c in listed]
    fault = state.pick_fault("list", LIST_FAULTS)
    if fault is not None:
        return list_answer(fault, state.config, entries)
    return JSONResponse({"data": entries})


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


async def _checked_file(form: FormData) -> tuple[UploadFile, bytes]:
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise CreateRejected("No file provided")
    if upload.content_type not in ALLOWED_MIME_TYPES:
        allowed = ", ".join(ALLOWED_MIME_TYPES)
        raise CreateRejected(f"Invalid file type {upload.content_type!r}. Allowed types: {allowed}")
    content = await upload.read()
    if len(content) > MAX_FILE_BYTES:
        raise CreateRejected("File size exceeds the maximum allowed size of 5MB")
    return upload, content


def _checked_fields(form: FormData, state: EmulatorState) -> tuple[str, str | None, str]:
    """displayName, language and model, or the 400 the real server answers."""
    name = _text(form, "displayName")
    if name is None or not 1 <= len(name) <= 500:
        raise CreateRejected("displayName is required and must be between 1 and 500 characters")
    language = _text(form, "language") or None
    if language is not None and language not in V31_LANGUAGES:
        raise CreateRejected(f"Invalid language. Supported: {', '.join(V31_LANGUAGES)}")
    model = _text(form, "model") or CLONE_MODELS[0]
    if model == "lightning-v2":
        raise CreateRejected(V2_DEPRECATED)
    if model not in CLONE_MODELS:
        raise CreateRejected(f"Invalid model '{model}'. Supported models: {', '.join(CLONE_MODELS)}")
    quota = state.config.clone_quota
    if len(state.clones()) >= quota:
        raise CreateRejected(state.config.quota_text.replace("{quota}", str(quota)))
    return name, language, model


def _new_record(
    state: EmulatorState, form: FormData, checked: tuple[str, str | None, str], sha256: str, speaks: voice.Voice | None,
) -> CloneRecord:
    name, language, model = checked
    tags = [t.strip() for t in (_text(form, "tags") or "").split(",") if t.strip()]
    fields: dict[str, Any] = {
        "_id": state.token(24, "0123456789abcdef"),
        "displayName": name,
        "description": _text(form, "description") or "",
        "accent": _text(form, "accent") or "general",
        "tags": tags,
        **({"language": language} if language else {}),
        "cloningType": "instant",
        "modelIds": [model],
        "createdAt": iso_time(state.wall()),
    }
    config = state.config
    outcome: Outcome = "failed" if state.chance(config.new_clone_fail_rate) else "completed"
    lifecycle = CloneLifecycle(state.now(), config.pending_s, config.processing_s, outcome)
    return CloneRecord(state.new_voice_id(), "v3.1", fields, audio_sha256=sha256, lifecycle=lifecycle, voice=speaks)


def _created_body(state: EmulatorState, record: CloneRecord, filename: str) -> dict[str, Any]:
    signature = state.token(32, "0123456789abcdef")
    sample_url = f"https://samples.emulator.invalid/{record.voice_id}/sample_1.wav?signature={signature}"
    listed = record.to_json(state.now())
    model: Any = listed["modelIds"][0]
    if state.config.model_as_object:  # the shape a live answer showed (docs/api-contract.md, §create)
        model = {"_id": "mdl_" + state.token(12, "0123456789abcdef"), "modelName": model}
    return {
        "message": "Voice clone created successfully",
        "data": {
            "voiceId": record.voice_id,
            "displayName": listed["displayName"],
            "model": model,
            "status": listed["status"],
            "language": listed.get("language"),
            "audioFileNames": [filename],
            "createdAt": listed["createdAt"],
            "organizationId": state.organization_id,
            "samples": [{"text": SAMPLE_TEXT, "audioUrl": sample_url}],
        },
    }


async def create_clone(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    if not state.admit_other("create"):
        return too_many(state)
    try:
        return await _create_clone(request, state)
    finally:
        state.release_other("create")


async def _create_clone(request: Request, state: EmulatorState) -> Response:
    async with request.form() as form:
        try:
            upload, content = await _checked_file(form)
            checked = _checked_fields(form, state)
        except CreateRejected as rejected:
            return JSONResponse({"error": str(rejected)}, status_code=400)
        if state.chance(state.config.clone_error_rate):
            body = {"error": "Could not create a voice clone from this sample", "error_code": "voice_clone_error"}
            return JSONResponse(body, status_code=500)
        speaks = await run_in_threadpool(voice.from_upload, content)
        if speaks is not None and state.pick_fault("create", ("wrong_speaker",)) is not None:
            speaks = voice.other_speaker(speaks)
        record = _new_record(state, form, checked, hashlib.sha256(content).hexdigest(), speaks)
        state.add_clone(record)
        # The slow part (preprocessing, samples) comes after the upload: a client that
        # gives up now leaves a clone it never heard of, as the real API can.
        await state.delay("create")
        if state.chance(state.config.create_timeout_rate):
            body = {"error": "Voice clone request timed out", "error_code": "voice_clone_timeout"}
            return JSONResponse(body, status_code=500)
        return JSONResponse(_created_body(state, record, upload.filename or "upload"))
