"""Hostile answers the emulator can give instead of a healthy one (EmulatorConfig's Fault knobs).

This module owns the bodies of those answers: TTS audio that trickles, a gzip bomb compressed
as it streams, an endless WAV, JSON or HTML where audio belongs, an empty 200; a clone list that
is cut in half, not JSON, holds entries of the wrong shape, or is tens of MB; a page of Atoms
agents hostile in the same ways (`agents_answer`). Which request
gets which fault is decided by `EmulatorState.pick_fault`; the routes (tts.py, cloning.py)
call `tts_answer` / `list_answer` / `agents_answer` with the fault's name. Streams stop when the client goes,
and a streamed TTS body does not hold the account's TTS slot (it is released when the route
returns, before the body is sent), so a trickle does not turn other probes into 429s.
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from audit.emulator.knobs import EmulatorConfig

CHUNK = 64 * 1024
_ZEROS = bytes(1 << 20)
WRONG_SHAPES = ("bare voiceId string", "no voiceId", "voiceId as a number",
                "modelIds and tags as strings", "createdAt as a number, status archived", "null")  # fmt: skip
PROXY_PAGE = (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
              b"<h1>502 Bad Gateway</h1><p>The upstream answered nothing usable.</p></body></html>")  # fmt: skip
TTS_JSON = {"status": "success", "audio": None, "message": "Audio generated successfully"}


def wav_header(data_bytes: int, sample_rate: int = 24000) -> bytes:
    """A PCM16 mono WAV header announcing `data_bytes` of samples (capped at the format's limit)."""
    size = min(data_bytes, 0xFFFFFFFF - 36)
    return (
        b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data" + struct.pack("<I", size)
    )


# -- TTS ---------------------------------------------------------------------------------


def tts_answer(fault: str, config: EmulatorConfig, audio: bytes, headers: dict[str, str]) -> Response:
    """The 200 a TTS fault answers; `audio` is what a healthy answer would have carried."""
    match fault:
        case "tts_trickle":
            headers = {**headers, "Content-Length": str(len(audio))}
            return StreamingResponse(_trickle(audio, config.trickle_bytes_per_s), media_type="audio/wav",
                                     headers=headers)
        case "tts_gzip_bomb":
            headers = {**headers, "Content-Encoding": "gzip"}
            return StreamingResponse(_gzip_bomb(config.gzip_bomb_bytes), media_type="audio/wav", headers=headers)
        case "tts_endless":
            return StreamingResponse(_endless(), media_type="audio/wav", headers=headers)
        case "tts_json":
            return JSONResponse(TTS_JSON, headers=headers)
        case "tts_html":
            return Response(PROXY_PAGE, media_type="text/html; charset=utf-8", headers=headers)
        case "tts_empty":
            return Response(b"", media_type="audio/wav", headers=headers)
    raise ValueError(f"not a TTS fault: {fault}")


async def _trickle(data: bytes, bytes_per_s: float) -> AsyncIterator[bytes]:
    step = max(1, round(bytes_per_s * 0.1))  # ten sends a second, or one byte at a time
    pause = step / bytes_per_s
    for start in range(0, len(data), step):
        yield data[start:start + step]
        await asyncio.sleep(pause)


def gzip_bomb_chunks(total: int) -> Iterator[bytes]:
    """gzip of a WAV header and zeros, `total` bytes decompressed, compressed 1 MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    header = wav_header(max(0, total - 44))
    yield packer.compress(header[:total])
    left = total - len(header)
    while left > 0:
        piece = packer.compress(_ZEROS[: min(left, len(_ZEROS))])
        left -= len(_ZEROS)
        if piece:
            yield piece
    yield packer.flush()


async def _gzip_bomb(total: int) -> AsyncIterator[bytes]:
    for piece in gzip_bomb_chunks(total):
        yield piece
        await asyncio.sleep(0)  # let the server notice a client that went away


async def _endless() -> AsyncIterator[bytes]:
    yield wav_header(0xFFFFFFFF)
    zeros = _ZEROS[:CHUNK]
    while True:
        yield zeros
        await asyncio.sleep(0)


# -- the clone list ---------------------------------------------------------------------


def list_answer(fault: str, config: EmulatorConfig, entries: Sequence[dict[str, Any]]) -> Response:
    """The 200 a list fault answers; `entries` is what a healthy answer would have listed."""
    match fault:
        case "list_truncated":
            body = bytes(JSONResponse({"data": list(entries)}).body)  # the healthy answer, byte for byte
            return Response(body[: len(body) // 2], media_type="application/json")
        case "list_garbage":
            return Response(PROXY_PAGE, media_type="application/json")
        case "list_wrong_shape":
            every = config.wrong_shape_every
            return JSONResponse({"data": [wrong_shape(e, i // every) if i % every == 0 else e
                                          for i, e in enumerate(entries)]})
        case "list_huge":
            return StreamingResponse(_huge(entries, config.huge_list_bytes), media_type="application/json")
    raise ValueError(f"not a list fault: {fault}")


def wrong_shape(entry: dict[str, Any], nth: int) -> Any:
    """Entry `entry` bent into WRONG_SHAPES[nth % 6]."""
    match nth % len(WRONG_SHAPES):
        case 0:
            return entry["voiceId"]
        case 1:
            return {k: v for k, v in entry.items() if k != "voiceId"}
        case 2:
            return {**entry, "voiceId": 12345}
        case 3:
            tags = entry.get("tags")
            return {**entry, "modelIds": "lightning-v3.1", "tags": ",".join(tags) if isinstance(tags, list) else "x"}
        case 4:
            return {**entry, "createdAt": 1700000000, "status": "archived"}
        case _:
            return None


async def _huge(entries: Sequence[dict[str, Any]], total: int) -> AsyncIterator[bytes]:
    head = json.dumps({"data": list(entries)}).encode()[:-1] + b', "padding": "'
    yield head
    left = max(0, total - len(head) - 2)
    filler = b"x" * CHUNK
    while left > 0:
        yield filler[: min(left, CHUNK)]
        left -= CHUNK
        await asyncio.sleep(0)
    yield b'"}'


# -- a page of Atoms agents ----------------------------------------------------------------

AGENT_WRONG_SHAPES = ("_id as a number", "synthesizer as a string", "voiceConfig as a list", "null")


def agents_answer(fault: str, config: EmulatorConfig, body: dict[str, Any]) -> Response:
    """The 200 an agent-list fault answers; `body` is the healthy page (`{"status", "data"}`)."""
    match fault:
        case "agents_truncated":
            raw = bytes(JSONResponse(body).body)
            return Response(raw[: len(raw) // 2], media_type="application/json")
        case "agents_garbage":
            return Response(PROXY_PAGE, media_type="application/json")
        case "agents_wrong_shape":
            every = config.wrong_shape_every
            agents = [_bent_agent(a, i // every) if i % every == 0 else a
                      for i, a in enumerate(body["data"]["agents"])]
            return JSONResponse({"status": True, "data": {"agents": agents, "total": str(body["data"]["total"])}})
        case "agents_huge":
            return StreamingResponse(_padded(body, config.huge_list_bytes), media_type="application/json")
    raise ValueError(f"not an agent-list fault: {fault}")


def _bent_agent(agent: dict[str, Any], nth: int) -> Any:
    """`agent` bent into AGENT_WRONG_SHAPES[nth % 4]."""
    match nth % len(AGENT_WRONG_SHAPES):
        case 0:
            return {**agent, "_id": 4242}
        case 1:
            return {**agent, "synthesizer": "waves_lightning_v3_1"}
        case 2:
            found = agent.get("synthesizer")
            synthesizer: dict[str, Any] = found if isinstance(found, dict) else {}
            return {**agent, "synthesizer": {**synthesizer, "voiceConfig": [synthesizer.get("voiceConfig")]}}
        case _:
            return None


async def _padded(body: dict[str, Any], total: int) -> AsyncIterator[bytes]:
    head = json.dumps(body).encode()[:-1] + b', "padding": "'
    yield head
    left = max(0, total - len(head) - 2)
    filler = b"x" * CHUNK
    while left > 0:
        yield filler[: min(left, CHUNK)]
        left -= CHUNK
        await asyncio.sleep(0)
    yield b'"}'
