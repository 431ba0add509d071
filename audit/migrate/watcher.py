"""The status poller of the apply stage: one list call per interval answers every voice
waiting for its new clone to finish processing (completed, failed or gone).

A failed list call is logged and tried again at the next interval; a rejected key ends
every wait with the `AuthError`. Each listing is also handed to `on_list`, so that the
executor's view of the account stays the latest one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from audit.api.client import WavesClient
from audit.core.errors import ApiWentAway, AuthError, RunError
from audit.core.models import Clone, CloneStatus

log = logging.getLogger(__name__)


class StatusWatcher:
    """One list call per interval answers every voice waiting for its clone to finish."""

    def __init__(self, client: WavesClient, interval_s: float,
                 on_list: Callable[[list[Clone], datetime], None] | None = None) -> None:
        """`on_list`: told every listing the poller gets, and when it was asked for."""
        self._client = client
        self._interval = interval_s
        self._on_list = on_list
        self._waiting: dict[str, asyncio.Future[Clone]] = {}
        self._task: asyncio.Task[None] | None = None

    async def final_state(self, voice_id: str, timeout_s: float) -> Clone | None:
        future: asyncio.Future[Clone] = asyncio.get_running_loop().create_future()
        self._waiting[voice_id] = future
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(voice_id, None)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while self._waiting:
            await asyncio.sleep(self._interval)
            if not self._waiting:  # the last waiter left while this slept
                return
            try:
                asked = datetime.now(UTC)
                clones = await self._client.list_clones()
            except (AuthError, ApiWentAway) as exc:  # every other poll would fail too
                for future in self._waiting.values():
                    if not future.done():
                        future.set_exception(exc)
                return
            except RunError as exc:
                log.warning("status poll failed, will try again: %s", exc.message)
                continue
            if self._on_list is not None:
                self._on_list(clones, asked)
            by_id = {c.voice_id: c for c in clones}
            for voice_id, future in list(self._waiting.items()):
                clone = by_id.get(voice_id)
                finished = (CloneStatus.COMPLETED, CloneStatus.FAILED, CloneStatus.MISSING)
                if clone and clone.status in finished and not future.done():
                    future.set_result(clone)
