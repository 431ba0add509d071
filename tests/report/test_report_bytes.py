"""The scan's report set, byte for byte: clones.csv, run.json, report.html and the closing lines.

The report's rows are built to hold little memory at 100,000 voices (one compact row per voice,
written in batches); what a user gets from them must not move by a byte. Two scans of one
generated organisation (a few hundred voices, with hostile names, every probe error cause,
reused probes, waivers, usage numbers, replacement clones and a history) are written, and each
file's digest compared with the one the straightforward, dict-per-voice code wrote (kept
below). The version number is masked, so a release does not change a digest; a change to what
a report says does, and then the digests are renewed on purpose.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from audit import __version__
from audit.api.wire import parse_clone_list
from audit.core.config import Settings
from audit.core.models import AudioStats, ProbeResult, ProbeVerdict, Waiver
from audit.core.provenance import Markers
from audit.core.usage import UsageWindow, VoiceUsage
from audit.emulator import generate_org
from audit.pipeline.scan import ScanRun, assess, waive, write_scan_reports
from audit.report.tables import ordered_rows, voice_frame, voice_rows
from audit.runs.record import VOICE_COLUMNS, VoiceRow

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
REASONS = ("HTTP 429 Too Many Requests", "no answer within 20 s (ReadTimeout)", "HTTP 503 Service Unavailable",
           "the answer went over the 2,000,000 byte cap", "cannot connect (ConnectError)",
           "HTTP 200 but the body is JSON, not audio", "HTTP 400 Bad Request", "the body was still arriving at 30 s",
           "something odd happened")
HOSTILE = ("=HYPERLINK(\"http://x\")", "\x1b[31mred\x1b[0m", "right\u202eleft", "two\nlines", "tab\tbed", "x" * 300,
           "", "  Émile ", "émile", "Ⅻ", "+1", "-2", "@me", "\ud7ff")


def _list(n: int, seed: int) -> list[object]:
    org = generate_org(n, seed)
    data: list[object] = [c.to_json(0.0) for c in org.clones]
    for i, name in enumerate(HOSTILE):
        entry = data[3 * i]
        assert isinstance(entry, dict)
        entry["displayName"] = name
    first = data[2]  # a short-wav voice: its replacement speaks, so it is migrated
    assert isinstance(first, dict)
    data += [dict(first), "not an object", {"displayName": "no id"},  # listed twice, unreadable entries
             {**first, "voiceId": "voice_newone0001", "tags": [f"migrated-from:{first['voiceId']}"],
              "modelIds": ["lightning-v3.1"]},
             {**first, "voiceId": "voice_claimed001", "tags": "a, migrated-from:voice_nobody00, b"}]
    return data


def _probes(clones: list, round_: int) -> dict[str, ProbeResult]:
    probes: dict[str, ProbeResult] = {}
    org = generate_org(300, 11)
    truth = {c.voice_id: org.truth[c.voice_id][0] for c in org.clones}
    for i, clone in enumerate(clones):
        verdict = truth.get(clone.voice_id, ProbeVerdict.SPEAKS)
        if verdict is ProbeVerdict.NOT_PROBED:
            continue
        if round_ and i % 10 == 3:  # the second scan: some are fixed, some newly fail
            verdict = ProbeVerdict.SPEAKS if verdict is ProbeVerdict.SHORT_WAV else ProbeVerdict.SILENT
        when = (START - timedelta(days=i % 3)).isoformat(timespec="seconds")
        if (i + round_) % 7 == 0:
            reason = REASONS[i % len(REASONS)]
            status = int(reason[5:8]) if reason.startswith("HTTP") else None
            probes[clone.voice_id] = ProbeResult(ProbeVerdict.ERROR, reason, status, probed_at=when,
                                                 model="lightning_v3.1")
            continue
        speaks = verdict is ProbeVerdict.SPEAKS
        stats = AudioStats(147_470 + i if speaks else 160 + i % 5, 73_713, 24000, 3.071 + i / 1000 if speaks else 0.002,
                           -21.4 if speaks else -40.0, -3.2, 0.81 if speaks else 0.0)
        probes[clone.voice_id] = ProbeResult(verdict, f"{stats.duration_s:.2f} s of audio at {stats.rms_dbfs} dBFS",
                                             200, stats, stats.n_bytes, model="lightning_v3.1-pro" if i % 4 else None,
                                             probed_at=when, reused=i % 5 == 0)
    return probes


def _scan(round_: int) -> ScanRun:
    clones = parse_clone_list(_list(300, 11))
    markers = Markers(proven={"voice_newone0001": clones[2].voice_id},
                      unproven={"voice_claimed001": "voice_nobody00"})
    started = START + timedelta(days=7 * round_)
    run = assess(clones, _probes(clones, round_), Settings(), started, markers)
    run = replace(run, run_id=f"{started:%Y%m%dT%H%M%SZ}-000{round_}", finished_at=started + timedelta(minutes=3),
                  account="acct-fingerprint")
    ids = [c.voice_id for c in clones]
    usage = {v: VoiceUsage(v, (i * 37) % 11, (i * 37) % 11 * 45, None if i % 11 == 0 else started - timedelta(hours=i))
             for i, v in enumerate(ids[: 250 - 60 * round_])}
    window = UsageWindow(days=30, since=started - timedelta(days=30), until=started, complete=round_ == 0,
                         pages=3, calls=sum(u.calls for u in usage.values()),
                         covered_since=None if round_ == 0 else started - timedelta(days=12))
    run = replace(run, usage=usage, usage_window=window, cost={"tts_characters": 1234, "tts_probes": 300,
                                                              "probes_reused": 9})
    waivers = (Waiver(ids[9], "kept for a partner", "ops@example.com", date(2026, 12, 31)),
               Waiver(ids[12], "kept for a partner", "=cmd|' /C calc'!A0", date(2026, 12, 31)),
               Waiver(ids[16], "expired one", "ops@example.com", date(2026, 1, 1)))
    return waive(run, waivers, Settings())


def _digest(text: str) -> str:
    return hashlib.sha256(text.replace(__version__, "<version>").encode()).hexdigest()[:16]


def _written(tmp_path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for round_ in (0, 1):
        run = _scan(round_)
        record = write_scan_reports(run, tmp_path)
        assert record.folder is not None
        for name in ("clones.csv", "run.json", "report.html"):
            out[f"{round_}/{name}"] = _digest((record.folder / name).read_text(encoding="utf-8"))
        out[f"{round_}/warnings"] = _digest("\n".join(run.warnings()))
        out[f"{round_}/lines"] = _digest("\n".join(run.lines()))
    return out


#: What the straightforward code (a dict per voice, the whole page's rows at once) wrote.
GOLDEN: dict[str, str] = {
    "0/clones.csv": "ab3b264c5627020c",
    "0/run.json": "9e1a2f15fb22bf75",
    "0/report.html": "5fcf14d6cc5daf4f",
    "0/warnings": "46823c0e4728e9d4",
    "0/lines": "7a54ea8fc160d7d9",
    "1/clones.csv": "e8a8ed4beea11c04",
    "1/run.json": "7fcdc1eaa5b0f2fe",
    "1/report.html": "138467cfe6e4add3",
    "1/warnings": "45d283dbaf2c10c4",
    "1/lines": "51dbf22cdb3a97fe",
}


def test_the_report_set_is_byte_for_byte_what_it_was(tmp_path: Path) -> None:
    assert _written(tmp_path) == GOLDEN


def test_the_closing_lines_read_the_voices_in_the_report_order_without_a_frame() -> None:
    for round_ in (0, 1):
        run = _scan(round_)
        assert ordered_rows(run.results, run.finished_at, run.usage) == list(
            voice_rows(voice_frame(run.results, run.finished_at, run.usage)))


def test_a_voice_row_reads_as_the_mapping_of_its_columns() -> None:
    row = VoiceRow("voice_a", verdict="non-compliant", usage_calls=3)
    assert (row["verdict"], row.get("usage_calls"), row.get("cause"), row.get("nothing", "?")) == (
        "non-compliant", 3, None, "?")
    assert list(row) == list(VOICE_COLUMNS) and dict(row) == row.as_dict()
    assert "as_dict" not in row and "verdict" in row
    assert row == VoiceRow("voice_a", verdict="non-compliant", usage_calls=3) and len({row, VoiceRow("voice_a")}) == 2
