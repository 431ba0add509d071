"""Settings load from the example file, the environment and flags, in that precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.core.config import Secret, Settings, api_key_from_env, load_settings
from audit.core.errors import ConfigError
from audit.core.models import FailOn, ProbePolicy

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
        ("[api]\nconcurrency = 0\n", "must be greater than 0"),
        ("[probe]\npolicy = 'some'\n", "not one of: all, legacy, none"),
        ("[probe]\nsample_rate = 22050\n", "must be 8000, 16000, 24000 or 44100"),
        ("[probe]\nmodel = 'lightning-v3.1'\n", "underscore form"),
        ("[api]\nbase_url = 'api.smallest.ai'\n", "must start with http"),
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
    with pytest.raises(ConfigError, match=r"\[api\] max_audio_bytes = 0 must be greater than 0"):
        load_settings(config, env={})
