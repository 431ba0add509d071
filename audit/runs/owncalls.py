"""The TTS calls an output folder's recorded runs made: their windows, for usage and retire.

Owns `own_runs`: for each run `history.sqlite` lists (of the same API and account), its
window (started_at .. finished_at from its run.json) and the TTS calls it recorded making
(`RunRecord.tts_calls`: a scan's probes, apply's verifications). A scan written before runs
recorded their calls counts one call per voice its probe heard answer with audio (a probe
that got audio made at least that one call); any other run without the record, a run whose
folder is gone or unreadable, and a run that failed before writing its folder left nothing
to go by, so their calls stay callers. `audit.core.owncalls.leave_out_own` does the matching.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from audit.core.errors import UsageError
from audit.core.models import ProbeVerdict
from audit.core.owncalls import OwnRun, SentCalls
from audit.runs import document
from audit.runs.kind import RunKind
from audit.runs.record import RUN_JSON, RunRecord
from audit.runs.store import list_runs

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
        except UsageError:
            continue  # nothing to go by: its calls stay callers
        if sent:
            runs.append(OwnRun(record.run_id, record.kind.value, _utc(record.started_at), _utc(record.finished_at),
                               tuple(sent)))
    return runs


def _probed(record: RunRecord) -> tuple[SentCalls, ...]:
    """One call per voice a scan recorded before `tts_calls` existed heard answer with audio
    (a probe it reused made none)."""
    return tuple(SentCalls(v.voice_id, 1) for v in record.voices
                 if v.probe_verdict in _ANSWERED and not v.probe_reused)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
