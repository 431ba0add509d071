"""The TTS calls an output folder's recorded runs made: their windows, for usage and retire.

Owns `own_runs`: for each run `history.sqlite` lists (of the same API and account), its
window (started_at .. finished_at from its run.json) and the TTS calls it recorded making
(`RunRecord.tts_calls`: a scan's probes, apply's verifications). A scan written before runs
recorded their calls counts one call per voice its probe heard answer with audio (a probe
that got audio made at least that one call); any other run without the record, a run whose
folder is gone or unreadable, and a run that failed before writing its folder left nothing
to go by, so their calls stay callers. `audit.core.owncalls.leave_out_own` does the matching.

run.json is not sealed, and what it says can make retire treat a called voice as quiet, so it
is believed only within bounds (`credible`): its window must be the one history.sqlite
recorded for the run (within `AGREE`), at most `MAX_WINDOW` long, its calls at most
`MAX_CALLS_PER_VOICE` per voice, each naming the model and text length it sent. A run outside
them leaves nothing out: its calls stay callers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit.core.errors import UsageError
from audit.core.models import ProbeVerdict
from audit.core.owncalls import OwnRun, SentCalls
from audit.runs import document
from audit.runs.kind import RunKind
from audit.runs.record import RUN_JSON, RunRecord
from audit.runs.store import list_runs

#: How far run.json's start and end may be from the ones history.sqlite recorded for the run.
AGREE = timedelta(seconds=5)
#: The longest window a run is believed to have made calls in (a 100,000-voice scan takes hours).
MAX_WINDOW = timedelta(hours=24)
#: The most calls a run is believed to have made to one voice (a probe, a verification and
#: their retries; a run claiming more is not believed).
MAX_CALLS_PER_VOICE = 16

#: Probe verdicts that mean an answer with audio came back: the call reached the API.
_ANSWERED = frozenset({ProbeVerdict.SPEAKS.value, ProbeVerdict.SHORT_WAV.value, ProbeVerdict.SILENT.value})


def own_runs(out_root: Path, base_url: str, account: str = "") -> list[OwnRun]:
    """The recorded runs of `out_root` against `base_url` (and `account`, when both runs know
    it) that made TTS calls, oldest first."""
    runs: list[OwnRun] = []
    for row in list_runs(out_root):
        if not row.folder or row.base_url.rstrip("/") != base_url.rstrip("/"):
            continue
        if account and row.account and row.account != account:
            continue
        folder = Path(row.folder)
        if not (folder / RUN_JSON).is_file():
            continue
        try:
            record = document.load(folder, voices=False)
            sent = record.tts_calls
            if sent is None and record.kind is RunKind.SCAN:
                sent = _probed(document.load(folder))
            elif sent is not None and not all(s.characters and s.model for s in sent):
                continue  # a recorded call that names no model or length would match any call
        except UsageError:
            continue  # nothing to go by: its calls stay callers
        run = OwnRun(record.run_id, record.kind.value, _utc(record.started_at), _utc(record.finished_at),
                     tuple(sent or ()))
        if run.sent and credible(run, row.started_at, row.finished_at):
            runs.append(run)
    return runs


def credible(run: OwnRun, started_at: str, finished_at: str) -> bool:
    """Whether a run's own account of its window and calls is within bounds (module docstring)."""
    try:
        recorded = (_utc(datetime.fromisoformat(started_at)), _utc(datetime.fromisoformat(finished_at)))
    except ValueError:
        return False
    if abs(recorded[0] - run.started_at) > AGREE or abs(recorded[1] - run.finished_at) > AGREE:
        return False
    if not timedelta(0) <= run.finished_at - run.started_at <= MAX_WINDOW:
        return False
    per_voice: dict[str, int] = {}
    for sent in run.sent:
        per_voice[sent.voice_id] = per_voice.get(sent.voice_id, 0) + sent.calls
    return all(n <= MAX_CALLS_PER_VOICE for n in per_voice.values())


def _probed(record: RunRecord) -> tuple[SentCalls, ...]:
    """One call per voice a scan recorded before `tts_calls` existed heard answer with audio
    (a probe it reused made none)."""
    return tuple(SentCalls(v.voice_id, 1) for v in record.voices
                 if v.probe_verdict in _ANSWERED and not v.probe_reused)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
