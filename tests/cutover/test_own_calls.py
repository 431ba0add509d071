"""The tool's own TTS calls are not callers: which analytics entries a recorded run's probes
made, and the record of them in run.json (audit.core.owncalls, audit.runs.owncalls)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit.core.errors import ExitCode
from audit.core.owncalls import CLOCK_MARGIN, OwnRun, SentCalls, leave_out_own, sent_calls
from audit.core.usage import TtsCall, usage_by_voice
from audit.runs import document
from audit.runs.kind import RunKind
from audit.runs.owncalls import own_runs
from audit.runs.record import RunRecord, VoiceRow
from audit.runs.store import record as file_run

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=3)
PROBE = SentCalls("voice_legacy", 1, 61, "lightning_v3.1", "en")
SCAN = OwnRun("scan-1", "scan", START, END, (PROBE,))


def _call(at: datetime | None, voice: str = "voice_legacy", chars: int = 61, model: str | None = "lightning_v3.1",
          zoneless: bool = False) -> TtsCall:
    return TtsCall(at, voice, chars, model, "en", zoneless)


def test_a_probe_inside_its_scans_window_is_left_out_and_said() -> None:
    own = leave_out_own([_call(START + timedelta(seconds=30))], [SCAN])
    assert own.calls == () and own.left_out == 1 and own.by_voice == {"voice_legacy": 1}
    assert usage_by_voice(own.calls, START - timedelta(days=1), voice_ids=["voice_legacy"])["voice_legacy"].calls == 0
    assert "Left out 1 call(s) made by clone-audit's own probes" in own.describe()


def test_other_callers_of_a_probed_voice_still_count() -> None:
    calls = [
        _call(START + timedelta(seconds=30)),  # the probe
        _call(START + timedelta(seconds=31)),  # a second identical call: more than the scan made
        _call(END + CLOCK_MARGIN + timedelta(seconds=1)),  # after the window
        _call(START - CLOCK_MARGIN - timedelta(seconds=1)),  # before it
        _call(START + timedelta(seconds=40), chars=12),  # another text
        _call(START + timedelta(seconds=40), model="lightning_v3.1_pro"),  # another model
        _call(START + timedelta(seconds=40), voice="voice_other"),  # a voice the scan did not probe
    ]
    own = leave_out_own(calls, [SCAN])
    assert own.left_out == 1 and len(own.calls) == len(calls) - 1
    assert usage_by_voice(own.calls, START - timedelta(days=1))["voice_legacy"].calls == 5


def test_a_time_that_cannot_be_placed_in_the_window_counts_as_a_caller() -> None:
    zoneless = _call(START + timedelta(seconds=30), zoneless=True)  # local time of an unknown zone
    unknown = _call(None)
    own = leave_out_own([zoneless, unknown], [SCAN])
    assert own.left_out == 0 and own.calls == (zoneless, unknown) and own.doubtful == 2
    assert "2 call(s) to probed voices" in own.describe()


def test_the_clock_margin_and_the_model_spelling_are_allowed_for() -> None:
    late = _call(END + CLOCK_MARGIN - timedelta(seconds=1), model="Lightning-v3.1")
    assert leave_out_own([late], [SCAN]).left_out == 1


def test_calls_before_since_are_neither_counted_nor_left_out() -> None:
    own = leave_out_own([_call(START + timedelta(seconds=30))], [SCAN], since=END + timedelta(hours=1))
    assert own.calls == () and own.left_out == 0


def test_a_client_tally_becomes_the_runs_calls() -> None:
    before = {("v1", "m", "en", 10): 2}
    after = {("v1", "m", "en", 10): 3, ("v2", "m", None, 12): 1}
    assert sent_calls(after, before) == (SentCalls("v1", 1, 10, "m", "en"), SentCalls("v2", 1, 12, "m", None))


def _run(kind: RunKind, run_id: str, folder: Path, base_url: str = "http://api.test", **fields: object) -> RunRecord:
    return RunRecord(kind=kind, run_id=run_id, started_at=START, finished_at=END, base_url=base_url,
                     exit_code=ExitCode.OK, **fields).at(folder)  # type: ignore[arg-type]


def _write(out: Path, run: RunRecord) -> None:
    assert run.folder is not None
    run.folder.mkdir(parents=True)
    (run.folder / "run.json").write_text(document.render(run), encoding="utf-8")
    file_run(out, run)


def test_run_json_keeps_the_calls_a_run_made_and_the_history_finds_their_windows(tmp_path: Path) -> None:
    out = tmp_path / "out"
    made = (PROBE, SentCalls("voice_new", 2, 61, "lightning_v3.1", None))
    _write(out, _run(RunKind.APPLY, "apply-1", out / "apply-1", tts_calls=made))
    assert document.load(out / "apply-1").tts_calls == made
    # a scan written before runs recorded their calls: one call per voice whose probe got audio
    old = _run(RunKind.SCAN, "scan-0", out / "scan-0", voices=(
        VoiceRow("voice_a", probe_verdict="short-wav"), VoiceRow("voice_b", probe_verdict="error"),
        VoiceRow("voice_c", probe_verdict="speaks", probe_reused=True)))
    _write(out, old)
    stored = json.loads((out / "scan-0" / "run.json").read_text(encoding="utf-8"))
    assert "tts_calls" not in stored and document.load(out / "scan-0").tts_calls is None
    _write(out, _run(RunKind.SCAN, "scan-elsewhere", out / "scan-elsewhere", tts_calls=(PROBE,), base_url="http://other"))
    runs = {r.run_id: r for r in own_runs(out, "http://api.test")}
    assert set(runs) == {"apply-1", "scan-0"}
    assert runs["apply-1"].sent == made and runs["apply-1"].started_at == START
    assert runs["scan-0"].sent == (SentCalls("voice_a", 1),)


def test_a_run_json_claiming_more_than_a_run_could_have_made_leaves_nothing_out(tmp_path: Path) -> None:
    """run.json is not sealed: one edited (or damaged) to claim a month-long window, a thousand
    calls to a voice, calls that name no model, or a window history.sqlite did not record,
    never hides a caller from retire."""
    out = tmp_path / "out"
    _write(out, _run(RunKind.SCAN, "honest", out / "honest", tts_calls=(PROBE,)))
    _write(out, _run(RunKind.SCAN, "many", out / "many", tts_calls=(SentCalls("voice_legacy", 1000, 61, "lightning_v3.1"),)))
    _write(out, _run(RunKind.SCAN, "loose", out / "loose", tts_calls=(SentCalls("voice_legacy", 1),)))
    month = _run(RunKind.SCAN, "month", out / "month", tts_calls=(PROBE,))
    _write(out, month)
    # edited after it was filed: its run.json now claims a 30-day window the history never recorded
    edited = RunRecord(kind=RunKind.SCAN, run_id="month", started_at=START - timedelta(days=30), finished_at=END,
                       base_url="http://api.test", exit_code=ExitCode.OK, tts_calls=(PROBE,)).at(out / "month")
    (out / "month" / "run.json").write_text(document.render(edited), encoding="utf-8")
    long = RunRecord(kind=RunKind.SCAN, run_id="long", started_at=START - timedelta(days=30), finished_at=END,
                     base_url="http://api.test", exit_code=ExitCode.OK, tts_calls=(PROBE,)).at(out / "long")
    _write(out, long)  # filed consistently, but longer than any run is believed to take
    assert [r.run_id for r in own_runs(out, "http://api.test")] == ["honest"]
    callers = [_call(START - timedelta(days=d)) for d in (1, 5, 20)]
    left = leave_out_own(callers, own_runs(out, "http://api.test"))
    assert left.left_out == 0 and len(left.calls) == 3
