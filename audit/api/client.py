"""The Waves API client: the only module that speaks HTTP.

Owns typed methods for the endpoints clone-audit uses (list, create, tts, delete,
health), timeouts, retries and the translation of httpx and HTTP errors into `audit.errors`.
The account's concurrency limit is one `limiter.Limiter` for every authenticated call (the
API does not say which calls count): found while working unless `[api] concurrency` gives it,
with one shared Retry-After window; a 429 the tool caused by its own pressure is retried
without spending the call's attempts (see `audit.api.limiter`).

Retry rules:
- idempotent calls (list, tts, delete, health) retry on 429, 5xx and transport errors,
  with exponential backoff and jitter, honouring `retry-after-ms` / `Retry-After`;
- create is retried only when it certainly did not happen (429, or a connection that
  was never made). A timeout, a dropped connection or a 5xx other than
  `voice_clone_error` raises `CreateOutcomeUnknown`: the clone may exist, and only the
  caller can look for it before trying again.
- fail fast where waiting cannot help: a refused connection or a name that does not resolve
  before the API ever answered is not retried (a wrong base URL, no network), and a 404 on
  the list names the base URL.

Bounds: every request, from sending it to the last byte of its answer, ends within
`timeout_s` (`create_timeout_s` for a create), a body that trickles in included. Bodies are
streamed and decoded here (gzip, deflate) in steps of at most 64 KiB, counting decoded bytes
against the call's cap (`max_list_bytes`, `max_audio_bytes`, 1 MiB for other answers), so a
gzip bomb stops after the cap, not after inflating gigabytes. An answer that is too big,
too slow to arrive once it started, corrupt, or not the JSON it must be is a `BadAnswer`,
never retried (a create's becomes `CreateOutcomeUnknown`: the clone may exist). A deadline
passed before any answer arrived is a transport error, retried like a timeout.

The key is sent in the Authorization header and appears nowhere else: not in
exceptions, logs or reprs. It is never sent over plain http:// to a host off this machine
unless `[api] allow_insecure_http` says so (`check_key_transport`).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import stamina

from audit import __version__
from audit.core import secrets
from audit.core.apikey import check_key_transport
from audit.core.config import ApiSettings
from audit.core.errors import (
    ApiError,
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
from audit.core.models import Clone, CreatedClone, parse_clone_list
from audit.core.secrets import Secret
from audit.core.usage import TtsCall, TtsLogs

from audit.api.limiter import Limiter, LimiterReport, start_and_ceiling

log = logging.getLogger(__name__)

LIST_PATH = "/waves/v1/voice-cloning"
CREATE_PATH = "/waves/v1/voice-cloning"
TTS_PATH = "/waves/v1/tts"
DELETE_PATH = "/waves/v1/lightning-large"
HEALTH_PATH = "/waves/v1/health"

#: Cap on answers that are neither the list nor audio (create, delete, health): small JSON.
MAX_OTHER_BYTES = 1024 * 1024
#: Of an error answer only this much is read: enough for its message.
MAX_ERROR_BYTES = 64 * 1024
#: A call refused by 429s the tool caused itself this many times gives up (each lowers the limit,
#: so this is a backstop, never reached against an honest server).
MAX_FREE_RETRIES = 64
#: The most decompression hands over at once, so nothing inflates far past a cap.
INFLATE_STEP = 64 * 1024


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


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, its body read in full: decoded, and within the call's byte cap."""

    method: str
    path: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def where(self) -> str:
        return f"{self.method} {self.path} answered {self.status}"

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


