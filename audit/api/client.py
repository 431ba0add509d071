"""The Waves API client: the typed methods clone-audit calls, and the paths they call.

Owns `WavesClient` (list, create, tts, delete, health, the TTS analytics log, the
concurrency report, and `atoms`: the voice agents' endpoints of `atoms.AtomsApi`) and the path constants. Each method says what it sends, the byte cap of
its answer and what the answer must hold; the rest is delegated: `transport.Transport` sends
every call (deadline, body cap, the limiter, the key), `failures` maps answers to errors and
holds the retry rule (`Backoff`), `wire` reads and writes the vendor's JSON, and
`analytics.LogPager` holds the paging protocol of the TTS analytics log.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx

from audit.api.analytics import MAX_CALLS, PAGE_SIZE, LogPager
from audit.api.failures import json_object
from audit.api.limiter import LimiterReport
from audit.api.transport import Transport
from audit.api.wire import create_form, delete_body, parse_clone_list, parse_created_clone, tts_body
from audit.core.config import ApiSettings
from audit.core.errors import AuthError, BadAnswer, CreateOutcomeUnknown, Gone, RequestRejected
from audit.core.models import Clone, CreatedClone
from audit.core.owncalls import SentKey
from audit.core.secrets import Secret
from audit.core.usage import TtsLogs

if TYPE_CHECKING:  # the Atoms endpoints are loaded by the runs that call them (cutover --agents)
    from audit.api.atoms import AtomsApi

log = logging.getLogger(__name__)

LIST_PATH = "/waves/v1/voice-cloning"
CREATE_PATH = "/waves/v1/voice-cloning"
TTS_PATH = "/waves/v1/tts"
DELETE_PATH = "/waves/v1/lightning-large"
#: The API-key delete route the vendor announced as DELETE_PATH's successor (dashboard token only
#: today: it answers 401 to an API key). Tried first; DELETE_PATH is the fallback.
DELETE_POST_PATH = "/waves/v1/voice-cloning/delete"
#: Answers of DELETE_POST_PATH that close it to the key for the run (not about one voice).
ROUTE_CLOSED = frozenset({401, 403, 405, 410})
HEALTH_PATH = "/waves/v1/health"

#: Cap on answers that are neither the list nor audio (create, delete, health): small JSON.
MAX_OTHER_BYTES = 1024 * 1024


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
        remembered_limit: int | None = None,
    ) -> None:
        self._settings = settings
        self._key = api_key
        self._transport = Transport(settings, api_key, transport=transport, remembered_limit=remembered_limit)
        #: The account's concurrency, found while working (or given): one for every authenticated call.
        self.limiter = self._transport.limiter
        #: TTS characters sent in answered calls: what the run cost.
        self.tts_characters = 0
        #: Answered TTS calls by (voice, model, language, characters): the run's own calls, which
        #: usage and retire leave out of the callers (`audit.core.owncalls`).
        self.tts_sent: Counter[SentKey] = Counter()
        #: The status DELETE_POST_PATH refused a delete with (then it is not tried again); None: not refused.
        self.delete_post_refused: int | None = None

    @cached_property
    def atoms(self) -> AtomsApi:
        """The Atoms (voice agents) endpoints, on the same host, key and transport; made (and
        their module imported) when first used, so a scan or an apply never loads them."""
        from audit.api.atoms import AtomsApi

        return AtomsApi(self._transport, self._settings)

    @property
    def account(self) -> str:
        """The account's fingerprint (a hash of the key, never the key) for run history."""
        return self._key.fingerprint()

    @property
    def base_url(self) -> str:
        """The API this client calls."""
        return self._settings.base_url

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
        await self._transport.aclose()

    # -- endpoints ---------------------------------------------------------------------

    async def health(self) -> Mapping[str, Any]:
        answer = await self._transport.call("GET", HEALTH_PATH, auth=False, max_bytes=MAX_OTHER_BYTES)
        return json_object(answer)

    async def list_clones(self) -> list[Clone]:
        """Every clone of the organisation (one unpaginated answer).

        An entry that cannot be read comes back as a placeholder Clone (`unreadable` set),
        never left out; a list answer that is not a JSON object with a `data` array is a
        BadAnswer (the run cannot know which voices exist).
        """
        cap = self._settings.max_list_bytes
        try:
            answer = await self._transport.call(
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
        body = json_object(answer, hint=retry_hint)
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
        payload = tts_body(voice_id, text, model=model, sample_rate=sample_rate, language=language,
                           output_format=output_format)
        answer = await self._transport.call(
            "POST", TTS_PATH, json=payload, headers={"Accept": "audio/wav"},
            max_bytes=self._settings.max_audio_bytes, label=f"TTS {voice_id}",
            too_large_hint="Raise [api] max_audio_bytes if the probe sentence really is that long.",
        )
        self.tts_characters += len(text)
        self.tts_sent[(voice_id, model, language or None, len(text))] += 1
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
        form = create_form(display_name=display_name, model=model, language=language, description=description,
                           accent=accent, tags=tags)
        answer = await self._transport.call(
            "POST", CREATE_PATH, data=form, files={"file": (file.name, file.data, file.mime)},
            timeout=self._settings.create_timeout_s, create=True, max_bytes=MAX_OTHER_BYTES,
            label=f"create {display_name}", on_send=on_send,
        )
        try:
            return parse_created_clone(json_object(answer))
        except (ValueError, BadAnswer) as exc:
            text = exc.message if isinstance(exc, BadAnswer) else str(exc)
            raise CreateOutcomeUnknown(
                f"create answered {answer.status} without a usable body: {text}", status=answer.status
            ) from None

    async def delete_clone(self, voice_id: str) -> str:
        """Delete a clone; the path of the route that deleted it.

        First `POST DELETE_POST_PATH` (`{"voiceId"}`), the route announced for API keys. A
        refusal that closes the route to the key (401 while it takes a dashboard token only, 403,
        405, 410) is remembered in `delete_post_refused` and the route is not asked again this
        run; any other 4xx there (a 404 or 400 about this one voice) is about this voice only.
        Either way the clone goes to `DELETE DELETE_PATH`, whose refusal is raised as it came:
        Gone (410), AuthError (401/403) or RequestRejected (404/405, 400). On a delete route those
        statuses mean "not deletable by API key", not a bad key: the caller decides
        (`audit.migrate.retire`)."""
        body = delete_body(voice_id)
        if self.delete_post_refused is None:
            try:
                await self._transport.call("POST", DELETE_POST_PATH, json=body, max_bytes=MAX_OTHER_BYTES)
                return DELETE_POST_PATH
            except (AuthError, Gone, RequestRejected) as exc:
                if exc.status in ROUTE_CLOSED:
                    self.delete_post_refused = exc.status
        await self._transport.call("DELETE", DELETE_PATH, json=body, max_bytes=MAX_OTHER_BYTES)
        return DELETE_PATH

    # -- analytics ---------------------------------------------------------------------

    ANALYTICS_PATH = "/waves/v1/analytics/tts/logs"
    #: A read of the log keeps at most this many calls: a longer log is read incomplete.
    ANALYTICS_MAX_CALLS = MAX_CALLS
    #: A read of the log starts no new page after this many seconds (it then ends within one more
    #: call's `timeout_s` and retries): a route that trickles pages out is read incomplete.
    ANALYTICS_DEADLINE_S = 900.0

    async def tts_logs(
        self, *, since: datetime | None = None, max_pages: int = 500, deadline_s: float | None = None
    ) -> TtsLogs:
        """The TTS analytics log, page by page, at most `max_pages` pages of 100, back to `since`.

        `complete` says whether the read covers the window: a caller must not read "no call"
        from an incomplete read. When to stop, and why a read is incomplete (`stopped`), is
        `analytics.LogPager`'s rule; so do `ANALYTICS_MAX_CALLS` calls kept and `deadline_s`
        (`ANALYTICS_DEADLINE_S`) spent.
        """
        deadline = self.ANALYTICS_DEADLINE_S if deadline_s is None else deadline_s
        ends = time.monotonic() + deadline
        pager = LogPager(since=since, max_pages=max_pages, max_calls=self.ANALYTICS_MAX_CALLS)
        while (page := pager.next_page()) is not None:
            if time.monotonic() >= ends:
                pager.stop(f"the read passed its deadline of {deadline:g} s")
                break
            answer = await self._transport.call(
                "GET", self.ANALYTICS_PATH, params={"page": page, "pageSize": PAGE_SIZE}, max_bytes=MAX_OTHER_BYTES)
            pager.feed(json_object(answer), len(answer.body))
        logs = pager.logs()
        if logs.skipped:
            log.warning("skipped %d analytics entries without a usable time or voice id", logs.skipped)
        if logs.stopped is not None:
            log.warning("stopped reading the TTS analytics log: %s", logs.stopped)
        return logs

    def concurrency(self) -> LimiterReport:
        """How the run used the account's concurrency: the level found, requests, 429s."""
        return self.limiter.report()

    def status(self) -> str:
        """A progress bar's note: the level in use (or the wait on a 429's window), and the latest
        retry with its cause ("connection refused, retry 3/8") while it is recent."""
        return "; ".join(n for n in (self.limiter.status(), self._transport.breaker.note()) if n)
