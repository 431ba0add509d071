"""Usage per voice id from the TTS analytics log, command-line dates, the quiet check of
retire, and the cutover section of the migration report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from audit.core.errors import UsageError
from audit.core.usage import TtsCall, VoiceUsage, parse_since, usage_by_voice
from audit.cutover import record
from audit.migrate.retire import still_called
from audit.report.html import render_report_html
from audit.report.tables import COLUMNS

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_tts_call_parses_the_api_entry_and_refuses_unusable_ones() -> None:
    call = TtsCall.from_api({"timestamp": "2026-03-01T10:00:00.123Z", "request_type": "tts", "model": "lightning_v3.1",
                             "voice_id": "voice_AAAAAAAAAA", "language": "en", "text_len": 42, "credits": 42})
    assert call == TtsCall(datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC), "voice_AAAAAAAAAA", 42,
                           "lightning_v3.1", "en")
    assert TtsCall.from_api({"timestamp": 1772359200000, "voice_id": "voice_x"}).at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    for bad in ({"voice_id": "voice_x"}, {"timestamp": "2026-03-01T10:00:00Z"}, {"timestamp": "soon", "voice_id": "v"}):
        with pytest.raises(ValueError):
            TtsCall.from_api(bad)


def test_usage_counts_calls_in_the_window_and_states_quiet_ids() -> None:
    calls = [
        TtsCall(T0 - timedelta(seconds=1), "old", 10),  # before the window
        TtsCall(T0, "old", 20),
        TtsCall(T0 + timedelta(days=2), "old", 30),
        TtsCall(T0 + timedelta(days=1), "new", 5),
        TtsCall(T0 + timedelta(days=9), "old", 99),  # after `until`
    ]
    usage = usage_by_voice(calls, T0, T0 + timedelta(days=5), voice_ids=["old", "quiet"])
    assert usage == {
        "old": VoiceUsage("old", 2, 50, T0 + timedelta(days=2)),
        "quiet": VoiceUsage("quiet", 0, 0, None),
        "new": VoiceUsage("new", 1, 5, T0 + timedelta(days=1)),
    }


def test_since_takes_a_date_or_a_time_and_refuses_the_future_and_nonsense() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert parse_since("2026-03-01", now=now) == T0
    assert parse_since("2026-03-01T14:00:00+02:00", now=now) == datetime(2026, 3, 1, 12, tzinfo=UTC)
    with pytest.raises(UsageError, match="in the future"):
        parse_since("2026-07-01", now=now)
    with pytest.raises(UsageError, match="'last week' is not a date"):
        parse_since("last week", now=now)


def test_retire_holds_back_ids_still_called() -> None:
    usage = {"a": VoiceUsage("a", 3, 90, T0), "b": VoiceUsage("b", 0, 0, None)}
    quiet, called = still_called(["a", "b", "c"], usage)
    assert quiet == ["b", "c"] and called == [usage["a"]]


def test_the_report_shows_the_cutover_section_only_when_there_is_one() -> None:
    meta = {"run_id": "r1", "finished_at": "2026-03-02", "base_url": "http://x", "version": "0",
            "exit_code": 0, "parameters": {"probe": {"policy": "all"}}}
    frame = pd.DataFrame([], columns=list(COLUMNS))
    assert "Cutover of callers" not in render_report_html(meta, frame)
    rows = record.usage_rows([("voice_OLD0000001", "<b>Emma</b>", "voice_NEW0000001", True),
                              ("voice_OLD0000002", "Raj", None, False)],
                             {"voice_OLD0000001": VoiceUsage("voice_OLD0000001", 7, 300, T0),
                              "voice_NEW0000001": VoiceUsage("voice_NEW0000001", 40, 900, T0)})
    cutover = record.merge(None, Path("m.csv"),
                           usage=record.usage_section(rows, T0, T0, complete=True, pages=3),
                           write={"at": "2026-03-01T00:00:00+00:00", "files": 4, "replacements": 9,
                                  "rollback_file": "/r/rollback-1.json", "refused": []})
    cutover = record.merge(cutover, Path("m.csv"), write={"at": "t2", "files": 1, "replacements": 2,
                                                          "rollback_file": "/r/rollback-2.json", "refused": []})
    html = render_report_html(meta, frame, cutover=cutover)
    assert "Cutover of callers" in html and "/r/rollback-1.json" in html and "/r/rollback-2.json" in html
    assert '<div class="n">11</div>replacements written' in html
    assert '<div class="n">1</div>old ids still called' in html
    assert "voice_OLD0000001" in html and "voice_OLD0000002" not in html  # only ids that were called
    assert "&lt;b&gt;Emma&lt;/b&gt;" in html
