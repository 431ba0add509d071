"""The apply stage's scheduler: keep up to [apply] max_in_progress voices going at once.

`run_entries` hands the selected entries to workers, each taking one voice at a time from
a shared queue through a `VoiceRunner` (the `Migrator`, `audit.migrate.executor`); worker
i starts a voice only while i is below the current width, so the run widens and narrows
with the account's limit. It stops early on --fail-fast or a full clone quota.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Protocol

from audit.migrate.document import PlanEntry
from audit.migrate.state import State


class VoiceRunner(Protocol):
    """What the scheduler needs of the executor (`audit.migrate.executor.Migrator`)."""

    quota_reached: str | None  # set once a create was refused for the clone quota: the run stops

    async def migrate(self, entry: PlanEntry) -> State: ...

    async def aclose(self) -> None: ...


#: How often an idle worker looks whether the limit has grown enough for it to start a voice.
WIDEN_POLL_S = 0.1


async def run_entries(
    migrator: VoiceRunner, entries: Collection[PlanEntry], width: Callable[[], int], workers: int, fail_fast: bool,
    on_done: Callable[[PlanEntry, State], None],
) -> bool:
    """Work through `entries` with up to `workers` workers. Returns True if stopped early.

    `width()` is how many voices may be in progress now (the pipeline passes the limiter's
    current level plus the voices waiting on processing): worker i takes a voice only while i
    is below it. A create that then still waits for a slot is stamped again as it goes out
    (`Migrator._create`), so its unknown-outcome window starts at the send."""
    queue: asyncio.Queue[PlanEntry] = asyncio.Queue()
    for entry in entries:
        queue.put_nowait(entry)
    stop = asyncio.Event()

    async def worker(index: int) -> None:
        while not stop.is_set():
            if index > 0 and index >= width():
                if queue.empty():
                    return
                await asyncio.sleep(WIDEN_POLL_S)
                continue
            try:
                entry = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            state = await migrator.migrate(entry)
            on_done(entry, state)
            if (fail_fast and state is not State.VERIFIED) or migrator.quota_reached:
                stop.set()

    try:
        async with asyncio.TaskGroup() as group:
            for index in range(max(1, min(workers, len(entries)))):
                group.create_task(worker(index))
    finally:
        await migrator.aclose()
    return stop.is_set() and not queue.empty()
