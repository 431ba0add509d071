"""What an answer means when it is not what was asked for, and whether to try again.

Owns the mapping of an `Answer` to the `audit.core.errors` exceptions (`error_for`: 401/403
→ AuthError, a 403 with a hint naming both its documented causes (a key without permission, a
usage limit reached), 429 → RateLimited with the server's wait, 410 → Gone, 5xx → ServerError, or
CreateOutcomeUnknown for a create unless the API says `voice_clone_error`, anything else →
RequestRejected), the error's text from any of the API's error shapes (`error_text`,
scrubbed of secrets, never empty when the body says anything), whether a refused create means
the clone quota, by meaning rather than one wording (`means_clone_quota`), the server's wait
(`retry_after`), a body that must be a JSON object (`json_object`), a short printable description of a body (`describe_body`), and `Backoff`,
the retry rule stamina asks after each failed attempt:

- idempotent calls (list, tts, delete, health) retry on 429, 5xx and transport errors, with
  exponential backoff and jitter, never sooner than `retry-after-ms` / `Retry-After` says;
- a create is retried only when it certainly did not happen (429, or a connection that was
  never made). A timeout, a dropped connection or a 5xx other than `voice_clone_error`
  raises `CreateOutcomeUnknown`: the clone may exist, and only the caller can look for it;
- fail fast where waiting cannot help: a connection refused before the API ever answered
  (a wrong base URL, no network) gets one more try, not a minute of them.

Pure: no I/O.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from audit.api.body import Answer
from audit.core import secrets
from audit.core.config import ApiSettings
from audit.core.errors import (
    ApiError,
    ApiWentAway,
    AuthError,
    BadAnswer,
    CreateOutcomeUnknown,
    Gone,
    RateLimited,
    RequestRejected,
    RunError,
    ServerError,
    TransportError,
)

log = logging.getLogger(__name__)


class Backoff:
    """stamina's retry hook for one call: whether an error is worth another attempt, and
    how long to wait first: exponential from backoff_initial_s up to backoff_max_s plus
    jitter, and never less than the server's Retry-After (capped at backoff_max_s)."""

    def __init__(self, settings: ApiSettings, *, create: bool, answered: Callable[[], bool] = lambda: True,
                 label: str = "", on_retry: Callable[[str, int, int], None] | None = None,
                 until_verdict: Callable[[], float | None] = lambda: None) -> None:
        self._settings = settings
        self._create = create
        self._answered = answered
        self._label = label
        self._on_retry = on_retry  # told (why, retry, of) as each retry is scheduled: a progress note
        self._until_verdict = until_verdict  # seconds until the breaker decides the API went away
        self.retries = 0

    def __call__(self, exc: Exception) -> bool | float:
        if not self._retryable(exc):
            return False
        s = self._settings
        wait = min(s.backoff_max_s, s.backoff_initial_s * 2**self.retries)
        self.retries += 1
        wait += random.uniform(0, s.backoff_initial_s)
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            wait = max(wait, min(exc.retry_after, s.backoff_max_s))
        elif isinstance(exc, TransportError) and not exc.request_sent and (left := self._until_verdict()) is not None:
            wait = min(wait, left + 0.1)  # try again as the breaker's window closes: stop on time
        why = exc.message if isinstance(exc, RunError) else type(exc).__name__
        log.info("%s: retry %d/%d in %.1f s: %s", self._label, self.retries, s.max_attempts - 1, wait, why)
        if self._on_retry is not None:
            self._on_retry(short_cause(exc), self.retries, s.max_attempts - 1)
        return wait

    def _retryable(self, exc: Exception) -> bool:
        if isinstance(exc, ApiWentAway):  # the breaker opened: the run stops
            return False
        if isinstance(exc, RateLimited):  # refused before any work: safe for every call
            return True
        if isinstance(exc, TransportError) and not exc.request_sent and not self._answered():
            return self.retries < 1  # nothing ever answered at this address: one more try, not a minute
        if self._create:  # only when the create certainly did not happen
            return isinstance(exc, TransportError) and not exc.request_sent
        return isinstance(exc, ServerError | TransportError)


def short_cause(exc: Exception) -> str:
    """A few words for why a call failed, for a progress bar: "connection refused", "HTTP 503"."""
    if isinstance(exc, RateLimited):
        return "HTTP 429 (over the account's limit)"
    if isinstance(exc, ApiError):
        return f"HTTP {exc.status}"
    if isinstance(exc, TransportError):
        if not exc.request_sent:
            return "connection refused"
        return "no answer in time" if "no answer within" in exc.message or "Timeout" in exc.message \
            else "connection dropped"
    return type(exc).__name__


