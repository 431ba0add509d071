"""The vocabulary of clone-audit: frozen dataclasses and exhaustive enums.

This module owns the shapes every stage passes to the next (clones as listed by the
API, probe results, per-voice verdicts, plan and source types) and imports nothing from
the package, so any module may depend on it. It knows no field name of the API's JSON:
reading the vendor's wire format into these types is `audit.api.wire`'s job.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from audit.core.choices import FailOn as FailOn  # the parser's choices, in a module that loads fast
from audit.core.choices import ProbePolicy as ProbePolicy


class Progress(Protocol):
    """Where long work reports how far it got (a terminal bar, or nothing).

    `advance(outcome)` may name what the item ended as (a verdict), for live counts;
    `watch(status)` hands over a function the bar calls when it redraws, returning a short
    note such as "waiting on rate limits (2 at once)" or "" when there is nothing to say, and
    optionally `at_least`, the seconds of a known wait the ETA may not be shorter than.
    """

    def start(self, total: int, description: str) -> None: ...
    def advance(self, outcome: str | None = None) -> None: ...
    def watch(self, status: Callable[[], str] | None, at_least: Callable[[], float | None] | None = None) -> None: ...


class NoProgress:
    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, outcome: str | None = None) -> None:
        pass

    def watch(self, status: Callable[[], str] | None, at_least: Callable[[], float | None] | None = None) -> None:
        pass


#: Model ids (hyphen form) that mean "usable on lightning-v3.1 TTS".
V31_MODEL_IDS = frozenset({"lightning-v3.1", "lightning-v3.1-pro"})
LEGACY_MODEL_ID = "lightning-large"


def model_key(name: str) -> str:
    """A model name with spaces, case and `_` for `-` aside: `Lightning_V3.1_Pro` is
    `lightning-v3.1-pro`. Which pool to probe a clone on reads `modelIds` this way (a spelling
    is never a reason to probe on the wrong pool); whether metadata alone proves a clone works
    does not (`audit.scan.rules.classify`: only the documented spelling does)."""
    return name.strip().lower().replace("_", "-")


class Compatibility(enum.StrEnum):
    """What the clone's listed model ids claim (not proof: only a probe is)."""

    V31 = "v3.1"
    LEGACY_ONLY = "legacy-only"
    UNKNOWN = "unknown"


class CloneStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    MISSING = "missing"  # absent or a value the API does not document


class ProbeVerdict(enum.StrEnum):
    """What the audio of a v3.1 TTS call showed."""

    SPEAKS = "speaks"
    SHORT_WAV = "short-wav"  # the symptom: HTTP 200, a header and next to no samples
    SILENT = "silent"  # decodable audio of real length, but no speech energy
    ERROR = "error"  # the call failed (HTTP status or exception in the reason)
    NOT_PROBED = "not-probed"


