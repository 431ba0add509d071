"""Running a command's coroutine to completion, as `asyncio.run` does, minus one trap.

Python 3.11's `asyncio.Runner` looks up its own SIGINT handler when the coroutine ends, and
that lookup formats the repr of the handler, which holds the main task, which holds the
task's result: the whole result, formatted into one string and thrown away. For a scan of
10,000 voices that string is ~80 MB, briefly doubling the process's memory at the very end.
`run` hands the result back through a box instead, so the task's own result is None.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, returning its result without the task holding it."""
    box: list[T] = []

    async def boxed() -> None:
        box.append(await main)

    asyncio.run(boxed())
    return box[0]
