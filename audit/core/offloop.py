"""Blocking work off the event loop, on one thread of its own, at a small cost per job.

Owns `OneThread`: jobs are run one at a time, in the order given, on a single thread started at
the first job, and each job's result (or exception) comes back to the event loop that awaited it.
It does what `loop.run_in_executor` on a one-worker `ThreadPoolExecutor` does, without the two
futures and their locks and callbacks per job: a job costs one queue put and one
`call_soon_threadsafe`. A job whose awaiting task was cancelled before it started is skipped;
a result for an awaiter that is gone (cancelled, or its loop closed) is dropped. At interpreter
exit the thread finishes the jobs already queued and stops, as an executor's worker does.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class OneThread:
    """One worker thread for blocking calls awaited from asyncio (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`fn(*args)` on the thread; await the returned future for its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        thread = self._thread
        if thread is None or not thread.is_alive():  # not started yet, or gone (a forked child)
            self._begin()
        self._jobs.put((loop, future, fn, args))
        return future

    def _begin(self) -> None:
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                if self._thread is None:
                    atexit.register(self._stop)
                thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                thread.start()
                self._thread = thread

    def _stop(self) -> None:
        """At exit: finish what is queued, then end the thread (it may be inside native code)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._jobs.put(None)
            thread.join()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            _do(*job)
            del job  # hold no answer while idle


def _do(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], fn: Callable[..., Any],
        args: tuple[Any, ...]) -> None:
    """One job, on the thread: its outcome handed back to the awaiting loop."""
    if future.cancelled():  # its awaiter is gone: not worth the work
        return
    error: BaseException | None = None
    try:
        result = fn(*args)
    except BaseException as exc:  # handed to the awaiter, as an executor does
        result, error = None, exc
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits for it
        loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled while the job ran
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
