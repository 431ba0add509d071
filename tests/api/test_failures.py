"""What an answer means, and whether to try again, from plain `Answer` values (no HTTP)."""

from __future__ import annotations

import email.utils
import json
import time

import httpx
import pytest

from audit.api.body import Answer
from audit.api.failures import (
    Backoff,
    describe_body,
    error_for,
    error_text,
    json_object,
    means_clone_quota,
    retry_after,
)
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


def test_a_403_hint_names_both_documented_causes() -> None:
    """A 403 is a key without permission here, or a trial or workspace usage limit reached."""
    error = error_for(_answer(403, {"error": "Trial or workspace usage limit reached"}), is_create=False)
    assert isinstance(error, AuthError) and error.exit_code == 3
    assert "usage limit" in error.hint and "permission" in error.hint and "SMALLEST_API_KEY" in error.hint
    assert "usage limit reached" in error.message


@pytest.mark.parametrize(("body", "said"), [
    ({"status": False, "errors": ["Voice not found"]}, ["Voice not found"]),
    ({"status": False, "errors": [{"field": "voiceId", "message": "is required"}]}, ["is required"]),
    ({"error": "Bad request", "details": "displayName must not be empty"}, ["Bad request", "displayName must not"]),
    ({"error": "Bad request", "details": {"path": ["file"], "message": "too large"}}, ["file: too large"]),
    ({"error": "Bad request", "details": [{"message": "bad language"}]}, ["bad language"]),
    ({"message": "Forbidden"}, ["Forbidden"]),
    ({"error": "Unauthorized", "message": "Bearer token is missing or invalid."}, ["Unauthorized", "Bearer token"]),
    ({"error": [{"code": "invalid_enum_value", "path": ["model"], "message": "Invalid enum value"}]},
     ["model: Invalid enum value"]),
    ({"error": ["text is required"]}, ["text is required"]),
    ({"status": "error", "error_code": "MODEL_DEPRECATED", "message": "This model is retired."}, ["retired"]),
    ({"detail": "Not Found"}, ["Not Found"]),
    ({"status": False, "code": 17}, ['"code":17']),
])
def test_every_documented_error_shape_yields_a_reason(body: object, said: list[str]) -> None:
    error = error_for(_answer(400, body), is_create=False)
    text, _ = error_text(_answer(400, body))
    assert text and all(s in text for s in said) and all(s in error.message for s in said)


@pytest.mark.parametrize("text", [
    "clone limit exceeded, consider upgrading",  # the vendor's documented wording
    "Voice clone limit reached: your plan allows 30 voice clones",
    "Clone quota exceeded for this plan (30 voices)",
    "You have exceeded the number of voice clones allowed",
    "CLONE_LIMIT_EXCEEDED",
    "You have reached your voice clone limit",
    "Maximum number of clones reached. Upgrade your plan.",
])
def test_every_wording_of_the_clone_quota_means_the_quota(text: str) -> None:
    answer = _answer(400, {"error": text})
    error = error_for(answer, is_create=True)
    assert means_clone_quota(error.status, error.message, getattr(error, "error_code", None))
    assert means_clone_quota(422, text) and means_clone_quota(400, "refused", "clone_limit_exceeded")
    assert means_clone_quota(400, "refused", "clone-limit-exceeded") and means_clone_quota(400, "", "QUOTA_EXCEEDED")


@pytest.mark.parametrize(("status", "text"), [
    (400, "No file provided"),
    (400, "File size exceeds the maximum allowed size of 5MB"),
    (400, "File size limit exceeded"),
    (400, "Invalid language. Supported: en, hi"),
    (400, "Voice cloning for lightning-v2 is deprecated. Please use lightning-v3.1"),
    (429, "Too many concurrent requests. Please retry after some time."),
    (500, "clone limit exceeded, consider upgrading"),
    # limits of one request's own fields, the rate or the credits: that voice's refusal, not a stop
    (400, "Tag limit exceeded: at most 10 tags"),
    (400, "Description limit exceeded"),
    (400, "display name length limit exceeded"),
    (403, "Credit limit reached"),
    (400, "Voice limit per request exceeded"),
    (400, "language not supported on your plan, consider upgrading"),
    (400, "limit reached"),
])
def test_other_refusals_are_not_the_quota(status: int, text: str) -> None:
    assert not means_clone_quota(status, text)
    assert not means_clone_quota(400, "refused", "rate_limit_exceeded")
    assert not means_clone_quota(400, "refused", "size_limit_exceeded")


@pytest.mark.parametrize("body", [{"error": ""}, {"error": "   ", "code": 7}, {"message": "", "errors": []}])
def test_an_error_field_that_says_nothing_still_gives_a_reason(body: dict[str, object]) -> None:
    text, _ = error_text(_answer(400, body))
    assert text.strip()
