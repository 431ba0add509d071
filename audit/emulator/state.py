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
from audit.emulator.voice import Voice

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
class Fault:
    """Which requests of a route get one kind of broken answer.

    `every=N` hits the N-th, 2N-th, … request of the route (counted from the emulator's start,
    after authentication; exact counts, whatever the seed); `rate=r` hits a share r of the
    requests, drawn from the seed. Both may be set: a request is hit when either says so.
    `Fault()` is off.
    """

    every: int = 0
    rate: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 0:
            raise ValueError(f"Fault.every must be a whole number >= 0, got {self.every!r}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"Fault.rate must be within [0, 1], got {self.rate}")

    def __bool__(self) -> bool:
        return self.every > 0 or self.rate > 0.0


OFF = Fault()

#: The TTS faults, in the order they are checked (the first that hits a request wins).
TTS_FAULTS = ("tts_trickle", "tts_gzip_bomb", "tts_endless", "tts_json", "tts_html", "tts_empty")
#: The list faults, in the order they are checked.
LIST_FAULTS = ("list_truncated", "list_garbage", "list_wrong_shape", "list_huge")


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated account behaves. Rates are shares in [0, 1] drawn from `seed`.

    `retry_after` is sent as written (`1.0` → `Retry-After: 1`, `0.5` → `0.5`); HTTP and the
    official SDK only understand whole seconds, so a fraction exercises a client's fallback.
    `latency` maps a route kind ("list", "create", "tts", "delete", "health", "analytics") to
    seconds. `traffic_days` > 0 seeds the TTS analytics log with a generated history of that
    many days of calls per voice (legacy voices included), drawn from `seed`.

    Hostile answers. Each is a `Fault` (`Fault(every=N)` or `Fault(rate=r)`, off by default)
    choosing which requests of its route get it, so a scan mixes healthy and broken answers.
    They apply to valid, authenticated requests (a bad voice id still gets its 400), after the
    429 gate; when several hit the same request, the first in TTS_FAULTS / LIST_FAULTS wins.

    POST /waves/v1/tts, all with status 200:
    - `tts_trickle`: the clone's real audio, `trickle_bytes_per_s` bytes a second (Content-Length
      is the full size, so only a whole-request deadline ends it early).
    - `tts_gzip_bomb`: `Content-Encoding: gzip`, a WAV header then zeros; `gzip_bomb_bytes`
      decompressed (default 1 GiB) from ~1/1000 of that on the wire, compressed as it streams,
      never held in memory. A client that inflates without a cap eats the whole size.
    - `tts_endless`: `audio/wav`, a WAV header then zeros, streamed as fast as the client reads
      and never ending (chunked, no Content-Length).
    - `tts_json`: `application/json`, `{"status": "success", "audio": null, …}` (~80 bytes).
    - `tts_html`: `text/html`, a proxy's error page (~200 bytes).
    - `tts_empty`: `audio/wav` with an empty body although Accept asked for audio/wav.

    GET /waves/v1/voice-cloning, all with status 200:
    - `list_truncated`: the real list's JSON cut in half (Content-Length matches the half sent).
    - `list_garbage`: `application/json` whose body is an HTML page, not JSON.
    - `list_wrong_shape`: the real list with every `wrong_shape_every`-th entry (index 0, N,
      2N, …) replaced by shape `(index // N) % 6` of WRONG_SHAPES: 0 the bare voiceId string,
      1 no voiceId, 2 voiceId as a number, 3 modelIds and tags as strings (modelIds the string
      "lightning-v3.1" whatever the engine), 4 createdAt as a number and status "archived",
      5 null. Shapes 0, 1, 2 and 5 cannot be parsed; 3 and 4 are schema drift in optional fields.
    - `list_huge`: the real list followed by a `padding` string, `huge_list_bytes` in all
      (default 48 MiB), streamed.

    POST /waves/v1/voice-cloning:
    - `wrong_speaker`: the create succeeds as usual, but the new clone's TTS speaks as another
      person (the stock speaker whose pitch is furthest from the upload's) instead of the
      uploaded sample's voice; counted over creates that reach the clone's record.

    GET /waves/v1/analytics/tts/logs:
    - `analytics_ignores_page`: every page asked for is answered with page 1 (saying `"page": 1`),
      with the true `totalPages`.
    """

    api_key: str = field(default_factory=_generated_key)
    tts_concurrency: int = 1
    # Which calls count against `tts_concurrency`. The live API documents only TTS; list and
    # create may count too, so ("tts", "list", "create") exercises a client that must cope with either.
    limit_counts: tuple[RouteKind, ...] = ("tts",)
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
    # Creates whose clone speaks as another person (the stock speaker furthest in pitch from
    # the upload): a server-side mix-up of samples, which the live API's 200 would not reveal.
    wrong_speaker: Fault = OFF
    traffic_days: float = 0.0
    tts_trickle: Fault = OFF
    trickle_bytes_per_s: float = 1.0
    tts_gzip_bomb: Fault = OFF
    gzip_bomb_bytes: int = 1 << 30
    tts_endless: Fault = OFF
    tts_json: Fault = OFF
    tts_html: Fault = OFF
    tts_empty: Fault = OFF
    list_truncated: Fault = OFF
    list_garbage: Fault = OFF
    list_wrong_shape: Fault = OFF
    wrong_shape_every: int = 5
    list_huge: Fault = OFF
    huge_list_bytes: int = 48 << 20
    analytics_ignores_page: bool = False
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
        if "tts" not in self.limit_counts or not set(self.limit_counts) <= {"tts", "list", "create"}:
            raise ValueError(f"limit_counts must hold 'tts' and may add 'list', 'create'; got {self.limit_counts!r}")
        if self.delete_mode not in ("gone", "ok"):
            raise ValueError(f"delete_mode must be 'gone' or 'ok', got {self.delete_mode!r}")
        if any(v < 0 for v in (self.slow_s, self.pending_s, self.processing_s, self.tts_429_every, self.list_lag_s,
                          self.traffic_days)):
            raise ValueError("durations and tts_429_every must not be negative")
        for name in (*TTS_FAULTS, *LIST_FAULTS, "wrong_speaker"):
            if not isinstance(getattr(self, name), Fault):
                raise ValueError(f"{name} must be a Fault, e.g. Fault(every=3) or Fault(rate=0.2)")
        if not self.trickle_bytes_per_s > 0:
            raise ValueError(f"trickle_bytes_per_s must be greater than 0, got {self.trickle_bytes_per_s}")
        sizes = {"gzip_bomb_bytes": self.gzip_bomb_bytes, "huge_list_bytes": self.huge_list_bytes,
                 "wrong_shape_every": self.wrong_shape_every}
        for name, size in sizes.items():
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {size!r}")

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
    voice: Voice | None = None  # what its TTS speaks with (the upload's voice); None: a stock voice

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
        self._route_calls: dict[str, int] = {}
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

    def admit_other(self, kind: RouteKind) -> bool:
        """A list or create call: takes a slot of the same pool when `limit_counts` names it."""
        if kind not in self.config.limit_counts:
            return True
        with self._lock:
            if self._tts_in_flight >= self.config.tts_concurrency:
                return False
            self._tts_in_flight += 1
            return True

    def release_other(self, kind: RouteKind) -> None:
        if kind in self.config.limit_counts:
            self.release_tts()

    @property
    def tts_calls(self) -> int:
        with self._lock:
            return self._tts_calls

    # -- faults ---------------------------------------------------------------------------

    def pick_fault(self, kind: RouteKind, names: Iterable[str]) -> str | None:
        """Count one request of `kind`; the first of the named faults (config fields) that hits it."""
        with self._lock:
            n = self._route_calls[kind] = self._route_calls.get(kind, 0) + 1
        for name in names:
            fault: Fault = getattr(self.config, name)
            if (fault.every > 0 and n % fault.every == 0) or self.chance(fault.rate):
                return name
        return None

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

    async def delay(self, kind: RouteKind, started: float | None = None) -> None:
        """The configured latency of one kind of route; with `started` (a `time.monotonic()`),
        only what is left of it, so the work done since counts as part of the latency."""
        seconds = self.config.latency_of(kind)
        if started is not None:
            seconds -= time.monotonic() - started
        if seconds > 0:
            await asyncio.sleep(seconds)
