"""The TTS analytics paging protocol, fed plain page dicts: what to ask next, when a read is complete."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.api.analytics import PAGE_SIZE, LogPager
from audit.core.errors import ApiError


def _entry(day: int, voice: str = "voice_AAAAAAAAAA") -> dict:
    return {"timestamp": f"2026-03-{day:02d}T12:00:00.000Z", "voice_id": voice, "text_len": 10}


def _page(number: int, entries: list[dict], total_pages: int | None = 3, **extra: object) -> dict:
    body: dict = {"status": "success", "data": entries, "page": number, "pageSize": PAGE_SIZE}
    if total_pages is not None:
        body["totalPages"], body["totalCount"] = total_pages, 42
    return {**body, **extra}


def _read(pager: LogPager, pages: list[list[dict]], **extra: object) -> list[int]:
    """Feed `pages` as a consistent API would answer them (its page size the longest page, its
    count every entry); the pages asked for, in order."""
    shape = {"pageSize": max(1, max(len(p) for p in pages)), "totalCount": sum(len(p) for p in pages)}
    asked = []
    while (number := pager.next_page()) is not None:
        asked.append(number)
        pager.feed(_page(number, pages[number - 1], total_pages=len(pages), **{**shape, **extra}))
    return asked


def test_a_read_asks_for_each_page_in_turn_and_is_complete_at_the_last() -> None:
    pager = LogPager()
    assert pager.next_page() == 1 and not pager.complete
    assert _read(pager, [[_entry(9), {"voice_id": "no time"}, {"text_len": 3}], [_entry(8)], [_entry(7)]]) == [1, 2, 3]
    logs = pager.logs()
    assert logs.complete and logs.pages == 3 and logs.total_count == 5 and logs.stopped is None
    # an entry without a voice id is skipped; one without a readable time is a call at an unknown time
    assert [c.at.day if c.at else None for c in logs.calls] == [9, None, 8, 7] and logs.skipped == 1


def test_an_empty_page_ends_the_log_even_without_a_total() -> None:
    pager = LogPager()
    pager.feed({"data": [_entry(9)]})
    assert pager.next_page() == 2 and not pager.complete  # no totalPages: the read cannot know
    pager.feed({"data": []})
    assert pager.next_page() is None and pager.complete and len(pager.calls) == 1


def test_a_newest_first_log_is_complete_once_a_page_reaches_past_since() -> None:
    pager = LogPager(since=datetime(2026, 3, 10, tzinfo=UTC))
    assert _read(pager, [[_entry(20), _entry(15)], [_entry(9)], [_entry(5)]]) == [1, 2]
    assert pager.complete


def test_an_unordered_log_is_read_to_its_end_whatever_since_says() -> None:
    pager = LogPager(since=datetime(2026, 3, 10, tzinfo=UTC))
    assert _read(pager, [[_entry(2), _entry(15)], [_entry(9)], [_entry(20)]]) == [1, 2, 3]
    assert pager.complete


def test_the_page_bound_ends_the_read_incomplete_without_a_reason() -> None:
    pager = LogPager(max_pages=2)
    assert _read(pager, [[_entry(20)], [_entry(19)], [_entry(18)]]) == [1, 2]
    assert not pager.complete and pager.stopped is None and pager.logs().pages == 2


@pytest.mark.parametrize("echoed", [1, "1", True, None])
def test_an_answer_naming_another_page_is_not_counted(echoed: object) -> None:
    pager = LogPager()
    pager.feed(_page(1, [_entry(20)]))
    pager.feed({**_page(2, [_entry(19)]), "page": echoed})
    if echoed is None:  # no page named: nothing says it is the wrong one
        assert pager.stopped is None and len(pager.calls) == 2
        return
    assert pager.stopped == f"asked for page 2, the API answered page {echoed!r}"
    assert pager.next_page() is None and not pager.complete and len(pager.calls) == 1


def test_a_page_repeating_the_previous_one_is_not_counted() -> None:
    pager = LogPager()
    pager.feed({"data": [_entry(2), _entry(20)], "totalPages": 3})
    pager.feed({"data": [_entry(2), _entry(20)], "totalPages": 3})
    assert pager.stopped == "page 2 repeats page 1" and len(pager.calls) == 2 and not pager.complete


def test_a_page_starting_newer_than_the_last_one_ended_means_the_pages_overlap() -> None:
    pager = LogPager(since=datetime(2026, 3, 1, tzinfo=UTC))
    assert _read(pager, [[_entry(20), _entry(15)], [_entry(18), _entry(10)], [_entry(5)]]) == [1, 2]
    assert "overlap" in (pager.stopped or "") and [c.at.day for c in pager.calls] == [20, 15]


def test_a_page_holding_more_than_the_page_size_is_not_counted() -> None:
    pager = LogPager()
    assert _read(pager, [[_entry(20)], [_entry(19)] * (PAGE_SIZE + 1), [_entry(5)]], pageSize=PAGE_SIZE) == [1, 2]
    assert f"{PAGE_SIZE + 1} entries" in (pager.stopped or "") and len(pager.calls) == 1


def test_the_calls_kept_are_bounded_and_the_bound_makes_the_read_incomplete() -> None:
    pager = LogPager(max_calls=250)
    _read(pager, [[_entry(28 - p, f"voice_{p:010d}")] * 100 for p in range(5)])
    assert len(pager.calls) == 200 and pager.stopped == "the read reached its bound of 250 calls"
    assert not pager.logs().complete


def test_a_read_stopped_by_its_caller_is_incomplete_and_says_why() -> None:
    pager = LogPager()
    pager.feed(_page(1, [_entry(20)]))
    pager.stop("the read passed its deadline of 0.2 s")
    logs = pager.logs()
    assert pager.next_page() is None and not logs.complete and logs.stopped == "the read passed its deadline of 0.2 s"


def test_an_answer_without_a_data_array_is_an_api_error() -> None:
    with pytest.raises(ApiError, match="no `data` array"):
        LogPager().feed({"status": "success", "rows": []})


@pytest.mark.parametrize("total", [-1, "3", True, 2.0])
def test_a_total_that_is_not_a_whole_number_is_not_believed(total: object) -> None:
    pager = LogPager()
    pager.feed({"data": [_entry(20)], "totalPages": total, "totalCount": total})
    assert pager.total_pages is None and pager.total_count is None and pager.next_page() == 2


def test_pages_whose_totals_contradict_their_content_make_the_read_incomplete() -> None:
    one_page = LogPager()  # says one page of 100, but 250 entries
    one_page.feed({"data": [_entry(9)] * 100, "page": 1, "pageSize": 100, "totalPages": 1, "totalCount": 250})
    assert one_page.next_page() is None and not one_page.complete and "250" in (one_page.stopped or "")

    short = LogPager()  # the last page reached with fewer entries than the count
    short.feed({"data": [_entry(9)] * 3, "page": 1, "pageSize": 3, "totalPages": 2, "totalCount": 5})
    short.feed({"data": [_entry(8)] * 1, "page": 2, "pageSize": 3, "totalPages": 2, "totalCount": 5})
    assert not short.complete and "holds 5" in (short.stopped or "")

    empty = LogPager()  # an empty page before the count is read
    empty.feed({"data": [_entry(9)] * 2, "page": 1, "pageSize": 2, "totalCount": 6})
    empty.feed({"data": [], "page": 2, "pageSize": 2, "totalCount": 6})
    assert not empty.complete and "empty" in (empty.stopped or "")

    resized = LogPager()  # the page size changes between pages
    resized.feed({"data": [_entry(9)] * 2, "page": 1, "pageSize": 2, "totalPages": 3, "totalCount": 6})
    resized.feed({"data": [_entry(8)] * 3, "page": 2, "pageSize": 3, "totalPages": 3, "totalCount": 6})
    assert not resized.complete and resized.stopped is not None


def test_the_bytes_read_are_bounded_and_the_bound_makes_the_read_incomplete() -> None:
    pager = LogPager(max_bytes=1000)
    pager.feed(_page(1, [_entry(9)], total_pages=3, pageSize=1, totalCount=3), 600)
    pager.feed(_page(2, [_entry(8)], total_pages=3, pageSize=1, totalCount=3), 600)
    assert pager.next_page() is None and not pager.complete and "1,000 bytes" in (pager.stopped or "")
    assert len(pager.calls) == 1


def test_an_unreadable_or_zoneless_time_never_ends_a_newest_first_read_early() -> None:
    since = datetime(2026, 3, 10, tzinfo=UTC)
    unknown = LogPager(since=since)
    _read(unknown, [[_entry(20), {"voice_id": "v", "timestamp": None}], [_entry(5)]])
    assert unknown.page == 2 and unknown.complete  # the unknown time did not stop it after page 1
    zoneless = LogPager(since=since)  # 21:00 on the 9th without a zone may be 11:00 on the 10th in UTC
    _read(zoneless, [[_entry(20), {"voice_id": "v", "timestamp": "2026-03-09 21:00:00"}], [_entry(5)]])
    assert zoneless.page == 2 and zoneless.complete
