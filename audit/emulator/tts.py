"""The emulated `POST /waves/v1/tts` (docs/api-contract.md, §tts).

This module owns the TTS route: the concurrency gate (429 with an optional `Retry-After`),
request validation answered as zod-style issue arrays (`{"error": [{"code", "path",
"message", …}]}`), the `Accept` trap (without `audio/wav` or `audio/*` the answer is an
empty 200) and the audio each clone engine answers: speech for "v3.1" (its uploaded sample's
voice, or a stock speaker: voice.py), the short-WAV
symptom for "legacy", full-length near-silence for "silent". A "v3.1" clone speaks only on
the TTS model of its pool (`CloneRecord.speaks_on`); asked on the other pool's model it answers
the short-WAV symptom, or full-length noise (knob `wrong_pool_answer`). Every answered call is
recorded in the state's TTS log, which the analytics route serves. A valid request may get
one of the configured TTS faults instead (faults.py: trickle, gzip bomb, endless, JSON,
HTML, empty).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, assert_never, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from audit.emulator import voice
from audit.emulator.faults import tts_answer
from audit.emulator.knobs import TTS_FAULTS, WrongPoolAnswer
from audit.emulator.state import CloneRecord, EmulatorState
from audit.emulator.voice import OutputFormat

V31_LANGUAGES = ("en", "hi", "ta", "es", "kn", "mr", "te", "or", "pa", "ml", "gu", "bn",
                 "fr", "de", "it", "nl", "sv", "pt", "pl", "ru")  # fmt: skip
PRO_EXTRA_LANGUAGES = ("el", "fi", "no", "zh", "ja", "ko", "id", "ms", "vi", "tr", "ar")
TTS_MODELS = ("lightning_v3.1", "lightning_v3.1_pro")
SAMPLE_RATES = (8000, 16000, 24000, 44100)
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("pcm", "wav", "mp3", "ulaw", "alaw")
SPEED_RANGE = (0.5, 2.0)

Issue = dict[str, Any]


@dataclass(frozen=True)
class TtsParams:
    text: str
    clone: CloneRecord
    sample_rate: int
    speed: float
    output_format: OutputFormat
    model: str = TTS_MODELS[0]
    language: str | None = None


def _issue(code: str, field: str, message: str, **extra: Any) -> Issue:
    return {"code": code, "path": [field], "message": message, **extra}


def _enum_issue(field: str, options: tuple[Any, ...], received: Any) -> Issue:
    expected = " | ".join(repr(o) for o in options)
    message = f"Invalid enum value. Expected {expected}, received {received!r}"
    return _issue("invalid_enum_value", field, message, options=list(options), received=received)


def _required(body: dict[str, Any], field: str) -> Issue | None:
    value = body.get(field)
    if value is None:
        return _issue("invalid_type", field, "Required", expected="string", received="undefined")
    if not isinstance(value, str):
        return _issue("invalid_type", field, "Expected string", expected="string", received=type(value).__name__)
    if not value.strip():
        return _issue("too_small", field, "String must contain at least 1 character(s)", minimum=1, type="string")
    return None


def _speed_issue(speed: Any) -> Issue | None:
    low, high = SPEED_RANGE
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        return _issue("invalid_type", "speed", "Expected number", expected="number", received=type(speed).__name__)
    if speed < low:
        return _issue("too_small", "speed", f"Number must be greater than or equal to {low}", minimum=low)
    if speed > high:
        return _issue("too_big", "speed", f"Number must be less than or equal to {high}", maximum=high)
    return None


def _option_issues(body: dict[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    model = body.get("model", TTS_MODELS[0])
    if model not in TTS_MODELS:
        issues.append(_enum_issue("model", TTS_MODELS, model))
    rate = body.get("sample_rate", 44100)
    if isinstance(rate, bool) or rate not in SAMPLE_RATES:
        issues.append(_enum_issue("sample_rate", SAMPLE_RATES, rate))
    if (speed_issue := _speed_issue(body.get("speed", 1.0))) is not None:
        issues.append(speed_issue)
    fmt = body.get("output_format", "pcm")
    if fmt not in OUTPUT_FORMATS:
        issues.append(_enum_issue("output_format", OUTPUT_FORMATS, fmt))
    languages = ("auto", *V31_LANGUAGES, *(PRO_EXTRA_LANGUAGES if model == TTS_MODELS[1] else ()))
    if "language" in body and body["language"] not in languages:
        issues.append(_enum_issue("language", languages, body["language"]))
    return issues


def validate(body: Any, state: EmulatorState) -> TtsParams | list[Issue]:
    """The request's parameters, or every issue found (voice lookup only once it is a string)."""
    if not isinstance(body, dict):
        received = "null" if body is None else type(body).__name__
        return [{"code": "invalid_type", "path": [], "message": f"Expected object, received {received}"}]
    issues = [i for i in (_required(body, "text"), _required(body, "voice_id")) if i is not None]
    issues += _option_issues(body)
    clone = state.clone(body["voice_id"]) if isinstance(body.get("voice_id"), str) else None
    if isinstance(body.get("voice_id"), str) and (clone is None or not clone.speakable(state.now())):
        issues.append(_issue("custom", "voice_id", "Invalid Voice ID"))
    if issues or clone is None:
        return issues
    return TtsParams(
        text=body["text"],
        clone=clone,
        sample_rate=int(body.get("sample_rate", 44100)),
        speed=float(body.get("speed", 1.0)),
        output_format=cast(OutputFormat, body.get("output_format", "pcm")),
        model=str(body.get("model", TTS_MODELS[0])),
        language=body.get("language"),
    )


