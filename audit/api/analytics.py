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

Any doubt makes the read incomplete, never complete: pages whose `page`, `pageSize`,
`totalCount`, `totalPages` or content contradict each other (a total of pages too small for
the count, an empty page before the count is read, a last page reached with fewer entries
read than the count says, a page size or page total that changes between pages). A call
whose time cannot be read, or one given without a zone, never ends a newest-first read early:
only a time known to lie before `since` (a zoneless one `ZONELESS_SLACK` later) does. Reads are
bounded in entries (`MAX_CALLS`) and in bytes (`MAX_BYTES` of answers in all): a log past
either bound is read incomplete.
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
#: A read of the log takes at most this many bytes of answers in all: a longer one is read incomplete.
MAX_BYTES = 64 * 1024 * 1024


class LogPager:
    """One read of the analytics log: `next_page()`, ask for it, `feed(body)`, until `next_page()` is None."""

    def __init__(self, *, since: datetime | None = None, max_pages: int = 500, max_calls: int = MAX_CALLS,
                 max_bytes: int = MAX_BYTES) -> None:
        self.since = since
        self.max_pages = max_pages
        self.max_calls = max_calls
        self.max_bytes = max_bytes
        self.bytes_read = 0
        self.entries = 0  # entries the pages held, parsed or not
        self.page = 0  # pages answered so far (the last one possibly not counted: see `stopped`)
        self.total_pages: int | None = None
        self.total_count: int | None = None
        self.calls: list[TtsCall] = []
        self.skipped = 0  # entries without a usable time or voice id
        self.stopped: str | None = None  # why the read ended before the end of the log
        self._newest_first = True  # every call so far is no newer than the one before it
        self._previous_items: list[Any] | None = None
        self._last_known: datetime | None = None  # the time of the last call read whose time is known
        self._size: int | None = None  # the page size the answers say they use
        self._shape: tuple[int | None, int | None] | None = None  # (totalCount, totalPages) of page 1
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
        if self.stopped is not None:
            return False
        if self._reached:
            return True
        return self.total_pages is not None and self.page >= self.total_pages

    def stop(self, why: str) -> None:
        """End the read here, incomplete (the caller's deadline passed)."""
        self.stopped = why

    def logs(self) -> TtsLogs:
        """What the read returned so far."""
        return TtsLogs(tuple(self.calls), self.page, self.total_count, self.complete, self.skipped, self.stopped)

    def feed(self, body: Mapping[str, Any], size: int = 0) -> None:
        """Take the answer (`size` bytes) to the page `next_page()` named. ApiError when it has no
        `data` array."""
        self.page += 1
        page = self.page
        self.bytes_read += size
        if self.bytes_read > self.max_bytes:
            self.stopped = f"the read reached its bound of {self.max_bytes:,} bytes of answers"
            return
        items = body.get("data")
        if not isinstance(items, list):
            raise ApiError(
                "the TTS analytics answer has no `data` array", status=200,
                hint="The API's answer changed shape; report it with the X-Request-Id.",
            )
        self.stopped = self._not_the_page(body, items) or self._contradiction(body, items)
        if self.stopped is not None:
            return
        self.total_pages = _whole(body.get("totalPages"))
        self.total_count = _whole(body.get("totalCount"))
        self.entries += len(items)
        page_calls: list[TtsCall] = []
        for item in items:
            try:
                page_calls.append(parse_tts_call(item if isinstance(item, Mapping) else {}))
            except (ValueError, TypeError, OverflowError):
                self.skipped += 1
        calls = self.calls
        known = [c.at for c in page_calls if c.at is not None]
        if self._newest_first and known and self._last_known is not None and known[0] > self._last_known:
            self.stopped = f"page {page} starts with a call newer than the end of page {page - 1}: the pages overlap"
            return
        if len(calls) + len(page_calls) > self.max_calls:
            self.stopped = f"the read reached its bound of {self.max_calls} calls"
            return
        previous = self._last_known
        for at in known:
            self._newest_first = self._newest_first and (previous is None or at <= previous)
            previous = at
        self._last_known = previous
        calls.extend(page_calls)
        self._previous_items = items
        last = page_calls[-1] if page_calls else None
        passed_since = (self.since is not None and self._newest_first and last is not None
                        and last.latest is not None and last.latest < self.since)
        if not items and self.total_count is not None and self.entries < self.total_count:
            self.stopped = (f"page {page} is empty, but the log says it holds {self.total_count} entries "
                            f"and {self.entries} were read")
            return
        self._reached = not items or bool(passed_since)
        if (not self._reached and self.total_pages is not None and page >= self.total_pages
                and self.total_count is not None and self.entries < self.total_count):
            self.stopped = (f"the last page ({page} of {self.total_pages}) was read with {self.entries} "
                            f"entries, but the log says it holds {self.total_count}")

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


    def _contradiction(self, body: Mapping[str, Any], items: list[Any]) -> str | None:
        """Why this page's fields and content contradict each other or earlier pages, or None."""
        page = self.page
        count, pages = _whole(body.get("totalCount")), _whole(body.get("totalPages"))
        size = _whole(body.get("pageSize")) or PAGE_SIZE
        if size < 1 or size > PAGE_SIZE:
            return f"page {page} says its pages hold {body.get('pageSize')!r} entries, not at most {PAGE_SIZE}"
        if self._size is not None and size != self._size:
            return f"page {page} says pages hold {size} entries, page 1 said {self._size}"
        self._size = size
        if len(items) > size:
            return f"page {page} holds {len(items)} entries, more than its page size of {size}"
        if count is not None and pages is not None and pages * size < count:
            return f"page {page} says {pages} page(s) of {size} hold {count} entries"
        if self._shape is not None and pages is not None and self._shape[1] is not None and pages < self._shape[1]:
            return f"page {page} says the log has {pages} page(s), page 1 said {self._shape[1]}"
        if self._shape is None:
            self._shape = (count, pages)
        return None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
