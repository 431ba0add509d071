"""One thread off the event loop: results and errors come back to their awaiters, in order, on one
thread that is not the loop's; a job nobody waits for any more is skipped or dropped quietly."""

from __future__ import annotations

import asyncio
import threading

import pytest

from audit.core.offloop import OneThread


async def test_jobs_run_in_order_on_one_thread_that_is_not_the_loops() -> None:
    worker = OneThread("test-offloop")
    seen: list[tuple[int, str]] = []

    def job(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n * n

    results = await asyncio.gather(*(worker.run(job, n) for n in range(20)))
    assert results == [n * n for n in range(20)]
    assert [n for n, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {"test-offloop"} != {threading.current_thread().name}


async def test_an_error_in_the_job_is_raised_in_its_awaiter_and_the_thread_goes_on() -> None:
    worker = OneThread("test-offloop")

    def boom() -> None:
        raise ValueError("bad audio")

    with pytest.raises(ValueError, match="bad audio"):
        await worker.run(boom)
    assert await worker.run(len, b"abc") == 3


async def test_a_job_cancelled_before_it_starts_is_skipped_and_one_cancelled_while_running_is_dropped(
    caplog,
) -> None:
    worker = OneThread("test-offloop")
    release, started = threading.Event(), threading.Event()
    ran: list[str] = []

    def slow() -> str:
        started.set()
        release.wait(5)
        ran.append("slow")
        return "slow"

    def quick() -> str:
        ran.append("quick")
        return "quick"

    running = asyncio.ensure_future(worker.run(slow))
    queued = asyncio.ensure_future(worker.run(quick))
    await asyncio.to_thread(started.wait, 5)
    running.cancel()
    queued.cancel()
    release.set()
    assert await worker.run(str, 7) == "7"  # the thread got past both
    assert ran == ["slow"] and running.cancelled() and queued.cancelled()
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]  # nothing set twice
