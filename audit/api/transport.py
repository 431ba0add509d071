"""Sending one call to the Waves API: attempts, retries, the limiter, the deadline, the body's cap.

Owns `Transport`, the only holder of the httpx client and the key. `call` makes one logical
call: stamina drives the attempts through `failures.Backoff` (its retry machinery is built
only once the first attempt failed, and judges that attempt's error first); each authenticated attempt
waits for a slot of the account's `limiter.Limiter` (`_limited`: a 429 the tool caused by its
own pressure is retried there once its own Retry-After is over, without spending an attempt;
another 429 shuts the limiter's window for every caller and goes to `Backoff`); each attempt (`_send_once`) sends
the request and reads its body through `body.Body`, all within the call's deadline, and turns
what went wrong into an `audit.core.errors` exception:

- a deadline passed before any answer arrived is a transport error, retried like a timeout
  (for a create: `CreateOutcomeUnknown`, the clone may exist); passed while a successful
  body was still arriving, or a body over the cap or corrupt, is a `BadAnswer`, never retried;
- a refused connection or a name that does not resolve is a `TransportError` with
  `request_sent=False`, and before the API ever answered it names the base URL (fail fast);
  once no attempt has connected for `[api] unreachable_s`, the `breaker.Breaker` opens and
  every attempt raises `ApiWentAway` at once (the run stops and says what it did);
- other transport errors after a create's upload started are `CreateOutcomeUnknown`;
- an error answer (not 2xx) becomes `failures.error_for`, even when its body was unreadable.

The key is sent in the Authorization header and appears nowhere else: not in exceptions,
logs or reprs. It is never sent over plain http:// to a host off this machine unless
`[api] allow_insecure_http` says so (`check_key_transport`, before the client is built).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import stamina

from audit import __version__
from audit.api import aionet
from audit.api.body import Answer, Body, Unusable
from audit.api.breaker import Breaker
from audit.api.failures import Backoff, error_for
from audit.api.limiter import Limiter, start_and_ceiling
from audit.core.apikey import check_key_transport
from audit.core.config import ApiSettings
from audit.core.errors import ApiError, BadAnswer, CreateOutcomeUnknown, RateLimited, TransportError
from audit.core.secrets import Secret

log = logging.getLogger(__name__)

#: A call refused by 429s the tool caused itself this many times gives up (each lowers the limit,
#: so this is a backstop, never reached against an honest server).
MAX_FREE_RETRIES = 64
#: Paths whose absolute URL is kept (the API's few fixed paths; ids in a path could be many).
MAX_JOINED_PATHS = 64


@dataclass(frozen=True, slots=True)
class Call:
    """What every attempt of one call shares."""

    method: str
    path: str
    create: bool
    deadline_s: float
    max_bytes: int
    too_large_hint: str | None
    label: str  # for logs: "TTS voice_…", "create …", or the method and path
    on_send: Callable[[], None] | None = None  # told as each attempt goes out (its slot granted)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


class Transport:
    """The HTTP side of `WavesClient`: one httpx client, one limiter, one key."""

    def __init__(
        self,
        settings: ApiSettings,
        api_key: Secret,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        remembered_limit: int | None = None,
    ) -> None:
        check_key_transport(settings)  # before anything could carry the key
        self._settings = settings
        self._key = api_key
        start, ceiling, discover = start_and_ceiling(settings.concurrency, settings.max_concurrency, remembered_limit)
        self.limiter = Limiter(start=start, ceiling=ceiling, discover=discover, remembered=remembered_limit is not None)
        self.answered = False  # the API has answered at least once (a wrong URL fails fast before)
        self.breaker = Breaker(settings.unreachable_s)  # the API went away: stop, do not retry for minutes
        limits = httpx.Limits(max_connections=ceiling + 2)
        self._http = aionet.Client(
            base_url=settings.base_url.rstrip("/"),
            timeout=httpx.Timeout(settings.timeout_s),
            # Only what body.Inflater decodes, whatever optional decoders httpx may find installed.
            headers={"User-Agent": f"clone-audit/{__version__}", "Accept-Encoding": "gzip, deflate"},
            transport=transport or aionet.transport(limits, settings.base_url),
            limits=limits,  # for the transports httpx makes itself (through a proxy)
        )
        self._urls: dict[str, httpx.URL] = {}  # path -> its absolute URL (`_url`)
        self._timeouts: dict[float, httpx.Timeout] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    def _url(self, path: str) -> httpx.URL | str:
        """The absolute URL of `path` on the base URL, joined by httpx once per path (joining parses
        the whole URL again: most of the cost of building a request); an unusual path is joined per call."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= MAX_JOINED_PATHS:
                return path
            url = self._urls[path] = self._http.build_request("GET", path).url
        return url

    def _timeout(self, deadline_s: float) -> httpx.Timeout:
        """httpx's timeout for a call's deadline, made once per deadline."""
        timeout = self._timeouts.get(deadline_s)
        if timeout is None:
            timeout = self._timeouts[deadline_s] = httpx.Timeout(deadline_s)
        return timeout

    async def call(
        self,
        method: str,
        path: str,
        *,
        max_bytes: int,
        auth: bool = True,
        create: bool = False,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        too_large_hint: str | None = None,
        label: str | None = None,
        on_send: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Answer:
        """One call, retried as `Backoff` allows; its successful answer, or the last error raised."""
        s = self._settings
        all_headers = dict(headers or {})
        if auth:
            all_headers["Authorization"] = f"Bearer {self._key.reveal()}"
        call = Call(method, path, create, s.timeout_s if timeout is None else timeout, max_bytes, too_large_hint,
                    label or f"{method} {path}", on_send)
        try:  # most calls succeed at once: stamina's machinery is built only for one that failed
            return await self._attempt(call, auth, False, all_headers, kwargs)
        except Exception as exc:
            first: Exception | None = exc
        backoff = Backoff(s, create=create, answered=lambda: self.answered, label=call.label,
                          on_retry=self.breaker.retrying, until_verdict=self.breaker.remaining)
        async for attempt in stamina.retry_context(on=backoff, attempts=s.max_attempts, timeout=None):
            with attempt:
                if first is not None:  # stamina's first attempt is the one already made: it judges its error
                    failed, first = first, None
                    raise failed
                return await self._attempt(call, auth, backoff.retries > 0, all_headers, kwargs)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    def _attempt(self, call: Call, auth: bool, retry: bool, headers: Mapping[str, str],
                 kwargs: Mapping[str, Any]) -> Coroutine[Any, Any, Answer]:
        """One attempt of `call`: within the limiter when authenticated."""
        if not auth:
            return self._send_once(call, headers=headers, **kwargs)
        return self._limited(call, retry, headers=headers, **kwargs)

    async def _limited(self, call: Call, retry: bool, *, headers: Mapping[str, str], **kwargs: Any) -> Answer:
        """One counted attempt, within the limiter. A 429 the tool caused itself (others of ours
        were in flight) is retried here without spending an attempt, once its own Retry-After is
        over (the other callers go on meanwhile); any other 429 goes to stamina, which counts it
        and waits as `Backoff` says, and the limiter shuts the window for every caller."""
        hold_s = 0.0
        for _ in range(MAX_FREE_RETRIES):
            ticket = await self.limiter.acquire(retry=retry, hold_s=hold_s)
            try:
                answer = await self._send_once(call, headers=headers, **kwargs)
            except RateLimited as exc:
                # The server's wait, never longer than backoff_max_s (as `Backoff` caps it): a wait
                # of days, hostile or broken, must hold neither this call nor the line for days.
                asked = None if exc.retry_after is None else min(exc.retry_after, self._settings.backoff_max_s)
                outcome = self.limiter.refused(ticket, asked, self._settings.backoff_initial_s)
                if not outcome.self_inflicted:
                    raise
                log.info("%s: 429 sent with %d of ours in flight (the account allows at most %s); now %d "
                         "at once, retrying in %.1f s (not counted against its attempts)", call.label,
                         ticket.in_flight, self.limiter.known, self.limiter.limit, outcome.wait_s)
                retry, hold_s = True, outcome.wait_s
                continue
            except ApiError:
                self.limiter.ok(ticket)  # the server admitted it: says nothing against the limit
                raise
            except BaseException:
                self.limiter.cancelled()
                raise
            self.limiter.ok(ticket)
            return answer
        raise RateLimited(f"{call.label}: refused with 429 {MAX_FREE_RETRIES} times while the limit went down")

    async def _send_once(self, call: Call, *, headers: Mapping[str, str], **kwargs: Any) -> Answer:
        """One attempt: send, read the body within the cap, all within the call's deadline."""
        self.breaker.check()  # the API went away: no attempt goes out
        if call.on_send is not None:
            call.on_send()
        request = self._http.build_request(call.method, self._url(call.path), headers=headers,
                                           timeout=self._timeout(call.deadline_s), **kwargs)
        response: httpx.Response | None = None
        body = Body(call.max_bytes)
        started = time.monotonic()
        try:
            async with asyncio.timeout(call.deadline_s):
                response = await self._http.send(request, stream=True)
                self.breaker.answered()  # it connected and answered: the API is there, however slow its body
                try:
                    content = await body.read(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise self._late(call, response, body) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self.breaker.refused(self._settings.base_url)  # raises ApiWentAway once nothing connected for long
            raise TransportError(
                f"{call.name}: cannot connect to {self._settings.base_url}: {exc}", request_sent=False,
                hint=None if self.answered else (
                    f"Nothing answers at {self._settings.base_url} (refused, or the name does not resolve). "
                    "Check --base-url, SMALLEST_BASE_URL or [api] base_url, and the network."),
            ) from None
        except httpx.TransportError as exc:  # timeouts, dropped connections, protocol errors
            kind = type(exc).__name__
            if call.create:
                raise CreateOutcomeUnknown(
                    f"{call.name}: {kind} after the upload started; the clone may exist", status=0
                ) from None
            raise TransportError(f"{call.name}: {kind}: {str(exc) or 'no answer'}") from None
        except Unusable as exc:
            assert response is not None
            if not response.is_success:  # an error answer's body is only its message: keep its status
                raise error_for(_bodiless(call, response), is_create=call.create) from None
            raise _unusable(call, response.status_code, str(exc), hint=call.too_large_hint
                            if exc.too_large else None) from None
        self.answered = True
        self.breaker.answered()
        answer = Answer(call.method, call.path, response.status_code, response.headers, content)
        log.debug("%s -> %d, %d bytes in %.3fs", call.name, answer.status, len(content), time.monotonic() - started)
        if answer.is_success:
            return answer
        raise error_for(answer, is_create=call.create)

    @staticmethod
    def _late(call: Call, response: httpx.Response | None, body: Body) -> ApiError | TransportError:
        """The deadline passed: before any answer (a timeout, retried) or while its body arrived."""
        limit = f"{call.deadline_s:g} s"
        if response is None:
            if call.create:
                return CreateOutcomeUnknown(f"{call.name}: no answer within {limit}; the clone may exist", status=0)
            return TransportError(f"{call.name}: no answer within {limit}")
        if not response.is_success:  # the status is known: treat it as that error (429/5xx retried)
            return error_for(_bodiless(call, response), is_create=call.create)
        return _unusable(
            call, response.status_code,
            f"the body was still arriving after {limit} ({body.received:,} bytes so far)",
            hint="An answer that trickles in is cut at [api] timeout_s; raise it only if the network "
            "really is that slow.",
        )


def _unusable(call: Call, status: int, why: str, hint: str | None = None) -> ApiError:
    message = f"{call.name} answered {status}, but {why}"
    if call.create:
        return CreateOutcomeUnknown(message + "; the clone may exist", status=status)
    return BadAnswer(message, status=status, hint=hint)


def _bodiless(call: Call, response: httpx.Response) -> Answer:
    """An error answer whose body could not be read: its status and headers still count."""
    return Answer(call.method, call.path, response.status_code, response.headers, b"")