def json_object(answer: Answer, hint: str | None = None) -> Mapping[str, Any]:
    """The answer's body as a JSON object; BadAnswer when it is not JSON, or not an object."""
    try:
        body = json.loads(answer.body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise BadAnswer(
            f"{answer.where} with a body that is not JSON ({describe_body(answer.headers.get('content-type'), answer.body)})",
            status=answer.status, hint=hint,
        ) from None
    if not isinstance(body, Mapping):
        raise BadAnswer(f"{answer.where} with JSON that is not an object", status=answer.status, hint=hint)
    return body


def describe_body(content_type: str | None, body: bytes, n: int = 32) -> str:
    """What came back, printable and short: its type, its size, and its first bytes (scrubbed
    of secrets before they are cut: an echoed key must not survive as its first characters)."""
    text = body.decode("latin-1")  # one character per byte, so the escapes below name bytes
    head = "".join(c if 32 <= ord(c) < 127 else f"\\x{ord(c):02x}" for c in secrets.cut(text, n))
    more = "..." if len(secrets.scrub(text)) > n else ""
    kind = (content_type or "no Content-Type")[:60].encode("ascii", "replace").decode()
    return f"{kind}, {len(body):,} bytes, starting '{head}{more}'" if body else f"{kind}, empty"


def error_for(answer: Answer, *, is_create: bool) -> ApiError:
    """The exception an answer that is not 2xx stands for."""
    status = answer.status
    text, code = error_text(answer)
    message = f"{answer.where}: {text}" if text else answer.where
    if status == 403:  # documented: a key without permission here, or a usage limit reached
        return AuthError(message, status=status, hint=FORBIDDEN_HINT)
    if status == 401:
        return AuthError(message, status=status)
    if status == 429:
        return RateLimited(message, retry_after=retry_after(answer.headers))
    if status == 410:
        return Gone(message, status=status, error_code=code)
    if status >= 500:
        if is_create and code != "voice_clone_error":
            return CreateOutcomeUnknown(message, status=status, error_code=code)
        hint = "Try a cleaner, single-speaker sample." if code == "voice_clone_error" else None
        return ServerError(message, status=status, error_code=code, hint=hint)
    return RequestRejected(message, status=status, error_code=code)


#: What a 403 may mean (the vendor's error reference names both causes).
FORBIDDEN_HINT = (
    "A 403 means one of two things: the key lacks permission here (a key of another workspace, or of "
    "another product), or the trial or workspace usage limit is reached. Check SMALLEST_API_KEY, and the "
    "workspace's usage in the dashboard: upgrade the plan or contact support if the limit is reached."
)

#: Wordings of a clone-quota refusal, by meaning rather than one phrase: the vendor's ("clone
#: limit exceeded, consider upgrading") and the older ones ("Voice clone limit reached", "Clone
#: quota exceeded", "Maximum number of clones reached", "exceeded the number of voice clones
#: allowed"). A quota, or clones with a limit, maximum or allowance; matched on the text with
#: `_` and `-` read as spaces, so `CLONE_LIMIT_EXCEEDED` and `clone-limit-exceeded` read alike.
_QUOTA = re.compile(r"\bquota")
_CLONES = re.compile(r"\bclones?\b")
_LIMIT = re.compile(r"\blimit|\bmax(?:imum)?\b|too many|\ballow(?:ed|s)?\b|number of")
#: Limits that are not the clone quota: a field's or a file's size or length, the request rate,
#: the credits; such a refusal is that voice's own (recorded failed), never a stop of the run.
_NOT_QUOTA = re.compile(r"\bfile\b|\bsize\b|\bbytes?\b|\d\s*mi?b\b|duration|seconds|characters|length"
                        r"|\btags?\b|description|\bname\b|rate limit|concurren|too many requests|per request"
                        r"|credit")


def means_clone_quota(status: int, text: str, code: str | None = None) -> bool:
    """Whether a refused create says the account holds all the clones its plan allows: a 4xx whose
    code or text means the clone quota, in any wording the API has used, and not a limit of one
    request's own fields (tags, description, name, file size), the rate or the credits."""
    if not 400 <= status < 500 or status in (401, 404, 405, 410, 429):
        return False
    for said in (code or "", text):
        plain = said.lower().replace("_", " ").replace("-", " ")
        if _NOT_QUOTA.search(plain):
            continue
        if _QUOTA.search(plain) or (_CLONES.search(plain) and _LIMIT.search(plain)):
            return True
    return False


def error_text(answer: Answer) -> tuple[str, str | None]:
    """The error's text and code from any of the API's error shapes, scrubbed of secrets.

    Read: `error` as a string or a list of validation issues (`{"path", "message"}`, or plain
    strings), `errors` (`{"status": false, "errors": [...]}`), `message`, `details` / `detail`
    (a string, a list or an object). A JSON object none of these name text in is shown as it
    came (compact, cut), so a reason is never empty when the body says anything."""
    try:
        body = json.loads(answer.body)
    except (ValueError, RecursionError):
        return secrets.cut(answer.body.decode("utf-8", "replace").strip(), 200), None
    if not isinstance(body, Mapping):
        return secrets.cut(str(body), 200), None
    code = body.get("error_code") or body.get("error_type")  # Atoms names it `error_type`
    parts: list[str] = []
    for name in _TEXT_FIELDS:
        parts += _texts(body.get(name))
    parts = [p for p in parts if p]  # `{"error": ""}` says nothing: the body as it came does
    if not parts and body:
        parts.append(json.dumps(body, separators=(",", ":"), default=str))
    # Scrubbed whole, then cut: a key the server echoed must not survive as its first characters.
    return secrets.cut("; ".join(dict.fromkeys(p for p in parts if p)), 500), (
        secrets.scrub(code) if isinstance(code, str) else None)


#: The fields of an error body that carry its text, in the order they are shown.
_TEXT_FIELDS = ("error", "errors", "message", "details", "detail")


def _texts(value: Any, depth: int = 0) -> list[str]:
    """The readable texts in one error field: a string, a validation issue, or lists of them."""
    if isinstance(value, str):
        return [value.strip()]
    if isinstance(value, bool) or value is None or depth > 3:
        return []
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, list):
        return [t for item in value[:20] for t in _texts(item, depth + 1)]
    if isinstance(value, Mapping):
        path = value.get("path")
        field = ".".join(str(p) for p in path) if isinstance(path, list) else path if isinstance(path, str) else ""
        said = [t for key in ("message", "msg", "error", "detail", "reason") for t in _texts(value.get(key), depth + 1)]
        if not said:
            said = [json.dumps(value, separators=(",", ":"), default=str)]
        return [f"{field}: {t}" if field else t for t in said]
    return [str(value)]


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (seconds or an HTTP date)."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
