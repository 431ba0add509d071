"""What an answer means, and whether to try again, from plain `Answer` values (no HTTP)."""

from __future__ import annotations

import email.utils
import json
import time

import httpx
import pytest

from audit.api.body import Answer
from audit.api.failures import Backoff, describe_body, error_for, error_text, json_object, retry_after
from audit.core.config import ApiSettings
from audit.core.errors import (
    AuthError,
    BadAnswer,
    CreateOutcomeUnknown,
    Gone,
    RateLimited,
    RequestRejected,
    ServerError,
    TransportError,
)
from audit.core.secrets import Secret

KEY = "sk_test_failures_0123456789"
SETTINGS = ApiSettings(base_url="https://api.test", backoff_initial_s=0.5, backoff_max_s=30.0)


def _answer(status: int, body: object = b"", **headers: str) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer("POST", "/waves/v1/voice-cloning", status, httpx.Headers(headers), raw)


@pytest.mark.parametrize(("status", "body", "create", "kind"), [
    (401, {"error": "bad key"}, False, AuthError),
    (403, {"error": "forbidden"}, True, AuthError),
    (429, {"error": "slow down"}, True, RateLimited),
    (410, {"error": "gone"}, False, Gone),
    (404, {"error": "no route"}, False, RequestRejected),
    (400, {"error": [{"path": ["file"], "message": "Required"}]}, True, RequestRejected),
    (500, {"error": "boom"}, False, ServerError),
    (502, b"<html>bad gateway</html>", True, CreateOutcomeUnknown),
    (500, {"error": "could not clone", "error_code": "voice_clone_error"}, True, ServerError),
])
def test_each_status_becomes_its_exception(status: int, body: object, create: bool, kind: type) -> None:
    error = error_for(_answer(status, body), is_create=create)
    assert type(error) is kind and error.message.startswith(f"POST /waves/v1/voice-cloning answered {status}")


def test_a_create_the_api_could_not_clone_says_what_to_try() -> None:
    error = error_for(_answer(500, {"error": "x", "error_code": "voice_clone_error"}), is_create=True)
    assert isinstance(error, ServerError) and error.hint and "single-speaker" in error.hint


def test_a_429_carries_the_servers_wait() -> None:
    error = error_for(_answer(429, {"error": "slow"}, **{"retry-after-ms": "1500"}), is_create=False)
    assert isinstance(error, RateLimited) and error.retry_after == 1.5


@pytest.mark.parametrize(("body", "text", "code"), [
    ({"error": "Too many", "error_code": "rate_limited"}, "Too many", "rate_limited"),
    ({"error": "validation", "message": "displayName is empty"}, "validation; displayName is empty", None),
    ({"error": [{"path": ["data", "file"], "message": "Required"}, {"message": "bad"}]}, "data.file: Required; bad",
     None),
    (b"  plain text failure \n", "plain text failure", None),
    ([1, 2], "[1, 2]", None),
    ({}, "", None),
])
def test_error_text_reads_every_shape_the_api_answers_with(body: object, text: str, code: str | None) -> None:
    assert error_text(_answer(400, body)) == (text, code)


def test_an_echoed_key_never_survives_into_the_error_text() -> None:
    Secret(KEY)  # registered as a secret, as the CLI's key is
    text, _ = error_text(_answer(401, {"error": f"invalid key Bearer {KEY}"}))
    assert KEY not in text and KEY[:10] not in text and "****" in text


@pytest.mark.parametrize(("headers", "wait"), [
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
    ({"retry-after": "2.5"}, 2.5),
    ({"retry-after": "-3"}, 0.0),
    ({"retry-after": "tomorrow, perhaps"}, None),
    ({}, None),
])
def test_retry_after_reads_milliseconds_then_seconds(headers: dict[str, str], wait: float | None) -> None:
    assert retry_after(httpx.Headers(headers)) == wait


def test_retry_after_reads_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after(httpx.Headers({"Retry-After": when})) or 0) <= 30
    assert retry_after(httpx.Headers({"Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT"})) == 0.0


def test_a_body_that_is_not_a_json_object_is_a_bad_answer_that_shows_its_start() -> None:
    assert json_object(_answer(200, {"data": []})) == {"data": []}
    shown = r"not JSON \(text/html, 18 bytes, starting '<html>\\x00oops</html>'\)"
    with pytest.raises(BadAnswer, match=shown) as caught:
        json_object(Answer("GET", "/x", 200, httpx.Headers({"content-type": "text/html"}), b"<html>\x00oops</html>"),
                    hint="run it again")
    assert caught.value.hint == "run it again"
    with pytest.raises(BadAnswer, match="JSON that is not an object"):
        json_object(_answer(200, [1, 2]))
    with pytest.raises(BadAnswer, match="not JSON"):
        json_object(_answer(200, b"[" * 3_000))  # nesting too deep to parse


def test_describe_body_is_short_and_printable() -> None:
    assert describe_body(None, b"") == "no Content-Type, empty"
    described = describe_body("audio/wav", b"RIFF" + bytes(100))
    assert described.startswith("audio/wav, 104 bytes, starting 'RIFF\\x00") and described.endswith("...'")


def test_a_create_is_retried_only_when_it_certainly_did_not_happen() -> None:
    create = Backoff(SETTINGS, create=True)
    assert create(RateLimited("slow", retry_after=None)) is not False
    assert create(TransportError("refused", request_sent=False)) is not False
    assert create(TransportError("dropped")) is False
    assert create(ServerError("boom", status=500)) is False
    assert create(CreateOutcomeUnknown("timeout", status=0)) is False


def test_idempotent_calls_retry_server_and_transport_errors_but_not_rejections() -> None:
    hook = Backoff(SETTINGS, create=False)
    assert hook(ServerError("boom", status=503)) is not False and hook(TransportError("reset")) is not False
    assert hook(RequestRejected("no", status=400)) is False and hook(AuthError("key", status=401)) is False


def test_an_address_that_never_answered_gets_one_more_try_not_a_minute() -> None:
    hook = Backoff(SETTINGS, create=False, answered=lambda: False)
    refused = TransportError("refused", request_sent=False)
    assert hook(refused) is not False and hook(refused) is False
    answered = Backoff(SETTINGS, create=False, answered=lambda: True)
    assert all(answered(refused) is not False for _ in range(5))
