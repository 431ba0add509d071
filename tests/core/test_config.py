"""Settings load from the example file, the environment and flags, in that precedence."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import get_type_hints

import pytest

from audit.core.apikey import api_key_from_env
from audit.core.config import RANGES, Bound, OneOf, Settings
from audit.core.errors import ConfigError
from audit.core.loading import load_settings
from audit.core.models import FailOn, ProbePolicy
from audit.core.secrets import Secret

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def test_the_example_config_loads_and_documents_exactly_the_defaults() -> None:
    assert load_settings(EXAMPLE, env={}) == Settings()


def test_precedence_is_flag_then_environment_then_file_then_default(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[api]\nbase_url = "https://file"\nconcurrency = 3\n[probe]\npolicy = "legacy"\n')
    env = {"SMALLEST_BASE_URL": "https://env"}
    assert load_settings(config, env=env).api.base_url == "https://env"
    assert load_settings(config, env={}).api.base_url == "https://file"
    flagged = load_settings(config, env=env, overrides={"api": {"base_url": "https://flag", "concurrency": None}})
    assert flagged.api.base_url == "https://flag"
    assert flagged.api.concurrency == 3  # a flag not given does not override
    assert flagged.probe.policy is ProbePolicy.LEGACY
    assert flagged.report.fail_on is FailOn.NON_COMPLIANT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[api]\nbase_urll = 'x'\n", "unknown key(s) base_urll"),
        ("[apii]\n", "unknown section [apii]"),
        ("[api]\nconcurrency = 'four'\n", "[api] concurrency = 'four' must be a int"),
        ("[api]\nconcurrency = 257\n", "[api] concurrency = 257 is out of range: it must be from 0 to 256"),
        ("[probe]\npolicy = 'some'\n", "not one of: all, legacy, none"),
        ("[probe]\nsample_rate = 22050\n", "must be 8000, 16000, 24000 or 44100"),
        ("[probe]\nmodel = 'lightning-v3.1'\n", "underscore form"),
        ("[api]\nbase_url = 'api.smallest.ai'\n", "must start with http"),
        ("[api]\nbase_url = 'http://'\n", "is not an http(s) URL with a host"),
        ("[api]\nbase_url = 'ftp://api.smallest.ai'\n", "is not an http(s) URL with a host"),
        ("[api]\nbase_url = 'http://127.0.0.1:99999'\n", "is not a valid URL: Port out of range"),
        ("[api]\nbase_url = 'https://api.smallest.ai/?x=1'\n", "must not have a query"),
        ("[api]\nbase_url = 'https://api.smallest .ai'\n", "holds a space"),
        ('[archive]\nfolder = "rec\\u0000ordings"\n', "[archive] folder holds a NUL character"),
        ("[api\n", "not valid TOML"),
    ],
)
def test_bad_config_is_an_error_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert expected in caught.value.message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("value", ["lightning-v3.1", "lightning-v3.1-pro"])
def test_plan_target_model_takes_either_pool(tmp_path: Path, value: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[plan]\ntarget_model = "{value}"\n')
    assert load_settings(config, env={}).plan.target_model == value
    assert Settings().plan.target_model == "lightning-v3.1"


@pytest.mark.parametrize("value", ["lightning_v3.1_pro", "lightning-large", ""])
def test_a_bad_plan_target_model_names_the_file_and_the_key(tmp_path: Path, value: str) -> None:
    config = tmp_path / "pools.toml"
    config.write_text(f'[plan]\ntarget_model = "{value}"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert "pools.toml" in caught.value.message and "[plan] target_model" in caught.value.message
    assert "lightning-v3.1-pro" in caught.value.message and caught.value.exit_code == 2


def test_a_key_in_the_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[api]\napi_key = "sk_abcdef"\n')
    with pytest.raises(ConfigError, match="does not belong in a config file") as caught:
        load_settings(config, env={})
    assert "SMALLEST_API_KEY" in caught.value.hint
    assert "sk_abcdef" not in caught.value.message + caught.value.hint


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml does not exist"):
        load_settings(tmp_path / "nope.toml", env={})


def test_the_key_comes_from_the_environment_and_never_shows_itself() -> None:
    key = api_key_from_env({"SMALLEST_API_KEY": " sk_live_secret123 "})
    assert key.reveal() == "sk_live_secret123"
    assert "sk_live" not in repr(key) + str(key) + f"{key}" + repr([key])
    with pytest.raises(ConfigError, match="SMALLEST_API_KEY is not set"):
        api_key_from_env({})
    assert Secret("x")


@pytest.mark.parametrize("value", ["sk_secret\nmore", "sk_secret more", "sk_…"])
def test_a_key_no_api_could_have_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(ConfigError, match="characters no key has") as caught:
        api_key_from_env({"SMALLEST_API_KEY": value})
    assert "secret" not in caught.value.message + caught.value.hint


@pytest.mark.parametrize("url", ["http://api.smallest.ai", "http://10.0.0.5:8080", "http://[2001:db8::1]/",
                                 "http://localhost.evil.example", "http://127.0.0.1.nip.io"])
def test_plain_http_off_this_machine_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={}, overrides={"api": {"base_url": url}})
    assert "unencrypted" in caught.value.message and caught.value.exit_code == 2
    assert "--allow-insecure-http" in caught.value.hint
    allowed = load_settings(None, env={}, overrides={"api": {"base_url": url, "allow_insecure_http": True}})
    assert allowed.api.base_url == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.8.9.10", "http://[::1]:9000",
                                 "http://localhost:1234", "http://LOCALHOST", "https://api.smallest.ai"])
def test_loopback_and_https_need_no_permission(url: str) -> None:
    assert load_settings(None, env={}, overrides={"api": {"base_url": url}}).api.base_url == url


def test_byte_caps_must_be_positive(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[api]\nmax_audio_bytes = 0\n")
    with pytest.raises(ConfigError, match=r"\[api\] max_audio_bytes = 0 is out of range"):
        load_settings(config, env={})


# -- ranges ----------------------------------------------------------------------------


def load_text(tmp_path: Path, text: str) -> Settings:
    config = tmp_path / "c.toml"
    config.write_text(text, encoding="utf-8")
    return load_settings(config, env={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[api]\nmax_concurrency = 0\n", "[api] max_concurrency = 0 is out of range: it must be from 1 to 256."),
        ("[api]\nconcurrency = -3\n", "[api] concurrency = -3 is out of range"),
        ("[plan]\nexpiry_hours = nan\n", "[plan] expiry_hours = nan is out of range: it must be more than 0"),
        ("[plan]\nexpiry_hours = 0\n", "[plan] expiry_hours = 0.0 is out of range"),  # born expired
        ("[apply]\npoll_interval_s = -1\n", "[apply] poll_interval_s = -1.0 is out of range"),
        ("[apply]\npoll_interval_s = 0\n", "[apply] poll_interval_s = 0.0 is out of range"),  # a busy loop
        ("[api]\ntimeout_s = inf\n", "[api] timeout_s = inf is out of range: it must be more than 0 and at most 3600."),
        ("[api]\nmax_attempts = 0\n", "[api] max_attempts = 0 is out of range: it must be from 1 to 100."),
        ("[plan]\nclone_quota = -1\n", "[plan] clone_quota = -1 is out of range"),
        ("[apply]\nsettle_s = -inf\n", "[apply] settle_s = -inf is out of range"),
        ("[api]\nbackoff_initial_s = 5\nbackoff_max_s = 1\n", "[api] backoff_max_s = 1.0 must be at least"),
        ("[apply]\npoll_interval_s = 60\npoll_timeout_s = 10\n", "[apply] poll_timeout_s = 10.0 must be at least"),
    ],
)
def test_hand_picked_values_out_of_range_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    assert expected in caught.value.message and caught.value.exit_code == 2


def _numeric_fields() -> list[tuple[str, str, type]]:
    """(section, key, int or float) of every numeric field of the settings dataclasses."""
    found = []
    for section in dataclasses.fields(Settings):
        hints = get_type_hints(type(getattr(Settings(), section.name)))
        found += [(section.name, key, kind) for key, kind in hints.items() if kind in (int, float)]
    return found


def test_every_numeric_key_has_a_range_that_allows_its_default() -> None:
    numeric = _numeric_fields()
    assert {(s, k) for s, k, _ in numeric} == {(s, k) for s, keys in RANGES.items() for k in keys}
    defaults = Settings()
    for section, key, _ in numeric:
        assert RANGES[section][key].allows(getattr(getattr(defaults, section), key)), (section, key)


def _edges(rule: Bound | OneOf, kind: type) -> tuple[list[float], list[float]]:
    """Values just inside and just outside a rule (integers for int keys)."""
    if isinstance(rule, OneOf):
        return list(rule.values), [min(rule.values) - 1, max(rule.values) + 1, 22050]
    step = 1 if kind is int else 1e-6
    inside = [rule.low + step if rule.above else rule.low, rule.high]
    outside = [rule.low if rule.above else rule.low - step, rule.high + step]
    if kind is float:
        outside += [math.inf, -math.inf, math.nan]
    return inside, outside


@pytest.mark.parametrize(("section", "key", "kind"), _numeric_fields(), ids=lambda v: getattr(v, "__name__", v))
def test_each_key_accepts_its_range_and_refuses_just_outside(tmp_path: Path, section: str, key: str,
                                                             kind: type) -> None:
    inside, outside = _edges(RANGES[section][key], kind)
    others = {"backoff_max_s": "backoff_initial_s = 0\n", "backoff_initial_s": "backoff_max_s = 3600\n",
              "poll_interval_s": "poll_timeout_s = 604800\n", "poll_timeout_s": "poll_interval_s = 1e-6\n"}
    extra = others.get(key, "")
    for value in inside:
        loaded = load_text(tmp_path, f"[{section}]\n{extra}{key} = {_toml(value)}\n")
        assert getattr(getattr(loaded, section), key) == value
    for value in outside:
        with pytest.raises(ConfigError, match=rf"\[{section}\] {key} = .* is out of range: it must be"):
            load_text(tmp_path, f"[{section}]\n{extra}{key} = {_toml(value)}\n")


def _toml(value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return repr(value)


def test_a_flag_out_of_range_is_refused_like_the_file() -> None:
    with pytest.raises(ConfigError, match=r"\[api\] concurrency = -1 is out of range"):
        load_settings(None, env={}, overrides={"api": {"concurrency": -1}})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("api.smallest.ai", "SMALLEST_BASE_URL = 'api.smallest.ai' is not an http(s) URL with a host"),
        ("https://", "is not an http(s) URL with a host"),
        ("http://:8080", "is not an http(s) URL with a host"),
        ("http://127.0.0.1:port", "is not a valid URL"),
        ("https://user:hunter2@api.smallest.ai", "SMALLEST_BASE_URL holds a user name or password"),
        ("https://api.smallest.ai\n", "holds a space or a control character"),
    ],
)
def test_the_base_url_from_the_environment_is_checked_and_named(url: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={"SMALLEST_BASE_URL": url})
    assert expected in caught.value.message and caught.value.exit_code == 2
    assert "hunter2" not in caught.value.message + caught.value.hint


def test_good_base_urls_load() -> None:
    for url in ("https://api.smallest.ai", "http://127.0.0.1:8765", "https://proxy.example.com/smallest/"):
        assert load_settings(None, env={"SMALLEST_BASE_URL": url}).api.base_url == url
    flagged = load_settings(None, env={"SMALLEST_BASE_URL": "nope"}, overrides={"api": {"base_url": "https://x:1"}})
    assert flagged.api.base_url == "https://x:1"  # the flag wins, so the bad environment value is not used


def test_a_config_path_that_is_not_a_file_is_refused_without_reading(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "c.toml")
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_settings(tmp_path / "c.toml", env={})
