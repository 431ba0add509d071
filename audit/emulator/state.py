"""The emulator's memory: its configuration, the organisation's clones and what happened.

This module owns `EmulatorConfig` (every knob of the emulated account: key, limits, faults,
latency), `CloneRecord` (one clone as the server stores it, including the hidden `engine`
that decides what TTS answers) and `EmulatorState` (the clones, the request log, the TTS
log behind the analytics route, the TTS concurrency gate, the seeded random source). The state is shared between the server's
event-loop thread and test threads, so every mutation goes through one lock.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import string
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from audit.emulator.traffic import TtsLogRecord, generate_traffic

Engine = Literal["v3.1", "legacy", "silent"]
"""What a clone's TTS really answers: speech, the short-WAV symptom, or full-length silence."""

RouteKind = Literal["list", "create", "tts", "delete", "health", "analytics"]
DeleteMode = Literal["gone", "ok"]
Outcome = Literal["completed", "failed"]

ALPHANUMERIC = string.ascii_letters + string.digits


def _generated_key() -> str:
    return "sk_emulator_" + secrets.token_hex(16)


def _no_latency() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated account behaves. Rates are shares in [0, 1] drawn from `seed`.

    `retry_after` is sent as written (`1.0` → `Retry-After: 1`, `0.5` → `0.5`); HTTP and the
    official SDK only understand whole seconds, so a fraction exercises a client's fallback.
    `latency` maps a route kind ("list", "create", "tts", "delete", "health", "analytics") to
    seconds. `traffic_days` > 0 seeds the TTS analytics log with a generated history of that
    many days of calls per voice (legacy voices included), drawn from `seed`.
    """

    api_key: str = field(default_factory=_generated_key)
    tts_concurrency: int = 1
    retry_after: float | None = 1.0
    tts_429_every: int = 0
    latency: Mapping[str, float] = field(default_factory=_no_latency)
    fault_5xx_rate: float = 0.0
    create_timeout_rate: float = 0.0
    clone_error_rate: float = 0.0  # creates refused with 500 voice_clone_error (no clone made)
    list_lag_s: float = 0.0  # a new clone shows in the list only this long after its create
    model_as_object: bool = False  # create answers data.model as {"_id", "modelName"}, as seen live
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 0.0
    delete_mode: DeleteMode = "gone"
    clone_quota: int = 1000
    pending_s: float = 0.5
    processing_s: float = 1.0
    new_clone_fail_rate: float = 0.0
    traffic_days: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        rates = {
            "fault_5xx_rate": self.fault_5xx_rate,
            "create_timeout_rate": self.create_timeout_rate,
            "clone_error_rate": self.clone_error_rate,
            "drop_rate": self.drop_rate,
            "slow_rate": self.slow_rate,
            "new_clone_fail_rate": self.new_clone_fail_rate,
        }
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {rate}")
        if self.tts_concurrency < 1:
            raise ValueError("tts_concurrency must be at least 1")
        if self.delete_mode not in ("gone", "ok"):
            raise ValueError(f"delete_mode must be 'gone' or 'ok', got {self.delete_mode!r}")
        if any(v < 0 for v in (self.slow_s, self.pending_s, self.processing_s, self.tts_429_every, self.list_lag_s,
                          self.traffic_days)):
            raise ValueError("durations and tts_429_every must not be negative")

    def latency_of(self, kind: RouteKind) -> float:
        return float(self.latency.get(kind, 0.0))


@dataclass(frozen=True)
class CloneLifecycle:
    """The lifecycle of a clone created through the API: pending → processing → outcome."""

    started: float  # time.monotonic() at creation
    pending_s: float
    processing_s: float
    outcome: Outcome

    def status(self, now: float) -> str:
        elapsed = now - self.started
        if elapsed < self.pending_s:
            return "pending"
        if elapsed < self.pending_s + self.processing_s:
            return "processing"
        return self.outcome


@dataclass(frozen=True)
class CloneRecord:
    """One clone as stored server-side.

    `fields` is the list entry exactly as `GET /waves/v1/voice-cloning` shows it (camelCase,
    without `voiceId`): a key that is absent here is absent from the JSON. Clones created
    through the API carry a `lifecycle`, whose status overrides `fields["status"]`.
    """

    voice_id: str
    engine: Engine
    fields: Mapping[str, Any]
    audio_sha256: str | None = None
    lifecycle: CloneLifecycle | None = None

    def status(self, now: float) -> str | None:
        if self.lifecycle is not None:
            return self.lifecycle.status(now)
        status = self.fields.get("status")
        return status if isinstance(status, str) else None

    def speakable(self, now: float) -> bool:
        """TTS accepts the voice: completed, or a record whose status field is absent."""
        return self.status(now) in (None, "completed")

    def to_json(self, now: float) -> dict[str, Any]:
        db_id = {k: v for k, v in self.fields.items() if k == "_id"}  # listed first, like the API
        body: dict[str, Any] = {**db_id, "voiceId": self.voice_id, **self.fields}
        if self.lifecycle is not None:
            body["status"] = self.lifecycle.status(now)
        return body

    @property
    def tags(self) -> tuple[str, ...]:
        tags = self.fields.get("tags")
        return tuple(str(t) for t in tags) if isinstance(tags, list) else ()


class LogEntry(NamedTuple):
    """One request the emulator saw. `status` 0 means the connection was dropped."""

    method: str
    path: str
    status: int


class EmulatorState:
    """Everything the running emulator knows; safe to read from any thread."""

    def __init__(self, config: EmulatorConfig | None = None, clones: Iterable[CloneRecord] = ()) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._clones: dict[str, CloneRecord] = {c.voice_id: c for c in clones}
        self._log: list[LogEntry] = []
        self._tts_in_flight = 0
        self._tts_calls = 0
        self._tts_log: list[TtsLogRecord] = []
        if self.config.traffic_days > 0:
            self._tts_log = generate_traffic(self._clones.values(), self.config.traffic_days, self.config.seed, time.time())
        self.organization_id = "org_" + self.token(24, string.hexdigits[:16])

    # -- clones ---------------------------------------------------------------------------

    def clone(self, voice_id: str) -> CloneRecord | None:
        with self._lock:
            return self._clones.get(voice_id)

    def clones(self) -> list[CloneRecord]:
        with self._lock:
            return list(self._clones.values())

    def add_clone(self, record: CloneRecord) -> None:
        with self._lock:
            self._clones[record.voice_id] = record

    def remove_clone(self, voice_id: str) -> bool:
        with self._lock:
            return self._clones.pop(voice_id, None) is not None

    def find_by_tag(self, tag: str) -> list[CloneRecord]:
        return [c for c in self.clones() if tag in c.tags]

    # -- request log ----------------------------------------------------------------------

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._log.append(LogEntry(method, path, status))

    def requests(self, method: str | None = None, path: str | None = None) -> list[LogEntry]:
        """The request log so far, optionally only one method and/or path."""
        with self._lock:
            log = list(self._log)
        return [e for e in log if (method is None or e.method == method) and (path is None or e.path == path)]

    # -- TTS analytics log ----------------------------------------------------------------

    def record_tts(self, voice_id: str, model: str, language: str | None, text_len: int) -> None:
        """Remember one answered TTS call, at the wall-clock time, for the analytics route."""
        with self._lock:
            self._tts_log.append(TtsLogRecord(time.time(), voice_id, model, language, text_len))

    def add_tts_log(self, records: Iterable[TtsLogRecord]) -> None:
        """Add calls to the history (tests seed calls at chosen times)."""
        with self._lock:
            self._tts_log.extend(records)
            self._tts_log.sort(key=lambda r: r.at)

    def tts_log(self) -> list[TtsLogRecord]:
        """Every recorded TTS call, oldest first."""
        with self._lock:
            return sorted(self._tts_log, key=lambda r: r.at)

    # -- TTS concurrency ------------------------------------------------------------------

    def admit_tts(self) -> bool:
        """Count a TTS call and take a slot; False means answer 429 (release nothing then)."""
        with self._lock:
            self._tts_calls += 1
            every = self.config.tts_429_every
            if every > 0 and self._tts_calls % every == 0:
                return False
            if self._tts_in_flight >= self.config.tts_concurrency:
                return False
            self._tts_in_flight += 1
            return True

    def release_tts(self) -> None:
        with self._lock:
            self._tts_in_flight -= 1

    @property
    def tts_calls(self) -> int:
        with self._lock:
            return self._tts_calls

    # -- randomness -----------------------------------------------------------------------

    def chance(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def token(self, length: int, alphabet: str = ALPHANUMERIC) -> str:
        with self._lock:
            return "".join(self._rng.choice(alphabet) for _ in range(length))

    def request_uuid(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def new_voice_id(self) -> str:
        while True:
            voice_id = "voice_" + self.token(10)
            if self.clone(voice_id) is None:
                return voice_id

    @staticmethod
    def now() -> float:
        return time.monotonic()

    async def delay(self, kind: RouteKind) -> None:
        """The configured latency of one kind of route."""
        seconds = self.config.latency_of(kind)
        if seconds > 0:
            await asyncio.sleep(seconds)
