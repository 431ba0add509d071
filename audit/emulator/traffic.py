"""The emulator's TTS traffic: what the analytics log records, and a generated history.

This module owns `TtsLogRecord` (one TTS call as the emulated account remembers it: wall
clock time, voice, model, language, characters, its text (cut), the route kind (rest or ws),
speed, sample rate and output format) and `generate_traffic`, a seeded history
of calls per voice over the last days, legacy voices included (a legacy voice that is
still called is serving silence to someone). Same clones, seed and `now`, same history.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol


class LoggedClone(Protocol):
    """What a history needs of a clone (an `EmulatorState` clone record has it)."""

    @property
    def voice_id(self) -> str: ...

    @property
    def fields(self) -> Mapping[str, Any]: ...

#: A generated history holds at most this many calls, whatever the org's size.
MAX_GENERATED_CALLS = 20_000
DAILY_RATES = (0, 0, 1, 2, 5, 10, 20)  # calls per day a voice gets; idle voices are common
MODELS = ("lightning_v3.1", "lightning_v3.1", "lightning_v3.1_pro")
REQUEST_TYPES = ("rest", "rest", "ws")


class TtsLogRecord(NamedTuple):
    at: float  # seconds since the epoch (wall clock)
    voice_id: str
    model: str  # as the TTS request named it (`lightning_v3.1`); the log writes the hyphen form
    language: str | None
    text_len: int
    text: str | None = None  # kept cut to TEXT_KEPT characters, as the log truncates long inputs
    request_type: str = "rest"  # "rest" (POST /waves/v1/tts) or "ws" (the WebSocket)
    speed: float = 1.0
    sample_rate: int = 44100
    output_format: str = "pcm"


#: The log keeps at most this many characters of a call's text.
TEXT_KEPT = 500
_FILLER = "Thanks for calling, your order is on its way and will arrive tomorrow morning. "


def generate_traffic(clones: Iterable[LoggedClone], days: float, seed: int, now: float) -> list[TtsLogRecord]:
    """Calls to each completed (or status-less) clone over the `days` before `now`, oldest first."""
    rng = random.Random(f"traffic-{seed}")
    span = days * 86_400.0
    records: list[TtsLogRecord] = []
    for clone in clones:
        if clone.fields.get("status", "completed") != "completed":
            continue
        count = round(rng.choice(DAILY_RATES) * days)
        language = clone.fields.get("language")
        for _ in range(count):
            text_len = rng.randint(20, 250)
            records.append(TtsLogRecord(
                at=now - rng.random() * span, voice_id=clone.voice_id, model=rng.choice(MODELS),
                language=language if isinstance(language, str) else None, text_len=text_len,
                text=(_FILLER * (text_len // len(_FILLER) + 1))[:text_len], request_type=rng.choice(REQUEST_TYPES),
                sample_rate=rng.choice((8000, 24000, 44100)), output_format=rng.choice(("pcm", "wav", "mp3")),
            ))
    if len(records) > MAX_GENERATED_CALLS:
        records = rng.sample(records, MAX_GENERATED_CALLS)
    records.sort(key=lambda r: r.at)
    return records
