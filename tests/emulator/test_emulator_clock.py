"""The emulator's clocks: a manual clock moves only when a test advances it, and its sleeps with it."""

from __future__ import annotations

import asyncio

import pytest

from audit.emulator import CloneRecord, EmulatorConfig, EmulatorState, ManualClock, SystemClock
from audit.emulator.state import CloneLifecycle


def test_a_manual_clock_stands_still_until_advanced() -> None:
    clock = ManualClock(start=1_000.0)
    assert (clock.now(), clock.monotonic()) == (1_000.0, 0.0)
    clock.advance(2.5)
    assert (clock.now(), clock.monotonic()) == (1_002.5, 2.5)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1.0)


async def test_a_sleep_on_a_manual_clock_ends_when_an_advance_reaches_its_end() -> None:
    clock = ManualClock()
    sleeping = asyncio.create_task(clock.sleep(2.0))
    await asyncio.sleep(0)
    clock.advance(1.5)
    await asyncio.sleep(0)
    assert not sleeping.done()
    clock.advance(0.5)
    await asyncio.wait_for(sleeping, timeout=5)


async def test_a_ticking_manual_clock_also_follows_real_time() -> None:
    clock = ManualClock(ticking=True)
    before = clock.monotonic()
    await asyncio.wait_for(clock.sleep(0.05), timeout=5)  # nobody advances it: real time ends the sleep
    assert clock.monotonic() - before >= 0.05
    clock.advance(3600)
    assert clock.monotonic() - before >= 3600.05


def test_the_state_runs_on_the_clock_it_is_given() -> None:
    clock = ManualClock(start=1_700_000_000.0)
    record = CloneRecord("voice_a", "v3.1", {"displayName": "A"}, lifecycle=CloneLifecycle(0.0, 1.0, 2.0, "completed"))
    state = EmulatorState(EmulatorConfig(), [record], clock)
    seen = []
    for step in (0.0, 1.0, 2.0):
        clock.advance(step)
        seen.append(state.clone("voice_a").status(state.now()))  # type: ignore[union-attr]
    assert seen == ["pending", "processing", "completed"]
    state.record_tts("voice_a", "lightning-v3.1", "en", 12)
    assert [r.at for r in state.tts_log()] == [1_700_000_003.0]
    assert isinstance(EmulatorState().clock, SystemClock)  # real time unless told otherwise
