"""The TTS analytics log's paging protocol, without HTTP: what to ask for next, and when to stop.

Owns `LogPager`, a pure object the client feeds each page's JSON: it says which page to ask
for next (or that the read is over), keeps the calls read (parsed by `audit.api.wire`), and
says whether the read is complete and, when it stopped early, why. A page that is not the
page asked for (its `page` says another, it holds more than `PAGE_SIZE` entries, it repeats
the previous page, or on a log newest first so far it starts with an entry newer than the
previous page's last) is not counted: the read stops there, incomplete. So does the bound on
calls kept, and whatever the caller stops it for (`stop`: its deadline). With `since`, a log
ordered newest first so far is complete after the first page that reaches an entry older
than `since`; an unordered log is read to its end or to `max_pages`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from audit.api.wire import parse_tts_call
from audit.core.errors import ApiError
from audit.core.usage import TtsCall, TtsLogs

#: Entries asked for per page: the API's maximum.
PAGE_SIZE = 100
#: A read of the log keeps at most this many calls (~500 bytes of memory each, measured): a longer log is read incomplete.
MAX_CALLS = 200_000


class LogPager:
    """One read of the analytics log: `next_page()`, ask for it, `feed(body)`, until `next_page()` is None."""

    def __init__(self, *, since: datetime | None = None, max_pages: int = 500, max_calls: int = MAX_CALLS) -> None:
        self.since = since
        self.max_pages = max_pages
        self.max_calls = max_calls
        self.page = 0  # pages answered so far (the last one possibly not counted: see `stopped`)
        self.total_pages: int | None = None
        self.total_count: int | None = None
        self.calls: list[TtsCall] = []
        self.skipped = 0  # entries without a usable time or voice id
        self.stopped: str | None = None  # why the read ended before the end of the log
        self._newest_first = True  # every call so far is no newer than the one before it
        self._previous_items: list[Any] | None = None
        self._reached = False  # the end of the log, or (newest first) an entry older than `since`

    def next_page(self) -> int | None:
        """The page to ask for next (pages count from 1), or None: the read is over."""
        if self._reached or self.stopped is not None or self.page >= self.max_pages:
            return None
        if self.total_pages is not None and self.page >= self.total_pages:
            return None
        return self.page + 1

    @property
    def complete(self) -> bool:
        """The read covers the window: "no call" in it means no call."""
        if self._reached:
            return True
        return self.stopped is None and self.total_pages is not None and self.page >= self.total_pages

    def stop(self, why: str) -> None:
        """End the read here, incomplete (the caller's deadline passed)."""
        self.stopped = why

    def logs(self) -> TtsLogs:
        """What the read returned so far."""
        return TtsLogs(tuple(self.calls), self.page, self.total_count, self.complete, self.skipped, self.stopped)

    def feed(self, body: Mapping[str, Any]) -> None:
        """Take the answer to the page `next_page()` named. ApiError when it has no `data` array."""
        self.page += 1
        page = self.page
        items = body.get("data")
        if not isinstance(items, list):
            raise ApiError(
                "the TTS analytics answer has no `data` array", status=200,
                hint="The API's answer changed shape; report it with the X-Request-Id.",
            )
        self.stopped = self._not_the_page(body, items)
        if self.stopped is not None:
            return
        self.total_pages = _whole(body.get("totalPages"))
        self.total_count = _whole(body.get("totalCount"))
        page_calls: list[TtsCall] = []
        for item in items:
            try:
                page_calls.append(parse_tts_call(item if isinstance(item, Mapping) else {}))
            except (ValueError, TypeError, OverflowError):
                self.skipped += 1
        calls = self.calls
        if self._newest_first and calls and page_calls and page_calls[0].at > calls[-1].at:
            self.stopped = f"page {page} starts with a call newer than the end of page {page - 1}: the pages overlap"
            return
        if len(calls) + len(page_calls) > self.max_calls:
            self.stopped = f"the read reached its bound of {self.max_calls} calls"
            return
        previous = calls[-1].at if calls else None
        for call in page_calls:
            self._newest_first = self._newest_first and (previous is None or call.at <= previous)
            previous = call.at
        calls.extend(page_calls)
        self._previous_items = items
        passed_since = (self.since is not None and self._newest_first and page_calls
                        and page_calls[-1].at < self.since)
        self._reached = not items or bool(passed_since)

    def _not_the_page(self, body: Mapping[str, Any], items: list[Any]) -> str | None:
        """Why this answer is not page `self.page` of the log, or None when nothing says so."""
        page = self.page
        echoed = body.get("page")
        if echoed is not None and (isinstance(echoed, bool) or echoed not in (page, str(page))):
            return f"asked for page {page}, the API answered page {repr(echoed)[:20]}"
        if len(items) > PAGE_SIZE:
            return f"page {page} holds {len(items)} entries, more than the {PAGE_SIZE} asked for"
        if items and items == self._previous_items:
            return f"page {page} repeats page {page - 1}"
        return None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
