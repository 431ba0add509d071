"""RunRecord: one run as data (kind, id, times, account, parameters, exit code, voices, ...).

A frozen value every pipeline builds once its work is done, with the exit code decided
inside it; `document` writes it as run.json and reads it back, `store` files it in the
output folder's history. Its voices are `VoiceRow`s: one typed row per voice, the columns of
clones.csv and of run.json's `voices`, in their order (`VOICE_COLUMNS`). A row reads as a
mapping of those columns too (`row["verdict"]`, `row.get("cause")`), so a report's page and
summaries read these compact rows, never a dict per voice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit import __version__
from audit.core.errors import ExitCode
from audit.core.models import ProbeResult, ProbeVerdict, Verdict
from audit.core.owncalls import SentCalls
from audit.runs.kind import RunKind

RUN_JSON = "run.json"


@dataclass(frozen=True, slots=True)
class VoiceRow(Mapping[str, Any]):
    """One voice as a run saw it: metadata, probe evidence, verdict, waiver, links, history, usage.
    Read-only mapping of its columns as well: a report reads it as it read a dict row."""

    voice_id: str
    display_name: str | None = None
    model_ids: str | None = None  # space-joined, as listed
    status: str | None = None
    language: str | None = None
    created_at: str | None = None
    age_days: int | None = None
    compatibility: str | None = None
    pool: str | None = None  # standard, pro, both or unknown (audit.core.pools.Pool); None: a run before pools
    probe_verdict: str = ProbeVerdict.NOT_PROBED.value
    probe_model: str | None = None  # the TTS model the probe used (its pool's); None: not probed, or an older run
    probe_http_status: int | None = None
    probe_bytes: int | None = None
    probe_duration_s: float | None = None
    probe_rms_dbfs: float | None = None
    probe_reason: str | None = None
    verdict: str = Verdict.UNKNOWN.value
    cause: str | None = None
    reason: str | None = None
    exception_owner: str | None = None
    exception_expires: str | None = None
    exception_status: str | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    change: str | None = None
    first_noncompliant: str | None = None
    usage_calls: int | None = None
    usage_chars: int | None = None
    usage_last_call: str | None = None
    evidence: str | None = None
    probed_at: str | None = None
    probe_reused: bool | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> VoiceRow:
        """A row from a mapping (a stored run.json row, a frame record): unknown keys are
        ignored, each value checked against its column's type (ValueError naming the column)."""
        values: dict[str, Any] = {}
        for name, kind in _TYPES.items():
            value = row.get(name)
            if value is None or value != value:  # NaN, as pandas gives a missing number
                continue
            values[name] = _typed(name, kind, value)
        if not isinstance(values.get("voice_id"), str):
            raise ValueError("a voice row has no voice_id")
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in VOICE_COLUMNS}

    def __getitem__(self, name: str) -> Any:
        if name not in _TYPES:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(VOICE_COLUMNS)

    def __len__(self) -> int:
        return len(VOICE_COLUMNS)

    @property
    def probe_result(self) -> ProbeResult:
        """The probe evidence this row stores, as a later run reuses it (audio stats are not kept)."""
        try:
            verdict = ProbeVerdict(self.probe_verdict)
        except ValueError:
            verdict = ProbeVerdict.NOT_PROBED
        return ProbeResult(verdict=verdict, reason=self.probe_reason or "", http_status=self.probe_http_status,
                           n_bytes=self.probe_bytes, probed_at=self.probed_at or None,
                           reused=bool(self.probe_reused), model=self.probe_model or None)


VOICE_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(VoiceRow))
_TYPES: dict[str, str] = {f.name: str(f.type) for f in dataclasses.fields(VoiceRow)}


def _typed(name: str, kind: str, value: Any) -> Any:
    if kind.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise ValueError(f"column {name} holds {type(value).__name__}, not a whole number")
        return int(value)
    if kind.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"column {name} holds {type(value).__name__}, not a number")
        return float(value)
    if kind.startswith("bool"):
        if not isinstance(value, bool):
            raise ValueError(f"column {name} holds {type(value).__name__}, not true/false")
        return value
    if not isinstance(value, str):
        raise ValueError(f"column {name} holds {type(value).__name__}, not text")
    return value


@dataclass(frozen=True, slots=True)
class PlanRef:
    """The plan a run worked on: its id and the folder it lives in."""

    plan_id: str
    folder: str


@dataclass(frozen=True)
class RunRecord:
    """One run, as run.json and history.sqlite keep it. Never holds the key."""

    kind: RunKind
    run_id: str
    started_at: datetime
    finished_at: datetime
    base_url: str
    exit_code: ExitCode
    account: str = ""  # the account's fingerprint, never the key
    version: str = __version__
    parameters: Mapping[str, Any] = field(default_factory=dict)
    voices: tuple[VoiceRow, ...] = ()
    usage: Mapping[str, Any] | None = None  # the usage window a scan read, and whether it was complete
    cost: Mapping[str, int] | None = None  # tts_characters, tts_probes, probes_reused
    concurrency: Mapping[str, Any] | None = None  # the account's limit as found
    exceptions: Mapping[str, Any] | None = None  # what the waivers file did
    plan: PlanRef | None = None  # the plan an apply, review, retire, cutover or usage run worked on
    #: What the run changed or found, by kind: before_after and mapping (a migration run),
    #: retire's deleted / for_dashboard / kept, cutover's and usage's sections.
    changes: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None  # set when the run failed: what stopped it
    #: The answered TTS calls the run made (its probes, apply's verifications), per voice, model,
    #: language and text length: what usage and retire leave out of the callers. None: not recorded.
    tts_calls: tuple[SentCalls, ...] | None = None
    folder: Path | None = None  # where its run.json was written (None: recorded in the history only)

    @property
    def run_json(self) -> Path | None:
        return None if self.folder is None else self.folder / RUN_JSON

    @property
    def failed(self) -> bool:
        return self.error is not None

    def with_voices(self, voices: Sequence[VoiceRow]) -> RunRecord:
        return dataclasses.replace(self, voices=tuple(voices))

    def at(self, folder: Path) -> RunRecord:
        """The record as written into `folder`."""
        return dataclasses.replace(self, folder=folder)
