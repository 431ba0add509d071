"""Reports: RFC 4180 CSV, self-contained escaped HTML, JSON rows with run metadata."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

import audit.report
from audit.core.errors import ExitCode
from audit.core.models import (
    Action,
    AudioStats,
    Clone,
    CloneStatus,
    Compatibility,
    Fidelity,
    ProbeResult,
    ProbeVerdict,
    Verdict,
)
from audit.core.runfolder import RunFolder
from audit.migrate.state import MappingStatus, Review
from audit.report.files import write_html, write_scan_files
from audit.report.html import render_report_html
from audit.report.tables import COLUMNS, Cause, render_csv, voice_frame
from audit.runs.document import load
from audit.runs.kind import RunKind
from audit.runs.record import RunRecord
from audit.scan.rules import classify, decide

NOW = datetime(2026, 11, 21, tzinfo=UTC)
HOSTILE = [
    "<script>alert(1)</script>",
    '"quoted, with comma"',
    "=HYPERLINK(\"http://x\")",
    "line one\nline two",
    "Zoë 日本語の声 🎙️",
]


def _results():
    stats = AudioStats(144, 50, 24000, 50 / 24000, -30.0, -20.0, 1.0)
    short = ProbeResult(ProbeVerdict.SHORT_WAV, "HTTP 200 but only 144 bytes", 200, stats, 144)
    speaks = ProbeResult(ProbeVerdict.SPEAKS, "1.2 s of speech", 200, None, 40000)
    out = []
    for i, name in enumerate(HOSTILE):
        c = Clone(voice_id=f"voice_{i:010d}", display_name=name, model_ids=("lightning-large",),
                  status=CloneStatus.COMPLETED, raw_status="completed", language="en",
                  created_at="2025-11-21T00:00:00.000Z")
        out.append(decide(c, classify(c), short if i % 2 else speaks))
    bare = Clone(voice_id="voice_bare000000")
    out.append(decide(bare, classify(bare), ProbeResult(ProbeVerdict.NOT_PROBED)))
    return out


def test_csv_is_rfc4180_and_round_trips_hostile_names() -> None:
    text = render_csv(voice_frame(_results(), NOW))
    assert text.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == list(COLUMNS)
    names = {r["voice_id"]: r["display_name"] for r in rows}
    assert names["voice_0000000001"] == '"quoted, with comma"'
    assert names["voice_0000000003"] == "line one\nline two"
    assert names["voice_0000000004"] == "Zoë 日本語の声 🎙️"
    # A spreadsheet must not run a display name as a formula.
    assert names["voice_0000000002"].startswith("'=")


def test_rows_put_failures_first_and_keep_absent_fields_empty() -> None:
    frame = voice_frame(_results(), NOW)
    verdicts = list(frame["verdict"])
    assert verdicts == sorted(verdicts, key=["non-compliant", "unknown", "compliant"].index)
    bare = frame[frame["voice_id"] == "voice_bare000000"].iloc[0]
    assert bare["verdict"] == "unknown" and pd.isna(bare["model_ids"])
    assert int(frame[frame["voice_id"] == "voice_0000000000"].iloc[0]["age_days"]) == 365


def test_html_escapes_names_and_needs_no_network() -> None:
    meta = {"run_id": "r1", "finished_at": "2026-11-21T00:00:00+00:00", "base_url": "http://127.0.0.1:1",
            "version": "0.1.0", "exit_code": 1, "parameters": {"probe": {"policy": "all"}}}
    html = render_report_html(meta, voice_frame(_results(), NOW))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html
    assert "voice_0000000004" in html and "Zoë 日本語の声" in html
    assert html.index("non-compliant</td>") < html.index("compliant</td>", html.index("non-compliant</td>") + 20)


def test_written_reports_hold_the_same_rows(tmp_path: Path) -> None:
    record = RunRecord(kind=RunKind.SCAN, run_id="r1", started_at=NOW, finished_at=NOW, base_url="http://127.0.0.1:1",
                       exit_code=ExitCode.FINDINGS, parameters={"probe": {"policy": "all"}})
    folder = tmp_path / "r1"
    frame = voice_frame(_results(), NOW)
    written = write_scan_files(RunFolder(folder), record, frame)
    write_html(RunFolder(folder), written, frame)
    document = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert document["run_id"] == "r1" and document["kind"] == "scan" and document["exit_code"] == 1
    assert load(folder).with_voices(()) == written.with_voices(()).at(folder)  # run.json reads back as written
    assert load(folder).voices == written.voices
    assert [v["voice_id"] for v in document["voices"]] == [
        r["voice_id"] for r in csv.DictReader(io.StringIO((folder / "clones.csv").read_text(encoding="utf-8"), newline=""))]
    assert document["summary"]["verdict"]["non-compliant"] == 2
    assert document["voices"][0]["probe_bytes"] == 144
    assert sorted(p.name for p in tmp_path.joinpath("r1").iterdir()) == ["clones.csv", "report.html", "run.json"]


#: Every verdict, status, action and cause a report shows or compares: spelled only by its enum.
ENUMS = (Verdict, ProbeVerdict, Compatibility, CloneStatus, Fidelity, Action, MappingStatus, Review, Cause)
#: Quoted words that name something else: the usage window's `error` key, an HTML anchor.
NOT_A_VERDICT = re.compile(r"""(window|usage)(\.get\(|\[)(["'])error\3|\bid=(["'])[\w-]+\4""")
ENUM_MEMBER = re.compile(r"^\s+[A-Z][A-Z0-9_]* = ")  # where an enum spells its own value


def test_no_template_or_renderer_spells_out_a_verdict_status_or_action() -> None:
    """Templates and renderers compare with the enums (`Verdict.NON_COMPLIANT`, `MappingStatus.READY`),
    so renaming a value cannot leave a report quietly comparing with the old spelling."""
    values = sorted({str(v) for enum in ENUMS for v in enum}, key=len, reverse=True)
    words = "|".join(map(re.escape, values))
    literal = re.compile(rf"""(["'])({words})\1""")
    package = Path(audit.report.__file__).parent
    found = []
    for path in sorted([*package.glob("*.py"), *package.glob("templates/*.html")]):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not ENUM_MEMBER.match(line):
                found += [f"{path.name}:{n}: {m.group()}" for m in literal.finditer(NOT_A_VERDICT.sub("", line))]
    assert not found, "spell these with their enum: " + "; ".join(found)


def test_mapping_and_listening_rows_are_coloured_by_their_status() -> None:
    meta = {"run_id": "r1", "kind": "apply", "finished_at": NOW.isoformat(), "base_url": "http://127.0.0.1:1",
            "version": "0.1.0", "exit_code": 1, "parameters": {}}
    mapping = pd.DataFrame([
        {"old_voice_id": "voice_old0000001", "new_voice_id": "voice_new0000001", "display_name": "A", "language": "en",
         "verified": "speaks", "verified_at": None, "status": "ready", "detail": "", "fidelity": "match"},
        {"old_voice_id": "voice_old0000002", "new_voice_id": "voice_new0000002", "display_name": "B", "language": "en",
         "verified": "speaks", "verified_at": None, "status": "mismatch", "detail": "", "fidelity": "mismatch"},
    ])
    listen = [{**row, "similarity": 0.5, "source_clip": "s.wav", "clone_clip": "c.wav", "review": None,
               "reviewed_by": None, "reviewed_at": None} for row in mapping.to_dict("records")]
    html = render_report_html(meta, voice_frame(_results(), NOW), mapping=mapping, listen=listen)
    assert '<td class="v compliant">ready</td>' in html and '<td class="v non-compliant">mismatch</td>' in html
    assert '<td class="v compliant">match<br>' in html and '<td class="v non-compliant">mismatch<br>' in html


def test_csv_date_columns_hold_iso_dates_or_nothing() -> None:
    """A spreadsheet sorts clones.csv and mapping.csv by date: no "this run", no server text."""
    from audit.report.tables import DATE_COLUMNS, frame_of, with_history
    from audit.runs.record import VoiceRow

    rows = [VoiceRow("voice_new0000001", created_at="2024-01-01T14:17:16.000Z", verdict="non-compliant"),
            VoiceRow("voice_old0000001", created_at="last Tuesday", verdict="non-compliant"),
            VoiceRow("voice_fine000001", created_at="2025-06-07", verdict="compliant", probed_at="2026-12-06T10:00:00Z")]
    frame = with_history(frame_of(rows), {}, {"voice_old0000001": "2026-11-01T09:00:00+00:00"},
                         "2026-12-06T10:00:00+00:00")
    mapping = pd.DataFrame([{"old_voice_id": "voice_old0000001", "verified_at": "2026-12-06T10:00:00.123456+00:00",
                             "retired_at": None, "reviewed_at": "soon"}])
    for text in (render_csv(frame), render_csv(mapping)):
        table = list(csv.DictReader(io.StringIO(text)))
        dated = [c for c in table[0] if c in DATE_COLUMNS]
        assert dated
        for row in table:
            for column in dated:
                if row[column]:
                    datetime.fromisoformat(row[column])  # raises on anything but an ISO date or time
    table = {r["voice_id"]: r for r in csv.DictReader(io.StringIO(render_csv(frame)))}
    assert table["voice_new0000001"]["first_noncompliant"] == "2026-12-06"  # found in this run, on its date
    assert table["voice_old0000001"]["first_noncompliant"] == "2026-11-01"
    assert table["voice_new0000001"]["created_at"] == "2024-01-01T14:17:16+00:00"
    assert table["voice_old0000001"]["created_at"] == ""  # not a date: kept in run.json only


def test_the_csv_is_written_a_batch_of_rows_at_a_time_to_the_same_bytes() -> None:
    """clones.csv of a large organisation is never held whole: its pieces are whole lines, the
    header and the byte order mark once, and together they are the file rendered at once."""
    from audit.report.tables import csv_chunks

    frame = voice_frame(_results() * 3, NOW)
    pieces = list(csv_chunks(frame, bom=True, batch=4))
    assert len(pieces) == 5 and all(piece.endswith("\r\n") for piece in pieces)
    assert "".join(pieces) == render_csv(frame, bom=True) and "".join(pieces).count("\ufeff") == 1
    assert sum(piece.count("voice_id,display_name") for piece in pieces) == 1
    assert list(csv_chunks(voice_frame([], NOW))) == [render_csv(voice_frame([], NOW))]


def test_report_rows_are_plain_python_values() -> None:
    """What the page, the terminal lines and run.json read from the table: None for a missing
    value (never NaN or NA), whole numbers as int, in the table's order."""
    from audit.report.tables import records

    rows = records(voice_frame(_results(), NOW))
    bare = next(r for r in rows if r["voice_id"] == "voice_bare000000")
    assert bare["probe_bytes"] is None and bare["probe_duration_s"] is None and bare["age_days"] is None
    others = [r for r in rows if r is not bare]
    assert {type(r["probe_bytes"]) for r in others} == {int} and {type(r["age_days"]) for r in others} == {int}
    assert json.loads(json.dumps(rows)) == rows
