"""A scan's files from its rows (no pandas) say byte for byte what the frame wrote.

The scan writes clones.csv with the csv module and counts its summary over `VoiceRow`s; the
other commands keep their pandas frames. For any display name, probe numbers (a float's
shortest form, a whole float, NaN, infinities, a missing value), usage numbers, waivers and
replacement links, the two ways must give the same rows, CSV text and summary.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.compliance.waivers import apply_waivers
from audit.core.models import AudioStats, Clone, ProbeResult, ProbeVerdict, Waiver, marker_tag
from audit.core.usage import VoiceUsage
from audit.report.rows import row_csv_chunks, row_summary, scan_rows, with_history_rows
from audit.report.tables import csv_chunks, summary, voice_frame, voice_rows, with_history
from audit.scan.rules import classify, decide

NOW = datetime(2026, 1, 1, tzinfo=UTC)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.1, 1e-05, 2.0, -0.0, 1e16, 123456.0])
voices = st.lists(st.tuples(
    st.text(max_size=8) | st.sampled_from(["=1+1", "\x1b[31m", "a,b", 'say "hi"', "two\r\nlines", " "]),
    st.sampled_from(list(ProbeVerdict)),
    numbers, numbers,
    st.none() | st.integers(0, 2**40),
    st.none() | st.sampled_from(["2025-06-01T10:00:00Z", "2025-06-01", "yesterday", "", "2025-06-01T10:00:00+02:00"]),
    st.booleans(), st.integers(0, 9),
), max_size=12)


def _results(spec: list[tuple]) -> tuple[list, dict[str, VoiceUsage]]:
    results, usage = [], {}
    for i, (name, verdict, duration, rms, n_bytes, created, reused, k) in enumerate(spec):
        tags = (marker_tag(f"voice_{k:04d}"),) if k % 3 == 0 else ()
        clone = Clone(voice_id=f"voice_{i:04d}", display_name=name, created_at=created, tags=tags,
                      model_ids=("lightning-v3.1",) if k % 2 else None)
        stats = AudioStats(n_bytes or 0, 1, 24000, duration, rms, -3.0, 0.5) if k % 4 else None
        probe = ProbeResult(verdict, "why", 200 if k % 5 else None, stats, n_bytes, probed_at=created, reused=reused)
        results.append(decide(clone, classify(clone), probe))
        if k % 2:
            usage[clone.voice_id] = VoiceUsage(clone.voice_id, k, k * 40, None if k == 3 else NOW)
    waivers = [Waiver(r.clone.voice_id, "kept", "=owner", date(2026 if i % 2 else 2025, 6, 1))
               for i, r in enumerate(results) if i % 4 == 1]
    return list(apply_waivers(results, waivers, NOW.date())[0]), usage


@settings(max_examples=150, deadline=None)
@given(voices, st.booleans(), st.integers(1, 4))
def test_the_scan_rows_write_what_the_frame_wrote(spec: list[tuple], bom: bool, batch: int) -> None:
    results, usage = _results(spec)
    frame = voice_frame(results, NOW, usage)
    rows = scan_rows(results, NOW, usage)
    assert list(rows) == list(voice_rows(frame))
    change = {r.voice_id: "new" for r in rows[::2]}
    first = {r.voice_id: "2025-12-01T00:00:00" for r in rows[1::3]}
    frame = with_history(frame, change, first, "2026-01-01")
    rows = with_history_rows(rows, change, first, "2026-01-01")
    assert list(rows) == list(voice_rows(frame))
    assert "".join(row_csv_chunks(rows, bom=bom, batch=batch)) == "".join(csv_chunks(frame, bom=bom, batch=batch))
    assert list(row_csv_chunks(rows, batch=batch)) == list(csv_chunks(frame, batch=batch))
    assert row_summary(rows) == summary(frame)
