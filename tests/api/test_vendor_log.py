"""The TTS analytics log in the vendor's shape (waves-analytics-openapi.yaml): every documented
field read, and a time without a zone (the server's local time, ahead of or behind UTC) never
makes a call vanish from a window it may fall in; the emulator's zone knob over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audit.api.client import WavesClient
from audit.api.wire import parse_tts_call
from audit.core.config import ApiSettings
from audit.core.secrets import Secret
from audit.core.usage import TtsCall, TtsLogs, usage_by_voice, window_usage, zone_note
from audit.emulator import EmulatorServer, ManualClock
from audit.emulator.traffic import TtsLogRecord

#: An entry as the vendor's spec shows one (its example, with our own values).
VENDOR_ENTRY = {
    "timestamp": "2026-08-07 08:17:20", "request_type": "ws", "model": "lightning-v3.1-pro", "voice_id": "voice_abc",
    "language": "en", "text": "Your table for four is booked.", "text_len": 30, "credits": 0.5, "speed": 1,
    "sample_rate": 8000, "output_format": "pcm", "enhancement": 1, "similarity": 0, "consistency": None,
    "is_pvc": None,
}
UNTIL = datetime(2026, 8, 7, 12, 0, tzinfo=UTC)


def test_every_documented_field_of_an_entry_is_read() -> None:
    call = parse_tts_call(VENDOR_ENTRY)
    assert (call.voice_id, call.model, call.language, call.characters) == ("voice_abc", "lightning-v3.1-pro", "en", 30)
    assert (call.request_type, call.credits, call.speed, call.sample_rate, call.output_format, call.is_pvc) == (
        "ws", 0.5, 1, 8000, "pcm", None)
    assert call.zoneless and call.at == datetime(2026, 8, 7, 8, 17, 20, tzinfo=UTC)


def test_without_text_len_the_text_gives_the_characters() -> None:
    entry = {k: v for k, v in VENDOR_ENTRY.items() if k != "text_len"}
    assert parse_tts_call(entry).characters == len(VENDOR_ENTRY["text"])


@pytest.mark.parametrize(("true_offset", "zone_hours"), [
    (timedelta(hours=-1), 5.5),  # a call an hour before the run, on a server ahead of UTC (reads 4.5 h after)
    (timedelta(hours=-1), 14.0),  # the farthest zone ahead
    (timedelta(hours=-23), -12.0),  # a day's window, a server 12 h behind: reads 35 h before the run
])
def test_a_zoneless_time_counts_in_every_window_it_may_fall_in(true_offset: timedelta, zone_hours: float) -> None:
    truly = UNTIL + true_offset
    reading = (truly + timedelta(hours=zone_hours)).replace(tzinfo=None).isoformat(sep=" ")
    call = parse_tts_call({**VENDOR_ENTRY, "timestamp": reading})
    assert call.zoneless and call.may_fall_in(UNTIL - timedelta(days=1), UNTIL)
    usage = usage_by_voice([call], UNTIL - timedelta(days=1), UNTIL, ["voice_abc"])
    assert usage["voice_abc"].calls == 1 and usage["voice_abc"].zoneless == 1


def test_a_zoned_time_outside_the_window_is_not_counted() -> None:
    after = TtsCall(at=UNTIL + timedelta(hours=1), voice_id="voice_abc", characters=5)
    before = TtsCall(at=UNTIL - timedelta(days=1, hours=1), voice_id="voice_abc", characters=5)
    assert not after.may_fall_in(UNTIL - timedelta(days=1), UNTIL)
    assert not before.may_fall_in(UNTIL - timedelta(days=1), UNTIL)


def test_the_usage_window_says_what_it_assumed_about_the_zone() -> None:
    zoneless = parse_tts_call(VENDOR_ENTRY)
    zoned = parse_tts_call({**VENDOR_ENTRY, "timestamp": "2026-08-07T08:17:20Z"})
    _, window = window_usage(TtsLogs((zoneless, zoned), 1, 2, True), 1, UNTIL, ["voice_abc"])
    assert window.zoneless == 1 and "no zone" in window.zone and "UTC-12 to UTC+14" in window.zone
    assert window.as_dict()["zoneless"] == 1 and window.as_dict()["zone"] == window.zone
    assert "carried its zone" in zone_note([zoned])


@pytest.mark.integration
@pytest.mark.parametrize("zone_hours", [5.5, -7.0])
async def test_calls_logged_in_a_server_local_zone_are_counted_in_the_scans_window(zone_hours: float) -> None:
    """Over real HTTP: a call an hour before the run, logged by a server ahead of or behind UTC,
    counts in the day before the run; one two days old does not."""
    now = datetime.now(UTC).timestamp()
    with EmulatorServer.with_org(n=6, seed=3, clock=ManualClock(start=now), log_zone_hours=zone_hours) as server:
        server.state.add_tts_log([TtsLogRecord(now - 3600, "voice_recent", "lightning_v3.1", "en", 40),
                                  TtsLogRecord(now - 2 * 86400 - 15 * 3600, "voice_old", "lightning_v3.1", "en", 40)])
        settings = ApiSettings(base_url=server.base_url, backoff_initial_s=0.01)
        async with WavesClient(settings, Secret(server.api_key)) as client:
            logs = await client.tts_logs()
    usage, window = window_usage(logs, 1, datetime.fromtimestamp(now, UTC), ["voice_recent", "voice_old"])
    assert logs.complete and all(c.zoneless for c in logs.calls)
    assert usage["voice_recent"].calls == 1 and usage["voice_old"].calls == 0
    assert window.zoneless == 2 and "no zone" in window.zone
