"""Periodic compliance, pure parts: waivers, what changed between runs, the history store on a
real SQLite file, readable numbers, the headline, Markdown escaping, the CSV's columns."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from audit.compliance.changes import Mark, compare, first_seen, trend_point
from audit.compliance.waivers import apply_waivers, read_exceptions
from audit.core.errors import ConfigError, ExitCode
from audit.core.models import Clone, CloneStatus, FailOn, ProbeResult, ProbeVerdict, Verdict, marker_tag
from audit.report.markdown import render_markdown
from audit.report.tables import COLUMNS, render_csv, summary, voice_frame
from audit.report.text import headline, human_bytes, human_duration
from audit.runs.store import History, HistoryRow
from audit.scan.rules import classify, decide, exit_code

ROOT = Path(__file__).parents[2]
NOW = datetime(2026, 11, 21, tzinfo=UTC)


def _result(voice_id: str, probe: ProbeVerdict, name: str = "", tags: tuple[str, ...] = ()):  # noqa: ANN202
    clone = Clone(voice_id=voice_id, display_name=name or voice_id, model_ids=("lightning-large",),
                  status=CloneStatus.COMPLETED, raw_status="completed", language="en", tags=tags)
    return decide(clone, classify(clone), ProbeResult(probe, "probe said so", 200, None, 150))


def test_exceptions_file_reads_csv_and_toml_and_names_the_bad_line(tmp_path: Path) -> None:
    csv_file = tmp_path / "waivers.csv"
    csv_file.write_text("voice_id,reason,owner,expires\nvoice_a,IVR keeps it,ops,2026-12-31\n", encoding="utf-8")
    toml_file = tmp_path / "waivers.toml"
    toml_file.write_text('[[exception]]\nvoice_id = "voice_a"\nreason = "IVR keeps it"\nowner = "ops"\n'
                         'expires = 2026-12-31\n', encoding="utf-8")
    (waiver,) = read_exceptions(csv_file)
    assert (waiver.voice_id, waiver.owner, waiver.expires) == ("voice_a", "ops", date(2026, 12, 31))
    assert read_exceptions(toml_file) == (waiver,)
    csv_file.write_text("voice_id,reason,owner,expires\nvoice_a,r,o,next week\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2: expires = 'next week'"):
        read_exceptions(csv_file)
    csv_file.write_text("voice_id,reason\nvoice_a,r\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="lacks owner, expires"):
        read_exceptions(csv_file)


def test_an_active_waiver_excepts_an_expired_one_counts_and_unknown_ids_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("voice_id,reason,owner,expires\nvoice_bad,r,ops,2026-12-01\nvoice_old,r,ops,2026-11-20\n"
                    "voice_gone,r,ops,2027-01-01\nvoice_ok,r,ops,2027-01-01\n", encoding="utf-8")
    results = [_result("voice_bad", ProbeVerdict.SHORT_WAV), _result("voice_old", ProbeVerdict.SILENT),
               _result("voice_ok", ProbeVerdict.SPEAKS)]
    waived, outcome = apply_waivers(results, read_exceptions(path), NOW.date())
    verdicts = {r.clone.voice_id: r.verdict for r in waived}
    assert verdicts == {"voice_bad": Verdict.EXCEPTED, "voice_old": Verdict.NON_COMPLIANT, "voice_ok": Verdict.COMPLIANT}
    assert [w.voice_id for w in outcome.unknown] == ["voice_gone"]
    assert [w.voice_id for w in outcome.expired] == ["voice_old"] and [w.voice_id for w in outcome.unneeded] == ["voice_ok"]
    assert exit_code(waived, FailOn.NON_COMPLIANT) is ExitCode.FINDINGS  # the expired one counts again
    assert exit_code(waived[:1] + waived[2:], FailOn.UNKNOWN) is ExitCode.OK  # excepted is not unknown either
    row = voice_frame(waived, NOW).set_index("voice_id").loc["voice_old"]
    assert row["exception_status"] == "expired" and row["reason"].startswith("waiver expired on 2026-11-20")


def test_compare_counts_new_fixed_regressed_gone_and_never_a_replacement_as_new() -> None:
    before = {"a": Mark("a", "non-compliant"), "b": Mark("b", "compliant"), "c": Mark("c", "non-compliant"),
              "d": Mark("d", "compliant")}
    now = {"a": Mark("a", "migrated"), "b": Mark("b", "non-compliant"), "c": Mark("c", "non-compliant"),
           "e": Mark("e", "compliant"), "a2": Mark("a2", "compliant", replaces="a")}
    changes = compare(before, now, "run1", "2026-11-01")
    assert changes.counts() == {"new": 1, "fixed": 1, "regressed": 1, "gone": 1, "still_failing": 1}
    assert (changes.new, changes.fixed, changes.regressed, changes.gone) == (("e",), ("a",), ("b",), ("d",))
    assert trend_point("r", "t", now).total == 4  # a2 is counted through a
    assert first_seen([("t1", before), ("t2", now)]) == {"a": "t1", "c": "t1", "b": "t2"}


def test_history_keeps_runs_in_order_per_account_and_never_the_key(tmp_path: Path) -> None:
    with History(tmp_path / "history.sqlite") as store:
        for i, (account, verdict) in enumerate([("acct", "non-compliant"), ("other", "compliant"),
                                                ("acct", "compliant"), ("acct", "non-compliant")]):
            run = HistoryRow(f"run{i}", "scan", account, "http://x/", f"2026-11-0{i + 1}", f"2026-11-0{i + 1}",
                            1, f"/r/run{i}", {verdict: 1}, 1, {"note": "sk_live_SECRETSECRET"})
            store.record(run, [Mark("v", verdict, "short-wav", "Voice")])
        assert [r.run_id for r in store.scans_before("acct", "http://x", "run3")] == ["run0", "run2"]
        assert [p.run_id for p in store.trend("acct", "http://x", "unrecorded")] == ["run0", "run2", "run3"]
        assert store.first_noncompliant("acct", "http://x", "run3") == {"v": "2026-11-01"}
        assert store.marks("run2") == {"v": Mark("v", "compliant", "short-wav", "Voice")}


def test_numbers_read_as_a_person_reads_them() -> None:
    assert [human_duration(s) for s in (0.002, 4.25, 42, 200, 16_500, 7200)] == [
        "2 ms", "4.2 s", "42 s", "3 min 20 s", "4 h 35 min", "2 h"]
    assert [human_bytes(n) for n in (150, 2_400, 240_000_000, None)] == ["150 B", "2.4 KB", "240 MB", ""]


def test_headline_says_how_many_fail_and_what_to_do_next() -> None:
    results = [_result(f"voice_{i}", ProbeVerdict.SHORT_WAV if i < 28 else ProbeVerdict.SPEAKS) for i in range(60)]
    text = headline(summary(voice_frame(results, NOW)))
    assert text == ("28 of 60 voices (47 %) answer silence on v3.1; re-clone them from their recordings: "
                    "`clone-audit plan --archive DIR`.")


def test_replacement_clones_are_not_extra_voices_and_link_both_ways() -> None:
    old = _result("voice_old", ProbeVerdict.SHORT_WAV)
    new = _result("voice_new", ProbeVerdict.SPEAKS, tags=(marker_tag("voice_old"),))
    frame = voice_frame([old, new], NOW).set_index("voice_id")
    assert frame.loc["voice_new", "replaces"] == "voice_old" and frame.loc["voice_old", "replaced_by"] == "voice_new"
    assert summary(frame.reset_index())["total"] == 1


def test_markdown_escapes_server_strings_so_a_name_cannot_break_the_table() -> None:
    results = [_result("voice_x", ProbeVerdict.SHORT_WAV, name="a | b ` **bold** <img>\n| forged | row |")]
    text = render_markdown({"run_id": "r1", "base_url": "http://x", "exit_code": 1}, voice_frame(results, NOW))
    (row,) = [line for line in text.splitlines() if "voice" in line and line.startswith("| non-compliant")]
    assert row.count(" | ") == 8  # nine cells (pool among them), none added by the name
    assert "<img>" not in text and "**bold**" not in text


def test_csv_columns_are_the_ones_the_outputs_page_documents_and_excel_gets_a_bom() -> None:
    outputs = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    documented = re.search(r"`clones.csv`: RFC 4180, one row per voice: (.*?)\. ", outputs, re.S)
    assert documented, "docs/outputs.md lists clones.csv's columns"
    assert [c.strip(" `\n") for c in documented.group(1).split(",")] == list(COLUMNS)
    text = render_csv(voice_frame([_result("voice_日本", ProbeVerdict.SPEAKS)], NOW), bom=True)
    assert text.startswith("\ufeffvoice_id,") and text.encode("utf-8").startswith(b"\xef\xbb\xbf")
