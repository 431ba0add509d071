"""Settings: TOML file + environment + command-line flags → the frozen dataclasses of `config`.

Precedence is flag > environment > config file > default. Unknown keys and values of
the wrong type are errors naming the key, never silently ignored. A value outside its
allowed values (`config.RANGES`) is a ConfigError naming the key, the value and the range.
The base URL (file, `SMALLEST_BASE_URL` or `--base-url`) must be an http(s) URL with a
host and no credentials. The API key is read only from the environment
(`audit.core.apikey`); a config file that holds a key is refused.

Which config file (`find_config`): the one `--config` names, else the one `CLONE_AUDIT_CONFIG`
names, else `$XDG_CONFIG_HOME/clone-audit/config.toml` (`~/.config/clone-audit/config.toml`
when XDG_CONFIG_HOME is unset) if it exists, else none. A file named by the flag or the
variable must exist; a missing default location is simply no file.
"""

from __future__ import annotations

import enum
import math
import os
import tomllib
import types
from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from audit.core.apikey import ENV_API_KEY, check_key_transport
from audit.core.config import DAY, DEFAULT_BASE_URL, HOUR, RANGES, SECTIONS, Settings
from audit.core.errors import ConfigError
from audit.core.pools import CLONE_MODELS

ENV_BASE_URL = "SMALLEST_BASE_URL"
ENV_CONFIG = "CLONE_AUDIT_CONFIG"
ENV_XDG_CONFIG_HOME = "XDG_CONFIG_HOME"


def default_config_path(env: Mapping[str, str] | None = None) -> Path | None:
    """$XDG_CONFIG_HOME/clone-audit/config.toml (a relative XDG_CONFIG_HOME is ignored, as the
    XDG spec says), else ~/.config/clone-audit/config.toml; None when there is no home."""
    env = os.environ if env is None else env
    base = env.get(ENV_XDG_CONFIG_HOME, "")
    if base and Path(base).is_absolute():
        root = Path(base)
    else:
        try:
            root = Path.home() / ".config"
        except RuntimeError:  # no HOME and no password entry
            return None
    return root / "clone-audit" / "config.toml"


def find_config(flag: Path | None, env: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """The config file to read and where its name came from (see the module docstring)."""
    env = os.environ if env is None else env
    named = env.get(ENV_CONFIG, "")
    default = default_config_path(env)
    if flag is not None:
        path, origin = flag, "--config"
        hint = "Check the path given to --config (config.example.toml shows every key)."
    elif named:
        path, origin = Path(named).expanduser(), ENV_CONFIG
        hint = f"Point {ENV_CONFIG} at an existing file, or unset it" + (
            f" to use {default} when it exists." if default else ".")
    elif default is not None and default.is_file():
        return default, "the default location"
    else:
        return None, f"no config file ({default or 'no home folder'} does not exist)"
    if not path.exists():
        raise ConfigError(f"config file {path} (named by {origin}) does not exist.", hint=hint)
    return path, origin


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
    tables: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
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
    built = {name: _build(cls, tables[name], name) for name, cls in SECTIONS.items()}
    settings = Settings(**built)
    _check(settings, url_from, path)
    return settings


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
        if section not in SECTIONS:
            raise ConfigError(
                f"{path}: unknown section [{section}]; known: "
                + ", ".join(f"[{s}]" for s in SECTIONS)
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


def _check(settings: Settings, url_from: str = "[api] base_url", path: Path | None = None) -> None:
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
    if settings.plan.target_model not in CLONE_MODELS:
        where = f"{path}: " if path is not None else ""
        raise ConfigError(
            f"{where}[plan] target_model = {settings.plan.target_model!r} must be "
            f"{' or '.join(CLONE_MODELS)} (the pool re-clones are made on; create takes the hyphen form)."
        )


_UNITS = {"s": 1.0, "m": 60.0, "h": HOUR, "d": DAY, "w": 7 * DAY}


def parse_duration(text: str, where: str = "--reuse-probes") -> timedelta:
    """A duration such as `30m`, `12h`, `7d` or `2w` (a number, then s, m, h, d or w)."""
    value, unit = text.strip()[:-1], text.strip()[-1:].lower()
    try:
        amount = float(value)
    except ValueError:
        amount = math.nan
    if unit not in _UNITS or not math.isfinite(amount) or amount <= 0 or amount * _UNITS[unit] > 366 * DAY:
        raise ConfigError(f"{where} = {text!r} is not a duration from 1s to 366d.",
                          hint="Write a number and a unit: 30m, 12h, 7d or 2w.")
    return timedelta(seconds=amount * _UNITS[unit])


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
