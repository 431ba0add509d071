"""Usage per voice id from the TTS analytics log, command-line dates, the quiet check of
retire, the cutover section of the migration report, and a scan's usage window, order and
headline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from audit.api.wire import parse_tts_call
from audit.core.errors import UsageError
from audit.core.models import Clone, CloneStatus, ProbeResult, ProbeVerdict, VoiceResult
from audit.core.usage import doubts, TtsCall, TtsLogs, VoiceUsage, parse_since, usage_by_voice, window_usage
from audit.cutover import record
from audit.migrate.retire import still_called
from audit.report.html import render_report_html
from audit.report.tables import COLUMNS, records, voice_frame
from audit.report.text import traffic, usage_banner
from audit.scan.rules import classify, decide

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_tts_call_parses_the_api_entry_and_refuses_unusable_ones() -> None:
    call = parse_tts_call({"timestamp": "2026-03-01T10:00:00.123Z", "request_type": "tts", "model": "lightning_v3.1",
                             "voice_id": "voice_AAAAAAAAAA", "language": "en", "text_len": 42, "credits": 42})
    assert call == TtsCall(datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC), "voice_AAAAAAAAAA", 42,
                           "lightning_v3.1", "en")
    assert parse_tts_call({"timestamp": 1772359200000, "voice_id": "voice_x"}).at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError):  # no voice id: not a call of anyone's
        parse_tts_call({"timestamp": "2026-03-01T10:00:00Z"})
    for timeless in ({"voice_id": "voice_x"}, {"timestamp": "soon", "voice_id": "v"}, {"timestamp": None, "voice_id": "v"},
                     {"timestamp": 10 ** 40, "voice_id": "v"}):
        assert parse_tts_call(timeless).at is None  # a call at an unknown time, never skipped


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


def _logs(calls: list[TtsCall], complete: bool) -> TtsLogs:
    return TtsLogs(tuple(sorted(calls, key=lambda c: c.at, reverse=True)), pages=2, total_count=None, complete=complete)


def test_a_scans_window_ends_at_its_start_and_an_incomplete_read_gives_no_zeros() -> None:
    start = T0 + timedelta(days=7)
    calls = [
        TtsCall(T0 - timedelta(hours=1), "a", 10),  # before the window
        TtsCall(T0 + timedelta(days=1), "a", 20),
        TtsCall(start - timedelta(seconds=1), "a", 30),
        TtsCall(start, "quiet", 45),  # the run's own probe, at its start: not counted
        TtsCall(start + timedelta(seconds=3), "a", 45),  # and after it
    ]
    usage, window = window_usage(_logs(calls, True), 7, start, ["a", "quiet", "b"])
    assert usage == {"a": VoiceUsage("a", 2, 50, start - timedelta(seconds=1)),
                     "quiet": VoiceUsage("quiet", 0, 0, None), "b": VoiceUsage("b", 0, 0, None)}
    assert (window.since, window.until, window.complete, window.calls) == (T0, start, True, 2)
    usage, window = window_usage(_logs(calls[1:], False), 7, start, ["a", "quiet", "b"])
    assert set(usage) == {"a"}  # `quiet` and `b` are not known to be quiet: no number at all
    assert window.as_dict()["complete"] is False and window.covered_since == T0 + timedelta(days=1)


def _scan_results() -> list[VoiceResult]:
    def voice(voice_id: str, probe: ProbeVerdict, models: tuple[str, ...]) -> VoiceResult:
        clone = Clone(voice_id=voice_id, display_name=voice_id.title(), status=CloneStatus.COMPLETED,
                      raw_status="completed", model_ids=models)
        return decide(clone, classify(clone), ProbeResult(probe, "probe"))
    legacy, v31 = ("lightning-large",), ("lightning-v3.1",)
    return [voice("voice_aaa", ProbeVerdict.SHORT_WAV, legacy), voice("voice_bbb", ProbeVerdict.SHORT_WAV, legacy),
            voice("voice_ccc", ProbeVerdict.ERROR, v31), voice("voice_ddd", ProbeVerdict.SHORT_WAV, legacy),
            voice("voice_eee", ProbeVerdict.SPEAKS, v31)]


def test_the_findings_go_most_called_first_and_the_headline_counts_the_still_called() -> None:
    usage = {"voice_aaa": VoiceUsage("voice_aaa", 3, 90, T0), "voice_bbb": VoiceUsage("voice_bbb", 0, 0, None),
             "voice_ccc": VoiceUsage("voice_ccc", 7, 70, T0), "voice_ddd": VoiceUsage("voice_ddd", 1201, 9000, T0),
             "voice_eee": VoiceUsage("voice_eee", 5000, 1, T0)}
    frame = voice_frame(_scan_results(), T0, usage)
    assert list(frame["voice_id"]) == ["voice_ddd", "voice_ccc", "voice_aaa", "voice_bbb", "voice_eee"]
    assert list(frame["usage_calls"]) == [1201, 7, 3, 0, 5000]
    assert frame["usage_last_call"][0] == T0.isoformat(timespec="seconds")
    window = {"days": 7, "complete": True}
    rows = records(frame)
    assert traffic(rows, window) == "2 of the 3 answer silence to real callers: 1,204 calls in 7 days."
    assert traffic(rows, {"days": 7, "complete": False, "covered_since": "2026-03-05T00:00:00+00:00"}) == (
        "At least 2 of the 3 answer silence to real callers: at least 1,204 calls in 7 days "
        "(the TTS log was read back only to 2026-03-05).")
    assert traffic(rows, None) is None and usage_banner(window) is None
    html = render_report_html({"run_id": "r1", "finished_at": "2026-03-08", "base_url": "http://x", "version": "0",
                               "exit_code": 1, "parameters": {}, "usage": {**window, "until": "2026-03-08"}}, frame)
    assert "1,204 calls in 7 days" in html and "Calls to non-compliant voices in the last 7 days" in html
    assert html.index("voice_ddd") < html.index("voice_ccc") < html.index("voice_aaa")
    # without usage numbers: as before, by verdict then name, and nothing said about calls
    plain = voice_frame(_scan_results(), T0)
    assert list(plain["voice_id"]) == ["voice_aaa", "voice_bbb", "voice_ddd", "voice_ccc", "voice_eee"]
    assert plain["usage_calls"].isna().all() and "real callers" not in render_report_html(
        {"run_id": "r1", "finished_at": "2026-03-08", "base_url": "http://x", "version": "0", "exit_code": 1,
         "parameters": {}}, plain)


@pytest.mark.parametrize(("stamp", "zoneless"), [
    ("2026-03-01 10:00:00 UTC", False), ("2026-03-01T10:00:00Z", False), ("2026-03-01T11:00:00+01:00", False),
    (1772359200, False), (1772359200000, False), (1772359200000000, False), (1772359200000000000, False),
    ("2026-03-01 10:00:00", True), ("2026-03-01T10:00:00", True),
])
def test_every_documented_timestamp_form_is_read(stamp: object, zoneless: bool) -> None:
    call = parse_tts_call({"timestamp": stamp, "voice_id": "v"})
    assert call.at == datetime(2026, 3, 1, 10, tzinfo=UTC) and call.zoneless is zoneless


def test_any_doubt_in_the_log_counts_as_a_call_since_the_date() -> None:
    since = T0
    calls = [
        TtsCall(None, "unknown", 10),  # its time could not be read
        TtsCall(T0 - timedelta(hours=13), "zoneless", 10, zoneless=True),  # may be an hour after `since`
        TtsCall(T0 - timedelta(hours=15), "long_ago", 10, zoneless=True),  # before `since` even 14 h later
        TtsCall(T0 - timedelta(hours=1), "before", 10),  # a zoned time before `since`
    ]
    usage = usage_by_voice(calls, since, voice_ids=["unknown", "zoneless", "long_ago", "before"])
    assert {v: u.calls for v, u in usage.items()} == {"unknown": 1, "zoneless": 1, "long_ago": 0, "before": 0}
    assert usage["unknown"].unknown_time == 1 and usage["zoneless"].zoneless == 1
    assert "could not be read" in doubts(usage) and "14 h later" in doubts(usage)
