"""The incomplete-run banner and the evidence banner, rendered: one count that agrees with the
summary ("N of M voices could not be checked"), grouped by cause with the advice for that cause,
in HTML and Markdown; and how many verdicts rest on metadata alone or an earlier probe."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from audit.core.models import Clone, CloneStatus, ProbeResult, ProbeVerdict
from audit.report.html import render_report_html
from audit.report.markdown import render_markdown
from audit.report.tables import summary, voice_frame
from audit.scan import rules

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CAP = "POST /waves/v1/tts answered 200, but the answer is over the 8,388,608-byte cap (stopped reading at 8,388,609 bytes)"


def _result(i: int, probe: ProbeResult, status: CloneStatus = CloneStatus.COMPLETED,
            model_ids: tuple[str, ...] | None = ("lightning-large",)):
    clone = Clone(f"voice_{i:04d}", f"Voice {i}", model_ids=model_ids, status=status, raw_status=status.value,
                  language="en")
    return rules.decide(clone, rules.classify(clone), probe)


def _results():
    over = [_result(i, ProbeResult(ProbeVerdict.ERROR, CAP, http_status=200)) for i in range(6)]
    limited = [_result(10 + i, ProbeResult(ProbeVerdict.ERROR, "POST /waves/v1/tts: too many requests",
                                           http_status=429)) for i in range(3)]
    refused = [_result(20 + i, ProbeResult(
        ProbeVerdict.ERROR, "POST /waves/v1/tts: cannot connect to http://api: ConnectError")) for i in range(2)]
    pending = [_result(30 + i, ProbeResult(ProbeVerdict.NOT_PROBED), status=CloneStatus.PENDING) for i in range(2)]
    failed = [_result(40, ProbeResult(ProbeVerdict.ERROR, "POST /waves/v1/tts: HTTP 500"), status=CloneStatus.FAILED)]
    speaks = [_result(50 + i, ProbeResult(ProbeVerdict.SPEAKS, "1.8 s of speech")) for i in range(6)]
    return [*over, *limited, *refused, *pending, *failed, *speaks]


META = {"run_id": "r1", "base_url": "http://x", "exit_code": 4, "version": "0.1.0", "finished_at": "2026-03-01T00:00:00+00:00",
        "parameters": {"probe": {"policy": "all", "model": "lightning_v3.1"}}}


def test_the_banner_states_one_count_that_agrees_with_the_summary() -> None:
    frame = voice_frame(_results(), NOW)
    unknown = summary(frame)["verdict"]["unknown"]
    md = render_markdown(META, frame)
    html = render_report_html(META, frame)
    assert unknown == 13
    assert "13 of 20 voices could not be checked" in md
    assert "13 of 20 voices could not be checked" in html
    # no digit turned into N, no "×86" of a garbled reason
    assert "vN" not in md and "answered N" not in md and "over the N" not in html


def test_each_cause_is_counted_with_the_advice_for_it() -> None:
    md = render_markdown(META, voice_frame(_results(), NOW))
    causes = [line for line in md.splitlines() if line.startswith("> - ")]
    counts = [int(re.match(r"> - (\d+) ×", line).group(1)) for line in causes]  # type: ignore[union-attr]
    assert sorted(counts) == [2, 2, 3, 6] and sum(counts) == 13
    over, limited = causes[counts.index(6)], causes[counts.index(3)]
    refused = next(line for line in causes if "refused or dropped" in line)
    assert "byte cap" in over and "--concurrency" not in over
    assert "--concurrency" in limited  # a 429: a lower concurrency
    assert "network" in refused and "--concurrency" not in refused  # refused: the network and the status page


def test_a_scan_without_probes_says_what_its_verdicts_rest_on() -> None:
    earlier = ProbeResult(ProbeVerdict.SHORT_WAV, "HTTP 200 but only 90 bytes", http_status=200,
                          probed_at="2026-02-20T10:00:00+00:00", reused=True)
    results = [_result(i, earlier) for i in range(4)]
    results += [_result(10 + i, ProbeResult(ProbeVerdict.NOT_PROBED), model_ids=("lightning-v3.1",)) for i in range(3)]
    meta = {**META, "exit_code": 1, "parameters": {"probe": {"policy": "none"}}}
    md = render_markdown(meta, voice_frame(results, NOW))
    html = render_report_html(meta, voice_frame(results, NOW))
    for text in (md, html):
        assert "3 rest on metadata alone" in text
        assert re.search(r"4 on an earlier scan\S* probe \(2026-02-20\)", text)
        assert "--probe none" in text


def test_a_fully_probed_scan_has_no_evidence_banner() -> None:
    results = [_result(i, ProbeResult(ProbeVerdict.SPEAKS, "1.8 s of speech")) for i in range(3)]
    assert 'id="evidence"' not in render_report_html({**META, "exit_code": 0}, voice_frame(results, NOW))


def test_an_incomplete_scan_with_failing_voices_advises_scanning_again_before_planning() -> None:
    """Exit 4: the page does not send the reader to `plan` from a scan that could not check
    every voice; a whole scan (exit 1) does."""
    broken = [_result(40 + i, ProbeResult(ProbeVerdict.SHORT_WAV, "148-byte WAV", http_status=200)) for i in range(3)]
    frame = voice_frame([*_results(), *broken], NOW)
    for rendered in (render_markdown(META, frame), render_report_html(META, frame)):
        assert "clone-audit plan --archive DIR" not in rendered and "scan again" in rendered
    whole = {**META, "exit_code": 1}
    assert "clone-audit plan --archive DIR" in render_markdown(whole, frame)
