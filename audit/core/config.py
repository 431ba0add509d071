"""Settings: TOML file + environment + command-line flags → frozen dataclasses.

Precedence is flag > environment > config file > default. Unknown keys and values of
the wrong type are errors naming the key, never silently ignored. Every numeric key has
its allowed values in one table, RANGES, next to the dataclasses: finite (no `inf` or
`nan`, which TOML allows), no zero or negative interval, timeout or concurrency, no plan
born expired; a value outside is a ConfigError naming the key, the value and the range.
The base URL (file, `SMALLEST_BASE_URL` or `--base-url`) must be an http(s) URL with a
host and no credentials. The API key is read only from the environment
(`SMALLEST_API_KEY`) and is held in a `Secret`, whose repr and str never show it; a
config file that holds a key is refused.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import ipaddress
import math
import os
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from audit.core.errors import ConfigError
from audit.core.models import FailOn, ProbePolicy
from audit.core.secrets import register

ENV_API_KEY = "SMALLEST_API_KEY"
ENV_BASE_URL = "SMALLEST_BASE_URL"
DEFAULT_BASE_URL = "https://api.smallest.ai"


class Secret:
    """A credential that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register(value)  # every writer scrubs registered values out of what it writes

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """16 hex digits of a domain-separated sha256 of the key: names the account in run
        history without storing the key (nothing can be recovered from it)."""
        return hashlib.sha256(b"clone-audit account\0" + self._value.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


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


_HOUR, _DAY = 3600.0, 86400.0

#: Allowed values of every numeric key, by section. A test checks that every int or float
#: field of the dataclasses above is here and that its default is allowed.
RANGES: dict[str, dict[str, Bound | OneOf]] = {
    "api": {
        "concurrency": Bound(0, 256),  # 0: discover
        "max_concurrency": Bound(1, 256),
        "timeout_s": Bound(0, _HOUR, above=True),
        "create_timeout_s": Bound(0, _DAY, above=True),
        "max_attempts": Bound(1, 100),
        "backoff_initial_s": Bound(0, _HOUR),
        "backoff_max_s": Bound(0, _HOUR),
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
        "create_estimate_s": Bound(0, _DAY, above=True),
    },
    "apply": {
        "poll_interval_s": Bound(0, _HOUR, above=True),
        "poll_timeout_s": Bound(0, 7 * _DAY, above=True),
        "settle_s": Bound(0, _DAY),
        "max_in_progress": Bound(1, 1024),
    },
}


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


_SECTIONS: dict[str, type] = {
    "api": ApiSettings,
    "probe": ProbeSettings,
    "report": ReportSettings,
    "archive": ArchiveSettings,
    "plan": PlanSettings,
    "apply": ApplySettings,
}


def load_settings(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build Settings from defaults, then the file, then the environment, then `overrides`.

    `overrides` holds the flags the user actually gave, as {"section": {"key": value}}.
    """
    env = os.environ if env is None else env
    tables: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    url_from = "[api] base_url"
    if path is not None:
        for section, table in _read_toml(path).items():
            tables[section].update(table)
    if env.get(ENV_BASE_URL):
        tables["api"]["base_url"], url_from = env[ENV_BASE_URL], ENV_BASE_URL
    for section, flags in (overrides or {}).items():
        given = {k: v for k, v in flags.items() if v is not None}
        tables[section].update(given)
        if section == "api" and "base_url" in given:
            url_from = "--base-url"
    built = {name: _build(cls, tables[name], name) for name, cls in _SECTIONS.items()}
    settings = Settings(**built)
    _check(settings, url_from)
    return settings


def api_key_from_env(env: Mapping[str, str] | None = None) -> Secret:
    env = os.environ if env is None else env
    value = env.get(ENV_API_KEY, "").strip()
    if not value:
        raise ConfigError(
            f"{ENV_API_KEY} is not set.",
            hint=f"export {ENV_API_KEY}=sk_… (the organisation's API key), "
            "or run `clone-audit demo` to try the tool on the built-in emulator.",
        )
    if not all("!" <= ch <= "~" for ch in value):
        raise ConfigError(
            f"{ENV_API_KEY} holds characters no key has (a space, a line break or non-ASCII).",
            hint="Copy the key again from the dashboard; it looks like sk_ followed by letters and digits.",
        )
    return Secret(value)


def _read_toml(path: Path) -> dict[str, dict[str, Any]]:
    if path.exists() and not path.is_file():  # a folder, or a FIFO that would block the read
        raise ConfigError(f"config file {path} is not a regular file.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for section, table in data.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"{path}: unknown section [{section}]; known: "
                + ", ".join(f"[{s}]" for s in _SECTIONS)
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: `{section}` must be a table like [{section}].")
        if "api_key" in table or "key" in table:
            raise ConfigError(
                f"{path}: an API key does not belong in a config file.",
                hint=f"Remove it from the file and set {ENV_API_KEY} in the environment.",
            )
    return data


def _build(cls: type, table: Mapping[str, Any], section: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"[{section}] has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}."
        )
    values = {key: _coerce(value, hints[key], f"[{section}] {key}") for key, value in table.items()}
    return replace(cls(), **values)


def _coerce(value: Any, kind: Any, where: str) -> Any:
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in kind)
            raise ConfigError(f"{where} = {value!r} is not one of: {allowed}.") from None
    if kind is bool or isinstance(value, bool):
        if kind is not bool or not isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r} must be a {getattr(kind, '__name__', kind)}.")
        return value
    if kind is float and isinstance(value, int | float):
        return float(value)
    if kind in (int, str):
        if not isinstance(value, kind):
            raise ConfigError(f"{where} = {value!r} must be a {kind.__name__}.")
        if isinstance(value, str) and "\0" in value:
            raise ConfigError(f"{where} holds a NUL character.")
        return value
    if getattr(kind, "__origin__", None) is Mapping or isinstance(kind, types.GenericAlias):
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(f"{where} must be a table of strings.")
        return dict(value)
    raise ConfigError(f"{where} = {value!r} has the wrong type.")


def _check(settings: Settings, url_from: str = "[api] base_url") -> None:
    _check_url(settings.api.base_url, url_from)
    for section, bounds in RANGES.items():
        values = getattr(settings, section)
        for key, allowed in bounds.items():
            value = getattr(values, key)
            if not allowed.allows(value):
                raise ConfigError(f"[{section}] {key} = {value!r} is out of range: it must be {allowed}.")
    api, probe, apply = settings.api, settings.probe, settings.apply
    check_key_transport(api)
    if api.backoff_max_s < api.backoff_initial_s:
        raise ConfigError(f"[api] backoff_max_s = {api.backoff_max_s!r} must be at least "
                          f"backoff_initial_s = {api.backoff_initial_s!r}.")
    if apply.poll_timeout_s < apply.poll_interval_s:
        raise ConfigError(f"[apply] poll_timeout_s = {apply.poll_timeout_s!r} must be at least "
                          f"poll_interval_s = {apply.poll_interval_s!r}.")
    if probe.reuse:
        parse_duration(probe.reuse, "[probe] reuse")
    if probe.model not in ("lightning_v3.1", "lightning_v3.1_pro"):
        raise ConfigError(
            f"[probe] model = {probe.model!r} must be lightning_v3.1 or lightning_v3.1_pro "
            "(TTS takes the underscore form)."
        )


_UNITS = {"s": 1.0, "m": 60.0, "h": _HOUR, "d": _DAY, "w": 7 * _DAY}


def parse_duration(text: str, where: str = "--reuse-probes") -> timedelta:
    """A duration such as `30m`, `12h`, `7d` or `2w` (a number, then s, m, h, d or w)."""
    value, unit = text.strip()[:-1], text.strip()[-1:].lower()
    try:
        amount = float(value)
    except ValueError:
        amount = math.nan
    if unit not in _UNITS or not math.isfinite(amount) or amount <= 0 or amount * _UNITS[unit] > 366 * _DAY:
        raise ConfigError(f"{where} = {text!r} is not a duration from 1s to 366d.",
                          hint="Write a number and a unit: 30m, 12h, 7d or 2w.")
    return timedelta(seconds=amount * _UNITS[unit])


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: traffic that never leaves the machine."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_key_transport(api: ApiSettings) -> None:
    """Refuse to send the key in clear text (plain http://) to a host off this machine."""
    parts = urlsplit(api.base_url)
    if parts.scheme != "http" or api.allow_insecure_http or is_loopback(parts.hostname or ""):
        return
    raise ConfigError(
        f"[api] base_url = {api.base_url!r} is plain http:// to a host that is not this machine: "
        "the API key would cross the network unencrypted.",
        hint="Use https://. If the link is protected some other way (a VPN, a tunnel), pass "
        "--allow-insecure-http or set [api] allow_insecure_http = true.",
    )


def _check_url(url: str, where: str) -> None:
    """An http(s) URL with a host, a valid port, no credentials, query or fragment."""
    hint = f"Use the API's address, like {DEFAULT_BASE_URL} (an emulator's: http://127.0.0.1:PORT)."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0–65535
    except ValueError as exc:
        raise ConfigError(f"{where} = {url!r} is not a valid URL: {exc}.", hint=hint) from None
    if parts.username is not None or parts.password is not None:  # never echo a password
        raise ConfigError(f"{where} holds a user name or password; the API key goes in "
                          f"{ENV_API_KEY}, never in the URL.", hint=hint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where} = {url!r} is not an http(s) URL with a host: it must start "
                          "with http:// or https:// and name a host.", hint=hint)
    if any(not c.isprintable() or c.isspace() for c in url):
        raise ConfigError(f"{where} = {url!r} holds a space or a control character.", hint=hint)
    if parts.query or parts.fragment:
        raise ConfigError(f"{where} = {url!r} must not have a query (?) or fragment (#).", hint=hint)


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
        for section in _SECTIONS
    }
