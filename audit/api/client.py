"""The Waves API client: the only module that speaks HTTP.

Owns typed methods for the endpoints clone-audit uses (list, create, tts, delete,
health), the account's concurrency limit (one semaphore for every authenticated call,
since the API does not say which calls count), timeouts, retries and the translation
of httpx and HTTP errors into `audit.errors`.

Retry rules:
- idempotent calls (list, tts, delete, health) retry on 429, 5xx and transport errors,
  with exponential backoff and jitter, honouring `retry-after-ms` / `Retry-After`;
- create is retried only when it certainly did not happen (429, or a connection that
  was never made). A timeout, a dropped connection or a 5xx other than
  `voice_clone_error` raises `CreateOutcomeUnknown`: the clone may exist, and only the
  caller can look for it before trying again.

The key is sent in the Authorization header and appears nowhere else: not in
exceptions, logs or reprs.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import stamina

from audit import __version__
from audit.core.config import ApiSettings, Secret
from audit.core.errors import (
    ApiError,
    AuthError,
    CreateOutcomeUnknown,
    Gone,
    RateLimited,
    RequestRejected,
    ServerError,
    TransportError,
)
from audit.core.models import Clone, CreatedClone

log = logging.getLogger(__name__)

LIST_PATH = "/waves/v1/voice-cloning"
CREATE_PATH = "/waves/v1/voice-cloning"
TTS_PATH = "/waves/v1/tts"
DELETE_PATH = "/waves/v1/lightning-large"
HEALTH_PATH = "/waves/v1/health"


@dataclass(frozen=True, slots=True)
class TtsAudio:
    content: bytes
    status: int
    content_type: str | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class UploadFile:
    name: str
    data: bytes
    mime: str


class WavesClient:
    """Async client for the Waves endpoints. Use as `async with WavesClient(...) as c:`."""

    def __init__(
        self,
        settings: ApiSettings,
        api_key: Secret,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._key = api_key
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._http = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"),
            timeout=httpx.Timeout(settings.timeout_s),
            headers={"User-Agent": f"clone-audit/{__version__}"},
            transport=transport,
            limits=httpx.Limits(max_connections=max(settings.concurrency, 1) + 2),
        )

    @property
    def account(self) -> str:
        """The account's fingerprint (a hash of the key, never the key) for run history."""
        return self._key.fingerprint()

    def __repr__(self) -> str:
        return f"WavesClient(base_url={self._settings.base_url!r})"

    async def __aenter__(self) -> WavesClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- endpoints ---------------------------------------------------------------------

    async def health(self) -> Mapping[str, Any]:
        response = await self._call("GET", HEALTH_PATH, auth=False)
        return _json(response)

    async def list_clones(self) -> list[Clone]:
        """Every clone of the organisation (one unpaginated answer)."""
        body = _json(await self._call("GET", LIST_PATH))
        items = body.get("data")
        if not isinstance(items, list):
            raise ApiError(
                "the clone list answer has no `data` array", status=200,
                hint="The API's answer changed shape; report it with the X-Request-Id.",
            )
        clones: list[Clone] = []
        for index, item in enumerate(items):
            try:
                clones.append(Clone.from_api(item if isinstance(item, Mapping) else {}))
            except ValueError as exc:
                log.warning("skipping clone list entry %d: %s", index, exc)
        return clones

    async def tts(
        self,
        voice_id: str,
        text: str,
        *,
        model: str,
        sample_rate: int,
        language: str | None = None,
        output_format: str = "wav",
    ) -> TtsAudio:
        payload: dict[str, Any] = {
            "text": text,
            "voice_id": voice_id,
            "model": model,
            "sample_rate": sample_rate,
            "output_format": output_format,
        }
        if language:
            payload["language"] = language
        response = await self._call(
            "POST", TTS_PATH, json=payload, headers={"Accept": "audio/wav"}
        )
        return TtsAudio(
            content=response.content,
            status=response.status_code,
            content_type=response.headers.get("content-type"),
            request_id=response.headers.get("x-request-id"),
        )

    async def create_clone(
        self,
        *,
        display_name: str,
        file: UploadFile,
        language: str | None = None,
        description: str | None = None,
        accent: str | None = None,
        tags: Sequence[str] = (),
        model: str = "lightning-v3.1",
    ) -> CreatedClone:
        form = {"displayName": display_name, "model": model}
        optional = {"language": language, "description": description, "accent": accent}
        form.update({k: v for k, v in optional.items() if v})
        if tags:
            form["tags"] = ",".join(tags)
        response = await self._call(
            "POST",
            CREATE_PATH,
            data=form,
            files={"file": (file.name, file.data, file.mime)},
            timeout=self._settings.create_timeout_s,
            create=True,
        )
        try:
            return CreatedClone.from_api(_json(response))
        except ValueError as exc:
            raise CreateOutcomeUnknown(
                f"create answered 200 without a usable body: {exc}", status=response.status_code
            ) from None

    async def delete_clone(self, voice_id: str) -> None:
        """Delete a clone. Raises Gone (410), or RequestRejected (404/405) where unsupported."""
        await self._call("DELETE", DELETE_PATH, json={"voiceId": voice_id})

    # -- machinery ---------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        create: bool = False,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        s = self._settings
        all_headers = dict(headers or {})
        if auth:
            all_headers["Authorization"] = f"Bearer {self._key.reveal()}"
        async for attempt in stamina.retry_context(on=Backoff(s, create=create), attempts=s.max_attempts, timeout=None):
            with attempt:
                return await self._send_once(
                    method, path, headers=all_headers, timeout=timeout, is_create=create, **kwargs
                )
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    async def _send_once(
        self, method: str, path: str, *, headers: Mapping[str, str], timeout: float | None,
        is_create: bool, **kwargs: Any,
    ) -> httpx.Response:
        limit = httpx.USE_CLIENT_DEFAULT if timeout is None else timeout
        async with self._limit:
            started = time.monotonic()
            try:
                response = await self._http.request(method, path, headers=headers, timeout=limit, **kwargs)
            except httpx.ConnectError as exc:
                raise TransportError(
                    f"{method} {path}: cannot connect to {self._settings.base_url}: {exc}",
                    request_sent=False,
                ) from None
            except httpx.TransportError as exc:  # timeouts, dropped connections, protocol errors
                kind = type(exc).__name__
                if is_create:
                    raise CreateOutcomeUnknown(
                        f"{method} {path}: {kind} after the upload started; the clone may exist",
                        status=0,
                    ) from None
                raise TransportError(f"{method} {path}: {kind}: {exc or 'no answer'}") from None
        log.debug(
            "%s %s -> %d in %.3fs", method, path, response.status_code, time.monotonic() - started
        )
        if response.is_success:
            return response
        raise _error_for(response, method, path, is_create=is_create)



