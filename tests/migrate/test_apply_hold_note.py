"""Apply holding back a create that was cut off (its outcome unknown) says so, with the time it
may go out again, on the progress bar's note and as a warning, and its ETA counts the wait."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit.api.client import WavesClient
from audit.core.secrets import Secret
from audit.emulator import ManualClock
from audit.migrate.selection import ApplyOptions
from audit.pipeline.apply import apply_plan
from tests.support.emulator import running
from tests.support.migration import YES, plan, reclone_ids

pytestmark = pytest.mark.integration


class Watching:
    """A Progress that samples the pipeline's note and the ETA's floor while the run goes."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.floors: list[float] = []
        self._status: Callable[[], str] | None = None
        self._at_least: Callable[[], float | None] | None = None

    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, outcome: str | None = None) -> None:
        pass

    def watch(self, status: Callable[[], str] | None, at_least: Callable[[], float | None] | None = None) -> None:
        self._status, self._at_least = status, at_least

    async def sample(self) -> None:
        while True:
            if self._status is not None:
                self.notes.append(self._status())
            if self._at_least is not None and (floor := self._at_least()) is not None:
                self.floors.append(floor)
            await asyncio.sleep(0.02)


async def test_a_held_back_create_is_named_with_the_time_it_goes_out_and_counted_in_the_eta(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Every create times out (but happens); the list shows it only after 1 s of the emulator's
    # clock; so apply holds the voice back for create_timeout_s + settle_s before sending again.
    clock = ManualClock(ticking=True)
    with running(30, 4, tmp_path, clock, create_timeout_rate=1.0, list_lag_s=1.0, clone_quota=31) as (server, settings):
        settings = replace(settings, api=replace(settings.api, create_timeout_s=1.0),
                           apply=replace(settings.apply, settle_s=0.5))
        planned = await plan(server, settings, tmp_path / "out")
        one = ApplyOptions(only=frozenset(reclone_ids(planned)[:1]))
        watching = Watching()
        sampler = asyncio.create_task(watching.sample())
        started = datetime.now(UTC)
        with caplog.at_level(logging.WARNING, logger="audit"):
            async with WavesClient(settings.api, Secret(server.api_key)) as client:
                await apply_plan(client, settings, planned.plan_path, one, YES, progress=watching)
        sampler.cancel()
    held = [m for m in caplog.messages if "holding back a create that was cut off" in m]
    assert held, caplog.messages
    until = re.search(r"until (\d\d:\d\d:\d\d) UTC", held[0])
    assert until is not None
    goes_out = datetime.combine(started.date(), datetime.strptime(until.group(1), "%H:%M:%S").time(), UTC)
    assert started - timedelta(seconds=2) <= goes_out <= started + timedelta(seconds=30)
    assert any(n.startswith("holding back 1 cut-off create") for n in watching.notes), set(watching.notes)
    assert watching.floors and max(watching.floors) > 0.5  # the ETA is at least the wait left
