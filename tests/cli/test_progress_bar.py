"""The progress bar a person watches: done/total, the rate, the live counts by outcome and the
pipeline's note, as drawn (an item done is only counted; the bar works the rest out when drawn)."""

from __future__ import annotations

import io
import re
import time

from rich.console import Console

from audit.console import BarProgress


def drawn(bar: BarProgress) -> str:
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(bar._bar.get_renderable())
    return console.export_text()


def test_the_bar_shows_done_rate_counts_and_note() -> None:
    bar = BarProgress()
    bar.start(10, "Probing each clone")
    bar.watch(lambda: "2 at once")
    for outcome in ("speaks", "short-wav", "speaks"):
        time.sleep(0.02)
        bar.advance(outcome)
    line = drawn(bar)
    assert "Probing each clone" in line and "3/10" in line
    assert "short-wav 1 speaks 2" in line and "2 at once" in line
    assert re.search(r"\b\d+\.\d/s\b", line)
    assert bar.done == 3


def test_a_new_stage_starts_its_counts_afresh() -> None:
    bar = BarProgress()
    bar.start(2, "Probing each clone")
    bar.advance("speaks")
    bar.start(5, "Writing")
    bar.advance()
    line = drawn(bar)
    assert "1/5" in line and "speaks" not in line
