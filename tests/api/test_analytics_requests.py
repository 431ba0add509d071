"""The client's read of the TTS analytics log against respx: pages, bounds, odd answers."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
import respx

from audit.api.client import WavesClient
from audit.core.config import ApiSettings
from audit.core.errors import ApiError
from audit.core.secrets import Secret

BASE = "https://api.test"
FAST = ApiSettings(base_url=BASE, max_attempts=2, backoff_initial_s=0.0, backoff_max_s=0.01)
ROUTE = f"{BASE}/waves/v1/analytics/tts/logs"


def _entry(day: int, voice: str = "voice_AAAAAAAAAA") -> dict:
    return {"timestamp": f"2026-03-{day:02d}T12:00:00.000Z", "request_type": "tts", "model": "lightning_v3.1",
            "voice_id": voice, "language": "en", "text_len": 10, "credits": 10}


def _pages(pages: list[list[dict]]):
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        assert request.url.params["pageSize"] == "100"
        return httpx.Response(200, json={"status": "success", "data": pages[page - 1], "page": page, "pageSize": 100,
                                         "totalCount": sum(map(len, pages)), "totalPages": len(pages)})
    return answer


@pytest.fixture
async def client():
    async with WavesClient(FAST, Secret("sk_test_0123456789abcdef")) as c:
        yield c


@respx.mock
async def test_reads_every_page_to_the_end_and_skips_unusable_entries(client: WavesClient) -> None:
    route = respx.get(ROUTE).mock(side_effect=_pages([[_entry(9), {"voice_id": "no time"}], [_entry(8)], [_entry(7)]]))
    logs = await client.tts_logs()
    assert [c.at.day if c.at else None for c in logs.calls] == [9, None, 8, 7] and logs.skipped == 0
    assert logs.complete and logs.pages == 3 and route.call_count == 3


@respx.mock
async def test_a_newest_first_log_stops_at_the_window_an_unordered_one_does_not(client: WavesClient) -> None:
    respx.get(ROUTE).mock(side_effect=_pages([[_entry(20), _entry(15)], [_entry(9)], [_entry(5)]]))
    ordered = await client.tts_logs(since=datetime(2026, 3, 10, tzinfo=UTC))
    assert ordered.complete and ordered.pages == 2
    respx.get(ROUTE).mock(side_effect=_pages([[_entry(2), _entry(15)], [_entry(9)], [_entry(20)]]))
    unordered = await client.tts_logs(since=datetime(2026, 3, 10, tzinfo=UTC))
    assert unordered.complete and unordered.pages == 3


@respx.mock
async def test_the_page_bound_makes_the_read_incomplete(client: WavesClient) -> None:
    respx.get(ROUTE).mock(side_effect=_pages([[_entry(20)], [_entry(19)], [_entry(18)]]))
    logs = await client.tts_logs(max_pages=2)
    assert not logs.complete and logs.pages == 2 and len(logs.calls) == 2


@respx.mock
async def test_an_answer_without_data_is_an_api_error(client: WavesClient) -> None:
    respx.get(ROUTE).respond(200, json={"status": "success", "rows": []})
    with pytest.raises(ApiError, match="no `data` array"):
        await client.tts_logs()


def _page_one_always(entries: list[dict], *, echo: bool = True, total_pages: int = 3):
    """An analytics route that ignores `page`: every page asked for is answered with page 1."""
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"status": "success", "data": entries, "pageSize": 100, "totalCount": 300, "totalPages": total_pages}
        return httpx.Response(200, json={**body, "page": 1} if echo else body)
    return answer


@respx.mock
async def test_a_route_that_ignores_page_gives_an_incomplete_read_counted_once(client: WavesClient) -> None:
    entries = [_entry(20 - i // 10) for i in range(100)]
    route = respx.get(ROUTE).mock(side_effect=_page_one_always(entries))
    logs = await client.tts_logs(since=datetime(2026, 3, 1, tzinfo=UTC))
    assert not logs.complete and len(logs.calls) == 100 and route.call_count == 2
    assert logs.stopped is not None and "asked for page 2" in logs.stopped


@respx.mock
async def test_a_page_repeating_the_previous_one_gives_an_incomplete_read(client: WavesClient) -> None:
    for entries in ([_entry(2), _entry(20)], [_entry(20), _entry(2)]):  # unordered, newest first
        respx.get(ROUTE).mock(side_effect=_page_one_always(entries, echo=False))
        logs = await client.tts_logs()
        assert not logs.complete and len(logs.calls) == 2 and logs.stopped == "page 2 repeats page 1"


@respx.mock
async def test_a_page_starting_newer_than_the_last_one_ended_gives_an_incomplete_read(client: WavesClient) -> None:
    respx.get(ROUTE).mock(side_effect=_pages([[_entry(20), _entry(15)], [_entry(18), _entry(10)], [_entry(5)]]))
    logs = await client.tts_logs(since=datetime(2026, 3, 1, tzinfo=UTC))
    assert not logs.complete and [c.at.day for c in logs.calls] == [20, 15]
    assert "overlap" in (logs.stopped or "")


@respx.mock
async def test_a_page_holding_more_than_100_entries_is_not_counted(client: WavesClient) -> None:
    respx.get(ROUTE).mock(side_effect=_pages([[_entry(20)], [_entry(19)] * 101, [_entry(5)]]))
    logs = await client.tts_logs()
    assert not logs.complete and len(logs.calls) == 1 and "101 entries" in (logs.stopped or "")


@respx.mock
async def test_the_calls_kept_are_bounded_and_the_bound_makes_the_read_incomplete(
    client: WavesClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(WavesClient, "ANALYTICS_MAX_CALLS", 250)
    full = [[_entry(28 - p, f"voice_{p:010d}")] * 100 for p in range(5)]  # 500 calls, newest first
    respx.get(ROUTE).mock(side_effect=_pages(full))
    logs = await client.tts_logs()
    assert not logs.complete and len(logs.calls) == 200 and "bound of 250 calls" in (logs.stopped or "")


@respx.mock
async def test_a_trickling_log_is_read_until_the_deadline_and_is_incomplete(client: WavesClient) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.05)  # each page takes 50 ms: 100 pages would take 5 s
        return _pages([[_entry(10, f"voice_{p:010d}")] for p in range(100)])(request)
    route = respx.get(ROUTE).mock(side_effect=slow)
    started = time.monotonic()
    logs = await client.tts_logs(deadline_s=0.2)
    assert not logs.complete and "deadline of 0.2 s" in (logs.stopped or "")
    assert route.call_count <= 6 and time.monotonic() - started < 1.0