class WavesClient:
    """Async client for the Waves endpoints. Use as `async with WavesClient(...) as c:`."""

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
        self._answered = False  # the API has answered at least once (a wrong URL fails fast before)
        #: TTS characters sent in answered calls: what the run cost.
        self.tts_characters = 0
        self._http = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"),
            timeout=httpx.Timeout(settings.timeout_s),
            # Only what _Inflater decodes, whatever optional decoders httpx may find installed.
            headers={"User-Agent": f"clone-audit/{__version__}", "Accept-Encoding": "gzip, deflate"},
            transport=transport,
            limits=httpx.Limits(max_connections=ceiling + 2),
        )

    @property
    def account(self) -> str:
        """The account's fingerprint (a hash of the key, never the key) for run history."""
        return self._key.fingerprint()

    def __repr__(self) -> str:
        return f"WavesClient(base_url={self._settings.base_url!r})"

    @property
    def api_key(self) -> Secret:
        """The key, still wrapped: for what is derived from it without revealing it (the
        account lock's name, replacement proofs). It is sent nowhere but Authorization."""
        return self._key

    async def __aenter__(self) -> WavesClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- endpoints ---------------------------------------------------------------------

    async def health(self) -> Mapping[str, Any]:
        answer = await self._call("GET", HEALTH_PATH, auth=False, max_bytes=MAX_OTHER_BYTES)
        return _json(answer)

    async def list_clones(self) -> list[Clone]:
        """Every clone of the organisation (one unpaginated answer).

        An entry that cannot be read comes back as a placeholder Clone (`unreadable` set),
        never left out; a list answer that is not a JSON object with a `data` array is a
        BadAnswer (the run cannot know which voices exist).
        """
        cap = self._settings.max_list_bytes
        try:
            answer = await self._call(
                "GET", LIST_PATH, max_bytes=cap,
                too_large_hint=f"The clone list is bigger than [api] max_list_bytes ({cap:,} bytes). If the "
                "organisation really holds that many clones, raise it in the config file.",
            )
        except RequestRejected as exc:
            if exc.status != 404:
                raise
            raise RequestRejected(
                exc.message, status=404, error_code=exc.error_code,
                hint=f"Nothing lists clones at {self._settings.base_url}{LIST_PATH}: the base URL is probably "
                "wrong (it is the API's root, like https://api.smallest.ai, without /waves/v1). Check "
                "--base-url, SMALLEST_BASE_URL or [api] base_url.",
            ) from None
        retry_hint = (
            "The list answer was cut off or garbled on the way; run the scan again. If it persists, "
            "report it to the API vendor" + (f" with X-Request-Id {answer.request_id}." if answer.request_id else ".")
        )
        body = _json(answer, hint=retry_hint)
        items = body.get("data")
        if not isinstance(items, list):
            raise BadAnswer(
                f"{answer.where} without a `data` array (keys: {', '.join(sorted(map(str, body))[:8]) or 'none'})",
                status=answer.status, hint=retry_hint,
            )
        clones = parse_clone_list(items)
        for clone in clones:
            if clone.unreadable is not None:
                log.warning("clone list entry that cannot be read: %s", clone.unreadable)
            elif clone.odd:
                log.info("clone %s: %s", clone.voice_id, "; ".join(clone.odd))
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
        answer = await self._call(
            "POST", TTS_PATH, json=payload, headers={"Accept": "audio/wav"},
            max_bytes=self._settings.max_audio_bytes, label=f"TTS {voice_id}",
            too_large_hint="Raise [api] max_audio_bytes if the probe sentence really is that long.",
        )
        self.tts_characters += len(text)
        return TtsAudio(
            content=answer.body,
            status=answer.status,
            content_type=answer.headers.get("content-type"),
            request_id=answer.request_id,
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
        on_send: Callable[[], None] | None = None,
    ) -> CreatedClone:
        """Create a clone. `on_send` is called as each attempt goes out, after any wait for a
        slot: the moment from which the create may exist (its unknown-outcome window starts)."""
        form = {"displayName": display_name, "model": model}
        optional = {"language": language, "description": description, "accent": accent}
        form.update({k: v for k, v in optional.items() if v})
        if tags:
            form["tags"] = ",".join(tags)
        answer = await self._call(
            "POST",
            CREATE_PATH,
            data=form,
            files={"file": (file.name, file.data, file.mime)},
            timeout=self._settings.create_timeout_s,
            create=True,
            max_bytes=MAX_OTHER_BYTES,
            label=f"create {display_name}",
            on_send=on_send,
        )
        try:
            return CreatedClone.from_api(_json(answer))
        except (ValueError, BadAnswer) as exc:
            text = exc.message if isinstance(exc, BadAnswer) else str(exc)
            raise CreateOutcomeUnknown(
                f"create answered {answer.status} without a usable body: {text}", status=answer.status
            ) from None

    async def delete_clone(self, voice_id: str) -> None:
        """Delete a clone. Raises Gone (410), or RequestRejected (404/405) where unsupported."""
        await self._call("DELETE", DELETE_PATH, json={"voiceId": voice_id}, max_bytes=MAX_OTHER_BYTES)

    # -- analytics ---------------------------------------------------------------------

    ANALYTICS_PATH = "/waves/v1/analytics/tts/logs"
    ANALYTICS_PAGE_SIZE = 100  # the API's maximum
    #: A read of the log keeps at most this many calls (~500 bytes of memory each, measured): a longer log is read incomplete.
    ANALYTICS_MAX_CALLS = 200_000
    #: A read of the log starts no new page after this many seconds (it then ends within one more
    #: call's `timeout_s` and retries): a route that trickles pages out is read incomplete.
    ANALYTICS_DEADLINE_S = 900.0

    async def tts_logs(
        self, *, since: datetime | None = None, max_pages: int = 500, deadline_s: float | None = None
    ) -> TtsLogs:
        """The TTS analytics log, page by page, at most `max_pages` pages of 100.

        With `since`, reading stops after the first page that reaches an entry older than
        `since`, as long as the log has been ordered newest first so far (an unordered log
        is read to its end or to `max_pages`). `complete` says whether the read covers the window: a
        caller must not read "no call" from an incomplete read.

        A page that is not the page asked for (its `page` says another, it holds more than
        100 entries, it repeats the previous page, or on a log newest first so far it starts
        with an entry newer than the previous page's last) is not counted: the read stops
        there, incomplete, and `stopped` says why. So do `ANALYTICS_MAX_CALLS` calls kept and
        `deadline_s` (`ANALYTICS_DEADLINE_S`) spent.
        """
        deadline = self.ANALYTICS_DEADLINE_S if deadline_s is None else deadline_s
        ends = time.monotonic() + deadline
        calls: list[TtsCall] = []
        skipped, page, total_pages, total_count = 0, 0, None, None
        newest_first, previous_items, stopped = True, None, None
        while page < max_pages and (total_pages is None or page < total_pages):
            if time.monotonic() >= ends:
                stopped = f"the read passed its deadline of {deadline:g} s"
                break
            page += 1
            body = _json(await self._call(
                "GET", self.ANALYTICS_PATH, params={"page": page, "pageSize": self.ANALYTICS_PAGE_SIZE},
                max_bytes=MAX_OTHER_BYTES,
            ))
            items = body.get("data")
            if not isinstance(items, list):
                raise ApiError(
                    "the TTS analytics answer has no `data` array", status=200,
                    hint="The API's answer changed shape; report it with the X-Request-Id.",
                )
            stopped = self._not_the_page(body, page, items, previous_items)
            if stopped is not None:
                break
            total_pages = self._whole(body.get("totalPages"))
            total_count = self._whole(body.get("totalCount"))
            page_calls: list[TtsCall] = []
            for item in items:
                try:
                    page_calls.append(TtsCall.from_api(item if isinstance(item, Mapping) else {}))
                except (ValueError, TypeError, OverflowError):
                    skipped += 1
            if newest_first and calls and page_calls and page_calls[0].at > calls[-1].at:
                stopped = (f"page {page} starts with a call newer than the end of page {page - 1}: "
                           "the pages overlap")
                break
            if len(calls) + len(page_calls) > self.ANALYTICS_MAX_CALLS:
                stopped = f"the read reached its bound of {self.ANALYTICS_MAX_CALLS} calls"
                break
            previous = calls[-1].at if calls else None
            for call in page_calls:
                newest_first = newest_first and (previous is None or call.at <= previous)
                previous = call.at
            calls.extend(page_calls)
            previous_items = items
            if not items:
                return TtsLogs(tuple(calls), page, total_count, True, skipped)
            if since is not None and newest_first and page_calls and page_calls[-1].at < since:
                return TtsLogs(tuple(calls), page, total_count, True, skipped)
        complete = stopped is None and total_pages is not None and page >= total_pages
        if skipped:
            log.warning("skipped %d analytics entries without a usable time or voice id", skipped)
        if stopped is not None:
            log.warning("stopped reading the TTS analytics log: %s", stopped)
        return TtsLogs(tuple(calls), page, total_count, complete, skipped, stopped)

    def _not_the_page(
        self, body: Mapping[str, Any], page: int, items: list[Any], previous: list[Any] | None
    ) -> str | None:
        """Why this answer is not page `page` of the log, or None when nothing says so."""
        echoed = body.get("page")
        if echoed is not None and (isinstance(echoed, bool) or echoed not in (page, str(page))):
            return f"asked for page {page}, the API answered page {repr(echoed)[:20]}"
        if len(items) > self.ANALYTICS_PAGE_SIZE:
            return f"page {page} holds {len(items)} entries, more than the {self.ANALYTICS_PAGE_SIZE} asked for"
        if items and items == previous:
            return f"page {page} repeats page {page - 1}"
        return None

    @staticmethod
    def _whole(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    # -- machinery ---------------------------------------------------------------------

    def concurrency(self) -> LimiterReport:
        """How the run used the account's concurrency: the level found, requests, 429s."""
        return self.limiter.report()

    async def _call(
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
        s = self._settings
        all_headers = dict(headers or {})
        if auth:
            all_headers["Authorization"] = f"Bearer {self._key.reveal()}"
        call = _Call(method, path, create, s.timeout_s if timeout is None else timeout, max_bytes, too_large_hint,
                     label or f"{method} {path}", on_send)
        backoff = Backoff(s, create=create, answered=lambda: self._answered, label=call.label)
        async for attempt in stamina.retry_context(on=backoff, attempts=s.max_attempts, timeout=None):
            with attempt:
                if not auth:
                    return await self._send_once(call, headers=all_headers, **kwargs)
                return await self._limited(call, backoff.retries > 0, headers=all_headers, **kwargs)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    async def _limited(self, call: _Call, retry: bool, *, headers: Mapping[str, str], **kwargs: Any) -> Answer:
        """One counted attempt, within the limiter. A 429 the tool caused itself (others of ours
        were in flight) is retried here, after the shared Retry-After window, without spending
        an attempt; any other 429 goes to stamina, which counts it."""
        for _ in range(MAX_FREE_RETRIES):
            ticket = await self.limiter.acquire(retry=retry)
            try:
                answer = await self._send_once(call, headers=headers, **kwargs)
            except RateLimited as exc:
                outcome = self.limiter.refused(ticket, exc.retry_after, self._settings.backoff_initial_s)
                if not outcome.self_inflicted:
                    raise
                log.info("%s: 429 sent with %d of ours in flight (the account allows at most %s); now %d "
                         "at once, retrying in %.1f s (not counted against its attempts)", call.label,
                         ticket.in_flight, self.limiter.known, self.limiter.limit, outcome.wait_s)
                retry = True
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

    async def _send_once(self, call: _Call, *, headers: Mapping[str, str], **kwargs: Any) -> Answer:
        """One attempt: send, read the body within the cap, all within the call's deadline."""
        if call.on_send is not None:
            call.on_send()
        request = self._http.build_request(call.method, call.path, headers=headers, timeout=call.deadline_s, **kwargs)
        response: httpx.Response | None = None
        body = _Body(call.max_bytes)
        started = time.monotonic()
        try:
            async with asyncio.timeout(call.deadline_s):
                response = await self._http.send(request, stream=True)
                try:
                    content = await body.read(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise self._late(call, response, body) from None
        except httpx.ConnectError as exc:
            raise TransportError(
                f"{call.name}: cannot connect to {self._settings.base_url}: {exc}", request_sent=False,
                hint=None if self._answered else (
                    f"Nothing answers at {self._settings.base_url} (refused, or the name does not resolve). "
                    "Check --base-url, SMALLEST_BASE_URL or [api] base_url, and the network."),
            ) from None
        except httpx.TransportError as exc:  # timeouts, dropped connections, protocol errors
            kind = type(exc).__name__
            if call.create:
                raise CreateOutcomeUnknown(
                    f"{call.name}: {kind} after the upload started; the clone may exist", status=0
                ) from None
            raise TransportError(f"{call.name}: {kind}: {exc or 'no answer'}") from None
        except _Unusable as exc:
            assert response is not None
            if not response.is_success:  # an error answer's body is only its message: keep its status
                raise _error_for(_bodiless(call, response), is_create=call.create) from None
            raise self._unusable(call, response.status_code, str(exc), hint=call.too_large_hint
                                 if exc.too_large else None) from None
        self._answered = True
        answer = Answer(call.method, call.path, response.status_code, response.headers, content)
        log.debug("%s -> %d, %d bytes in %.3fs", call.name, answer.status, len(content), time.monotonic() - started)
        if answer.is_success:
            return answer
        raise _error_for(answer, is_create=call.create)

    def _late(self, call: _Call, response: httpx.Response | None, body: _Body) -> ApiError | TransportError:
        """The deadline passed: before any answer (a timeout, retried) or while its body arrived."""
        limit = f"{call.deadline_s:g} s"
        if response is None:
            if call.create:
                return CreateOutcomeUnknown(f"{call.name}: no answer within {limit}; the clone may exist", status=0)
            return TransportError(f"{call.name}: no answer within {limit}")
        if not response.is_success:  # the status is known: treat it as that error (429/5xx retried)
            return _error_for(_bodiless(call, response), is_create=call.create)
        return self._unusable(
            call, response.status_code,
            f"the body was still arriving after {limit} ({body.received:,} bytes so far)",
            hint="An answer that trickles in is cut at [api] timeout_s; raise it only if the network "
            "really is that slow.",
        )

    @staticmethod
    def _unusable(call: _Call, status: int, why: str, hint: str | None = None) -> ApiError:
        message = f"{call.name} answered {status}, but {why}"
        if call.create:
            return CreateOutcomeUnknown(message + "; the clone may exist", status=status)
        return BadAnswer(message, status=status, hint=hint)


def _bodiless(call: _Call, response: httpx.Response) -> Answer:
    """An error answer whose body could not be read: its status and headers still count."""
    return Answer(call.method, call.path, response.status_code, response.headers, b"")


@dataclass(frozen=True, slots=True)
class _Call:
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


class _Unusable(Exception):
    """A body that cannot be used: over the cap, corrupt or undecodable compression."""

    def __init__(self, why: str, *, too_large: bool = False) -> None:
        super().__init__(why)
        self.too_large = too_large


class _Body:
    """Reads one response body: decoded, counted, and stopped at the cap.

    An error answer (not 2xx) is read only up to MAX_ERROR_BYTES and cut there, since
    only its message matters; a successful one over the cap raises `_Unusable`.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.received = 0  # decoded bytes so far
        self.encoding = "identity"

    async def read(self, response: httpx.Response) -> bytes:
        cap = self.max_bytes if response.is_success else MAX_ERROR_BYTES
        cut = not response.is_success
        encoding = response.headers.get("content-encoding")
        declared = response.headers.get("content-length", "")
        if not cut and encoding in (None, "identity") and declared.isdigit() and int(declared) > cap:
            raise _Unusable(f"the answer is over the {cap:,}-byte cap (Content-Length {int(declared):,})",
                            too_large=True)
        inflater = _Inflater(encoding)
        self.encoding = inflater.coding
        parts: list[bytes] = []
        async for raw in response.aiter_raw():
            for piece in inflater.feed(raw):
                if self._add(parts, piece, cap, cut):
                    return b"".join(parts)
        inflater.finish()
        return b"".join(parts)

    def _add(self, parts: list[bytes], piece: bytes, cap: int, cut: bool) -> bool:
        """Keep `piece`; True when the cap is reached and reading must stop."""
        room = cap - self.received
        self.received += len(piece)
        if len(piece) <= room:
            parts.append(piece)
            return False
        if cut:
            parts.append(piece[:room])
            return True
        decoded = "" if self.encoding == "identity" else f" after {self.encoding} decoding"
        raise _Unusable(f"the answer is over the {cap:,}-byte cap (stopped reading at {self.received:,} bytes{decoded})",
                        too_large=True)


class _Inflater:
    """Content-Encoding decoding (identity, gzip, deflate) that never hands over more than
    INFLATE_STEP bytes at a time, so the caller can stop a gzip bomb at its cap."""

    def __init__(self, encoding: str | None) -> None:
        self.coding = (encoding or "identity").strip().lower()
        self._deflate = self.coding == "deflate"
        self._fresh = True
        if self.coding in ("identity", ""):
            self._z = None
        elif self.coding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self._deflate:
            self._z = zlib.decompressobj()
        else:
            raise _Unusable(f"the answer is encoded as {self.coding[:40]!r}, which was not asked for")

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._z is None:
            if data:
                yield data
            return
        while not self._z.eof:
            try:
                out = self._z.decompress(data, INFLATE_STEP)
            except zlib.error as exc:
                if self._deflate and self._fresh:  # some servers send raw deflate, without zlib's header
                    self._z, self._fresh = zlib.decompressobj(-zlib.MAX_WBITS), False
                    continue
                raise _Unusable(f"its {self.coding} compression is corrupt ({exc})") from None
            self._fresh = False
            data = self._z.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < INFLATE_STEP:
                return

    def finish(self) -> None:
        """At the end of the body: a compressed stream must have reached its end marker."""
        if self._z is not None and not self._z.eof:
            raise _Unusable(f"its {self.coding} stream ends before its end marker (cut off)")


class Backoff:
    """stamina's retry hook for one call: whether an error is worth another attempt, and
    how long to wait first: exponential from backoff_initial_s up to backoff_max_s plus
    jitter, and never less than the server's Retry-After (capped at backoff_max_s)."""

    def __init__(self, settings: ApiSettings, *, create: bool, answered: Callable[[], bool] = lambda: True,
                 label: str = "") -> None:
        self._settings = settings
        self._create = create
        self._answered = answered
        self._label = label
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
        why = exc.message if isinstance(exc, RunError) else type(exc).__name__
        log.info("%s: retry %d/%d in %.1f s: %s", self._label, self.retries, s.max_attempts - 1, wait, why)
        return wait

    def _retryable(self, exc: Exception) -> bool:
        if isinstance(exc, RateLimited):  # refused before any work: safe for every call
            return True
        if isinstance(exc, TransportError) and not exc.request_sent and not self._answered():
            return self.retries < 1  # nothing ever answered at this address: one more try, not a minute
        if self._create:  # only when the create certainly did not happen
            return isinstance(exc, TransportError) and not exc.request_sent
        return isinstance(exc, ServerError | TransportError)


def _json(answer: Answer, hint: str | None = None) -> Mapping[str, Any]:
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


def _error_for(answer: Answer, *, is_create: bool) -> ApiError:
    status = answer.status
    text, code = _error_text(answer)
    message = f"{answer.where}: {text}" if text else answer.where
    if status in (401, 403):
        return AuthError(message, status=status)
    if status == 429:
        return RateLimited(message, retry_after=_retry_after(answer.headers))
    if status == 410:
        return Gone(message, status=status, error_code=code)
    if status >= 500:
        if is_create and code != "voice_clone_error":
            return CreateOutcomeUnknown(message, status=status, error_code=code)
        hint = "Try a cleaner, single-speaker sample." if code == "voice_clone_error" else None
        return ServerError(message, status=status, error_code=code, hint=hint)
    return RequestRejected(message, status=status, error_code=code)


def _error_text(answer: Answer) -> tuple[str, str | None]:
    """The error's text and code from any of the API's error shapes, scrubbed of secrets."""
    try:
        body = json.loads(answer.body)
    except (ValueError, RecursionError):
        return secrets.cut(answer.body.decode("utf-8", "replace").strip(), 200), None
    if not isinstance(body, Mapping):
        return secrets.cut(str(body), 200), None
    code = body.get("error_code")
    error = body.get("error")
    parts: list[str] = []
    if isinstance(error, list):  # validation issues: [{"path": [...], "message": ...}]
        for issue in error:
            if isinstance(issue, Mapping):
                path = issue.get("path")
                field = ".".join(str(p) for p in path) if isinstance(path, list) else ""
                parts.append(f"{field}: {issue.get('message', '')}" if field else str(issue.get("message", "")))
    elif isinstance(error, str):
        parts.append(error)
    if isinstance(body.get("message"), str):
        parts.append(body["message"])
    # Scrubbed whole, then cut: a key the server echoed must not survive as its first characters.
    return secrets.cut("; ".join(p for p in parts if p), 500), secrets.scrub(code) if isinstance(code, str) else None


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