class Verdict(enum.StrEnum):
    """Overall per voice. UNKNOWN is never counted as compliant."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non-compliant"
    UNKNOWN = "unknown"
    MIGRATED = "migrated"
    EXCEPTED = "excepted"


class Fidelity(enum.StrEnum):
    """Whether a new clone sounds like its source (judged by `audit.fidelity.verdict`)."""

    MATCH = "match"
    MISMATCH = "mismatch"
    UNCHECKED = "unchecked"


#: Why a later entry of a voice id the list already named is `unknown`, and its voice not planned.
LISTED_TWICE = "listed twice by the API"


@dataclass(frozen=True, slots=True)
class Clone:
    """One voice clone as `GET /waves/v1/voice-cloning` lists it.

    A list entry that cannot be read at all (not an object, no voice id) is kept as a
    placeholder: `voice_id` is `<unparseable entry N>` (N its index in `data`) and
    `unreadable` says why, so the scan counts it as `unknown` instead of leaving it out.
    `odd` notes optional fields whose type the API does not document; such a field is read
    as absent, never guessed into a value that could make a voice look compliant.
    `listed_twice`: the list named this voice id in an earlier entry already; this entry is
    kept as a row (`unknown`), never probed, and the voice is never planned for re-cloning.
    """

    voice_id: str
    display_name: str = ""
    model_ids: tuple[str, ...] | None = None  # None: the field was absent (or not a list: see odd)
    status: CloneStatus = CloneStatus.MISSING
    raw_status: str | None = None
    language: str | None = None
    created_at: str | None = None
    cloning_type: str | None = None
    description: str | None = None
    accent: str | None = None
    tags: tuple[str, ...] = ()
    db_id: str | None = None
    odd: tuple[str, ...] = ()  # e.g. the model list came as a string, not a list
    unreadable: str | None = None  # set only on placeholders for entries that could not be parsed
    listed_twice: bool = False  # a later entry of a voice id the list already named

    @property
    def status_undocumented(self) -> bool:
        """A status field is present but holds no value the API documents."""
        return any(note.startswith("status ") for note in self.odd)


@dataclass(frozen=True, slots=True)
class AudioStats:
    """What decoding a TTS answer found, from the frames really present."""

    n_bytes: int
    frames: int
    sample_rate: int
    duration_s: float
    rms_dbfs: float
    peak_dbfs: float
    active_ratio: float  # share of 20 ms frames with speech-like energy


@dataclass(frozen=True, slots=True)
class ProbeResult:
    verdict: ProbeVerdict
    reason: str = ""
    http_status: int | None = None
    stats: AudioStats | None = None
    n_bytes: int | None = None
    request_id: str | None = None
    probed_at: str | None = None  # ISO time (UTC) the TTS answer came back
    reused: bool = False  # kept from an earlier scan (`--reuse-probes`), not probed in this run
    model: str | None = None  # the TTS model it was probed on (underscore form): the clone's pool's


@dataclass(frozen=True, slots=True)
class Waiver:
    """One line of an exceptions file: a voice accepted as it is, by whom, why, until when."""

    voice_id: str
    reason: str
    owner: str
    expires: date  # the last day the waiver holds

    def active(self, today: date) -> bool:
        return today <= self.expires


@dataclass(frozen=True, slots=True)
class VoiceResult:
    """One row of a scan: the clone, what its metadata says, what its probe said.
    `waiver` is set when an exceptions file names the voice (active or expired)."""

    clone: Clone
    compatibility: Compatibility
    probe: ProbeResult
    verdict: Verdict
    reason: str
    evidence: str = ""  # what a `migrated` verdict rests on ("marker+proof"); empty otherwise
    waiver: Waiver | None = None


@dataclass(frozen=True, slots=True)
class CreatedClone:
    """The answer of `POST /waves/v1/voice-cloning` (status may still be pending)."""

    voice_id: str
    display_name: str
    model: str | None
    status: CloneStatus
    language: str | None
    sample_count: int


# -- planning and migration ------------------------------------------------------------

#: The tag every replacement clone carries, so the account itself records old → new.
MARKER_PREFIX = "migrated-from:"


def marker_tag(old_voice_id: str) -> str:
    return f"{MARKER_PREFIX}{old_voice_id}"


def tag_origin(tag: str) -> str | None:
    """The old voice id in a marker tag, or None for any other tag."""
    if tag.startswith(MARKER_PREFIX) and len(tag) > len(MARKER_PREFIX):
        return tag[len(MARKER_PREFIX):]
    return None


def marked_origin(clone: Clone) -> str | None:
    """The old voice id a replacement clone was made for, from its marker tag."""
    return next((o for o in map(tag_origin, clone.tags) if o is not None), None)


class Action(enum.StrEnum):
    RECLONE = "RECLONE"  # re-clone from the archived recording
    KEEP = "KEEP"  # works on v3.1 already
    SKIP = "SKIP"  # nothing to do now (already migrated, could not be checked, …)
    BLOCKED = "BLOCKED"  # needs re-cloning but cannot be: the reason says why


class SourceProblem(enum.StrEnum):
    """Why an archived recording cannot be used (each makes the voice BLOCKED)."""

    MISSING = "missing"
    AMBIGUOUS = "ambiguous"
    PATH_ESCAPE = "path-escape"
    UNSUPPORTED = "unsupported-type"
    CORRUPT = "corrupt"
    TOO_SHORT = "too-short"
    TOO_LONG = "too-long"  # over 10 min or 1 GiB: trimmed by the operator, never guessed at
    SILENT = "silent"
    UNSAFE_ID = "unsafe-voice-id"  # the API's voice id is not one clone-audit may act on


@dataclass(frozen=True, slots=True)
class FitWindow:
    """The part of a recording a fitted copy keeps, and why a copy is needed."""

    start_s: float
    end_s: float
    reason: str  # e.g. "42.0 s is longer than 15 s", "6.1 MB is over 5 MB", "flac is not accepted"


@dataclass(frozen=True, slots=True)
class SourceCheck:
    """What the archive holds for one voice, and whether it can be uploaded as it is."""

    problem: SourceProblem | None  # None: usable (as it is, or through `fit`)
    detail: str  # one line a person can act on
    path: str | None = None  # relative to the archive folder
    matched_by: str | None = None  # "manifest", "voice-id" or "display-name"
    sha256: str | None = None  # of the archived file
    kind: str | None = None  # real container, from content: wav, mp3, flac, ogg, mp4, webm
    mime: str | None = None  # Content-Type to upload with (when usable as it is)
    n_bytes: int | None = None
    duration_s: float | None = None  # from decoded samples, never from a header
    speech_s: float | None = None  # seconds of speech-like frames
    fit: FitWindow | None = None  # set when a fitted copy must be uploaded instead


@dataclass(frozen=True, slots=True)
class Upload:
    """The exact bytes apply sends: the archived file itself or a fitted copy of it."""

    path: str  # an archived file: absolute; a fitted copy: relative to the plan's folder (fitted/…)
    filename: str
    mime: str
    sha256: str
    n_bytes: int
    fitted: bool
