"""The emulator's memory: the organisation's clones and what happened, on an injectable clock.

This module owns `CloneRecord` (one clone as the server stores it, including the hidden `engine`
that decides what TTS answers, the pools it speaks on, and the `CloneLifecycle` of a clone
created through the API) and
`EmulatorState` (the clones, the request log, the TTS log behind the analytics route, the TTS
concurrency gate, the seeded random source, and the `Clock` every timed behaviour reads: clone
lifecycles, the list lag, timestamps, latency), and the account's Atoms agents (`agents`, an
`agentbook.AgentBook`, seeded from the clones by `agentseed.generate_agents` unless given), whose
calls join the TTS log. The knobs it runs by are `knobs.EmulatorConfig`.
The state is shared between the server's event-loop thread and test threads, so every mutation
goes through one lock.
"""

from __future__ import annotations

import random
import string
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from audit.emulator.agentbook import AgentBook
from audit.emulator.agentdata import Agent
from audit.emulator.agentseed import generate_agents
from audit.emulator.clock import Clock, SystemClock
from audit.emulator.knobs import EmulatorConfig, Fault, RouteKind
from audit.emulator.traffic import TEXT_KEPT, TtsLogRecord, generate_traffic
from audit.emulator.voice import Voice

Engine = Literal["v3.1", "legacy", "silent"]
"""What a clone's TTS really answers: speech, the short-WAV symptom, or full-length silence."""

Outcome = Literal["completed", "failed"]

#: The TTS model (underscore form) of each pool a clone can be made on (hyphen form, as
#: `modelIds` names it): a clone speaks properly only on its pool's model (vendor TTS spec).
POOL_TTS_MODELS = {"lightning-v3.1": "lightning_v3.1", "lightning-v3.1-pro": "lightning_v3.1_pro"}

ALPHANUMERIC = string.ascii_letters + string.digits


@dataclass(frozen=True)
class CloneLifecycle:
    """The lifecycle of a clone created through the API: pending → processing → outcome."""

    started: float  # the state's clock.monotonic() at creation
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

    def speaks_on(self, tts_model: str) -> bool:
        """Whether `tts_model` is the model of a pool this clone is on (its `modelIds`); a clone
        whose `modelIds` name no pool (legacy, empty, absent, odd) is on the standard one."""
        models = self.fields.get("modelIds")
        listed = models if isinstance(models, list) else []
        pools = [POOL_TTS_MODELS[m] for m in listed if m in POOL_TTS_MODELS] or [POOL_TTS_MODELS["lightning-v3.1"]]
        return tts_model in pools

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

    def __init__(
        self, config: EmulatorConfig | None = None, clones: Iterable[CloneRecord] = (), clock: Clock | None = None,
        agents: Iterable[Agent] | None = None,
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._clones: dict[str, CloneRecord] = {c.voice_id: c for c in clones}
        self._log: list[LogEntry] = []
        self._tts_in_flight = 0
        self._tts_calls = 0
        self._tts_log: list[TtsLogRecord] = []
        if self.config.traffic_days > 0:
            self._tts_log = generate_traffic(self._clones.values(), self.config.traffic_days, self.config.seed,
                                            self.clock.now())
        self._route_calls: dict[str, int] = {}
        self.organization_id = "org_" + self.token(24, string.hexdigits[:16])
        if agents is None:
            agents = generate_agents(self._clones.values(), self.config.seed, self.config.agent_count)
        self.agents = AgentBook(agents, self.config, self.clock, self.organization_id.removeprefix("org_"))

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

    def record_tts(self, voice_id: str, model: str, language: str | None, text_len: int, *, text: str | None = None,
                   speed: float = 1.0, sample_rate: int = 44100, output_format: str = "pcm") -> None:
        """Remember one answered TTS call, at the clock's wall-clock time, for the analytics route."""
        at = self.clock.now()
        kept = None if text is None else text[:TEXT_KEPT]
        record = TtsLogRecord(at, voice_id, model, language, text_len, kept, "rest", speed, sample_rate, output_format)
        with self._lock:
            self._tts_log.append(record)

    def add_tts_log(self, records: Iterable[TtsLogRecord]) -> None:
        """Add calls to the history (tests seed calls at chosen times)."""
        with self._lock:
            self._tts_log.extend(records)
            self._tts_log.sort(key=lambda r: r.at)

    def tts_log(self) -> list[TtsLogRecord]:
        """Every recorded TTS call (the agents' calls included), oldest first."""
        calls = self.agents.calls()
        with self._lock:
            return sorted([*self._tts_log, *calls], key=lambda r: r.at)

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

    def pick_fault(self, kind: str, names: Iterable[str]) -> str | None:
        """Count one request of `kind` (a route kind, or any name a route counts its requests
        by); the first of the named faults (config fields) that hits it."""
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

    # -- time -----------------------------------------------------------------------------

    def now(self) -> float:
        """The clock's monotonic reading, which clone lifecycles and the list lag run on."""
        return self.clock.monotonic()

    def wall(self) -> float:
        """The clock's wall-clock reading (seconds since the epoch), for timestamps."""
        return self.clock.now()

    async def delay(self, kind: RouteKind, started: float | None = None) -> None:
        """The configured latency of one kind of route, on the clock; with `started` (a `now()`),
        only what is left of it, so the work done since counts as part of the latency."""
        seconds = self.config.latency_of(kind)
        if started is not None:
            seconds -= self.now() - started
        if seconds > 0:
            await self.clock.sleep(seconds)