def render(params: TtsParams, wrong_pool: WrongPoolAnswer = "short") -> bytes:
    """The audio bytes the clone's engine answers on the model asked for (`wrong_pool`: what a
    v3.1 clone answers on another pool's model)."""
    clone, rate, fmt = params.clone, params.sample_rate, params.output_format
    if clone.engine == "v3.1" and not clone.speaks_on(params.model):
        if wrong_pool == "short":
            return voice.short_answer(clone.voice_id, rate, fmt)
        return voice.encode(voice.garbage(clone.voice_id, params.text, rate, params.speed), rate, fmt)
    match clone.engine:
        case "legacy":
            return voice.short_answer(clone.voice_id, rate, fmt)
        case "silent":
            samples = voice.silence(clone.voice_id, params.text, rate, params.speed)
        case "v3.1":
            speaker = clone.voice or voice.stock(clone.voice_id)
            samples = voice.speech(speaker, clone.voice_id, params.text, rate, params.speed)
        case _:
            assert_never(clone.engine)
    return voice.encode(samples, rate, fmt)


def _accepts_wav(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "audio/wav" in accept or "audio/*" in accept


def too_many(state: EmulatorState) -> JSONResponse:
    headers = {} if state.config.retry_after is None else {"Retry-After": format(state.config.retry_after, "g")}
    body = {"error": "Too many concurrent requests. Please retry after some time."}
    return JSONResponse(body, status_code=429, headers=headers)


async def _read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


async def tts(request: Request) -> Response:
    return await _speak(request, await _read_json(request))


async def per_model_speech(request: Request) -> Response:
    """`POST /waves/v1/lightning-v3.1/get_speech`: hidden from the vendor's reference since
    2026-07-16 but, its changelog says, unchanged on the wire: the unified route's answer with
    the model the path names (a model in the body is ignored)."""
    body = await _read_json(request)
    return await _speak(request, {**body, "model": "lightning_v3.1"} if isinstance(body, dict) else body)


async def _speak(request: Request, body: Any) -> Response:
    state: EmulatorState = request.app.state.emulator
    if not state.admit_tts():
        return too_many(state)
    try:
        started = state.now()
        params = validate(body, state)
        if isinstance(params, list):
            await state.delay("tts", started)
            return JSONResponse({"error": params}, status_code=400)
        fault = state.pick_fault("tts", TTS_FAULTS)
        wants_audio = _accepts_wav(request) and fault in (None, "tts_trickle")
        audio = await run_in_threadpool(render, params, state.config.wrong_pool_answer) if wants_audio else b""
        await state.delay("tts", started)  # rendering is part of the latency: a slot is held L, not L + render
        state.record_tts(params.clone.voice_id, params.model, params.language, len(params.text), text=params.text,
                         speed=params.speed, sample_rate=params.sample_rate, output_format=params.output_format)
        headers = {"X-Request-Id": state.request_uuid(), "X-Session-Id": state.request_uuid()}
        if fault is not None:
            return tts_answer(fault, state.config, audio, headers)
        return Response(audio, media_type="audio/wav", headers=headers)
    finally:
        state.release_tts()