class Backoff:
    """stamina's retry hook for one call: whether an error is worth another attempt, and
    how long to wait first: exponential from backoff_initial_s up to backoff_max_s plus
    jitter, and never less than the server's Retry-After (capped at backoff_max_s)."""

    def __init__(self, settings: ApiSettings, *, create: bool) -> None:
        self._settings = settings
        self._create = create
        self._retries = 0

    def __call__(self, exc: Exception) -> bool | float:
        if not self._retryable(exc):
            return False
        s = self._settings
        wait = min(s.backoff_max_s, s.backoff_initial_s * 2**self._retries)
        self._retries += 1
        wait += random.uniform(0, s.backoff_initial_s)
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            wait = max(wait, min(exc.retry_after, s.backoff_max_s))
        return wait

    def _retryable(self, exc: Exception) -> bool:
        if isinstance(exc, RateLimited):  # refused before any work: safe for every call
            return True
        if self._create:  # only when the create certainly did not happen
            return isinstance(exc, TransportError) and not exc.request_sent
        return isinstance(exc, ServerError | TransportError)


def _json(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ApiError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} with a body that is not JSON",
            status=response.status_code,
        ) from None
    if not isinstance(body, Mapping):
        raise ApiError("the answer is JSON but not an object", status=response.status_code)
    return body


def _error_for(response: httpx.Response, method: str, path: str, *, is_create: bool) -> ApiError:
    status = response.status_code
    text, code = _error_text(response)
    where = f"{method} {path} answered {status}"
    message = f"{where}: {text}" if text else where
    if status in (401, 403):
        return AuthError(message, status=status)
    if status == 429:
        return RateLimited(message, retry_after=_retry_after(response.headers))
    if status == 410:
        return Gone(message, status=status, error_code=code)
    if status >= 500:
        if is_create and code != "voice_clone_error":
            return CreateOutcomeUnknown(message, status=status, error_code=code)
        hint = "Try a cleaner, single-speaker sample." if code == "voice_clone_error" else None
        return ServerError(message, status=status, error_code=code, hint=hint)
    return RequestRejected(message, status=status, error_code=code)


def _error_text(response: httpx.Response) -> tuple[str, str | None]:
    """The error's text and code from any of the API's error shapes."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip(), None
    if not isinstance(body, Mapping):
        return str(body)[:200], None
    code = body.get("error_code")
    error = body.get("error")
    parts: list[str] = []
    if isinstance(error, list):  # validation issues: [{"path": [...], "message": ...}]
        for issue in error:
            if isinstance(issue, Mapping):
                field = ".".join(str(p) for p in issue.get("path", []))
                parts.append(f"{field}: {issue.get('message', '')}" if field else str(issue.get("message", "")))
    elif isinstance(error, str):
        parts.append(error)
    if isinstance(body.get("message"), str):
        parts.append(body["message"])
    return "; ".join(p for p in parts if p), code if isinstance(code, str) else None


def _retry_after(headers: httpx.Headers) -> float | None:
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
