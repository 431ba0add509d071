"""Settings: the frozen dataclasses every stage reads, and the values each key may take.

One dataclass per section of the config file ([api], [probe], [report], [archive], [plan],
[apply]) with its defaults, gathered in `Settings`. Every numeric key has its allowed
values in one table, RANGES, next to the dataclasses: finite (no `inf` or `nan`, which TOML
allows), no zero or negative interval, timeout or concurrency, no plan born expired. How
settings are built from the file, the environment and flags, and checked against RANGES,
is `audit.core.loading`'s; the API key is never a setting (`audit.core.apikey`).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.core.models import FailOn, ProbePolicy

DEFAULT_BASE_URL = "https://api.smallest.ai"


@dataclass(frozen=True)
class ApiSettings:
    base_url: str = DEFAULT_BASE_URL
    concurrency: int = 0  # requests in flight at most; 0: discover the account's limit while working
    max_concurrency: int = 64  # the most discovery tries, when concurrency is 0
    timeout_s: float = 60.0
    create_timeout_s: float = 300.0  # a create uploads, preprocesses and renders samples
    max_attempts: int = 8  # per call, counting the first (0.5 s doubling to 30 s: about a minute)
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    # Stop the run when no call could even connect for this long (the API went away mid-run).
    unreachable_s: float = 10.0
    # Byte caps on decoded answers (after gzip): a bigger answer is an error, never retried.
    max_list_bytes: int = 32 * 1024 * 1024  # 10,000 clones list in ~3 MB; room for 3 KB each
    max_audio_bytes: int = 8 * 1024 * 1024  # a probe answer is tens to hundreds of KB (~95 s at 44.1 kHz)
    allow_insecure_http: bool = False  # send the key over plain http:// to a non-loopback host


@dataclass(frozen=True)
class ProbeSettings:
    policy: ProbePolicy = ProbePolicy.ALL
    model: str = "lightning_v3.1"  # TTS takes the underscore form
    sample_rate: int = 24000
    texts: Mapping[str, str] = field(default_factory=dict)  # language → sentence overrides
    reuse: str = ""  # keep a probe younger than this ("7d", "12h") when the voice is unchanged; "": off


@dataclass(frozen=True)
class ReportSettings:
    out_dir: str = "reports"
    fail_on: FailOn = FailOn.NON_COMPLIANT
    exceptions: str = ""  # exceptions file (CSV or TOML) of waived voices; empty: none
    csv_bom: bool = False  # start clones.csv with a UTF-8 BOM so Excel shows non-Latin names
    usage_days: int = 0  # scan: calls per voice over the last N days, from the TTS analytics log; 0: off
    usage_max_pages: int = 500  # at most this many pages (100 calls each) of the log per scan


@dataclass(frozen=True)
class ArchiveSettings:
    folder: str = ""  # where the original recordings live; empty: no archive configured
    manifest: str = ""  # optional CSV voice_id,path[,language,display_name]; relative to folder


@dataclass(frozen=True)
class PlanSettings:
    expiry_hours: float = 24.0  # apply refuses an older plan
    clone_quota: int = 0  # the plan's clone limit, when known; 0: unknown
    create_estimate_s: float = 30.0  # one create + completion + verification, for the forecast
    target_model: str = "lightning-v3.1"  # the pool re-clones go to: lightning-v3.1 or lightning-v3.1-pro


@dataclass(frozen=True)
class ApplySettings:
    poll_interval_s: float = 2.0  # between list calls while a new clone is pending
    poll_timeout_s: float = 600.0  # a new clone not completed by then is recorded as failed
    settle_s: float = 30.0  # wait before re-creating after a create whose outcome is unknown
    # Voices in progress at most, those waiting for their new clone to finish processing included
    # (they hold no request: the account's concurrency bounds only the creates and probes in flight).
    max_in_progress: int = 16


@dataclass(frozen=True)
class Settings:
    api: ApiSettings = field(default_factory=ApiSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    plan: PlanSettings = field(default_factory=PlanSettings)
    apply: ApplySettings = field(default_factory=ApplySettings)


@dataclass(frozen=True)
class Bound:
    """The values a numeric key may take: finite, from `low` (excluded when `above`) to `high`."""

    low: float
    high: float
    above: bool = False  # `low` itself is not allowed: a zero interval or timeout means nothing

    def allows(self, value: float) -> bool:
        low_ok = value > self.low if self.above else value >= self.low
        return math.isfinite(value) and low_ok and value <= self.high

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        return f"more than {low} and at most {high}" if self.above else f"from {low} to {high}"


@dataclass(frozen=True)
class OneOf:
    """The values a numeric key may take: one of a list."""

    values: tuple[int, ...]

    def allows(self, value: float) -> bool:
        return value in self.values

    def __str__(self) -> str:
        *first, last = (str(v) for v in self.values)
        return f"{', '.join(first)} or {last}" if first else last


HOUR, DAY = 3600.0, 86400.0

#: Allowed values of every numeric key, by section. A test checks that every int or float
#: field of the dataclasses above is here and that its default is allowed.
RANGES: dict[str, dict[str, Bound | OneOf]] = {
    "api": {
        "concurrency": Bound(0, 256),  # 0: discover
        "max_concurrency": Bound(1, 256),
        "timeout_s": Bound(0, HOUR, above=True),
        "create_timeout_s": Bound(0, DAY, above=True),
        "unreachable_s": Bound(0, HOUR, above=True),
        "max_attempts": Bound(1, 100),
        "backoff_initial_s": Bound(0, HOUR),
        "backoff_max_s": Bound(0, HOUR),
        "max_list_bytes": Bound(1, 1 << 34),  # at most 16 GiB: a cap, not a target
        "max_audio_bytes": Bound(1, 1 << 31),
    },
    "probe": {
        "sample_rate": OneOf((8000, 16000, 24000, 44100)),
    },
    "report": {
        "usage_days": Bound(0, 366),  # 0: off
        "usage_max_pages": Bound(1, 1_000_000),
    },
    "plan": {
        "expiry_hours": Bound(0, 24 * 365, above=True),
        "clone_quota": Bound(0, 1_000_000),  # 0: unknown
        "create_estimate_s": Bound(0, DAY, above=True),
    },
    "apply": {
        "poll_interval_s": Bound(0, HOUR, above=True),
        "poll_timeout_s": Bound(0, 7 * DAY, above=True),
        "settle_s": Bound(0, DAY),
        "max_in_progress": Bound(1, 1024),
    },
}


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


SECTIONS: dict[str, type] = {
    "api": ApiSettings,
    "probe": ProbeSettings,
    "report": ReportSettings,
    "archive": ArchiveSettings,
    "plan": PlanSettings,
    "apply": ApplySettings,
}


def as_dict(settings: Settings) -> dict[str, Any]:
    """Plain-data view for run metadata (holds no secret: the key is never in Settings)."""

    def plain(value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, Mapping):
            return dict(value)
        return value

    return {
        section: {k: plain(v) for k, v in dataclasses.asdict(getattr(settings, section)).items()}
        for section in SECTIONS
    }
