"""run.json: the only code that turns a RunRecord into its file and back.

The file is one JSON object: the record's fields at the top (`tool`, `version`, `kind`,
`run_id`, times, `base_url`, `account`, `parameters`, `exit_code`, and what the kind has:
`exceptions`, `usage`, `cost`, `concurrency`, `plan_id` / `plan_folder`, `before_after`,
`mapping`, `review`, `retire`, `cutover`, `gate` (a scan's `--fail-on new`), `error`, `tts_calls`: the TTS calls the run made, per
voice; absent in a run.json written before it was recorded), then what a report adds beside it (`summary`,
`history`: handed in by the writer), then `voices`, one object per row in `VOICE_COLUMNS`
order. `chunks` streams it a voice at a time; `load` reads it back, checking every field's
type and naming the file when one is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.core.errors import ExitCode, UsageError
from audit.core.owncalls import SentCalls
from audit.core.secrets import scrub_values
from audit.runs.kind import RunKind
from audit.runs.record import RUN_JSON, PlanRef, RunRecord, VoiceRow

TOOL = "clone-audit"
#: Keys of `RunRecord.changes`, stored at the top of run.json.
CHANGE_KEYS = ("before_after", "mapping", "review", "retire", "cutover", "gate")
#: Keys a report writes beside the record (not part of it; read back by the report pipeline).
EXTRA_KEYS = ("summary", "history")


def head(record: RunRecord) -> dict[str, Any]:
    """Everything of run.json but `voices` and the report's extras."""
    out: dict[str, Any] = {
        "tool": TOOL, "version": record.version, "kind": record.kind.value, "account": record.account,
        "run_id": record.run_id, "started_at": _time(record.started_at), "finished_at": _time(record.finished_at),
        "base_url": record.base_url, "parameters": dict(record.parameters), "exit_code": int(record.exit_code),
    }
    if record.kind in (RunKind.SCAN, RunKind.PLAN):
        out["exceptions"] = None if record.exceptions is None else dict(record.exceptions)
    for key in ("usage", "cost", "concurrency"):
        value = getattr(record, key)
        if value is not None:
            out[key] = dict(value)
    if record.plan is not None:
        out["plan_id"], out["plan_folder"] = record.plan.plan_id, record.plan.folder
    for key in CHANGE_KEYS:
        if key in record.changes:
            out[key] = record.changes[key]
    if record.error is not None:
        out["error"] = record.error
    if record.tts_calls is not None:
        out["tts_calls"] = [c.as_dict() for c in record.tts_calls]
    return out


def chunks(record: RunRecord, extra: Mapping[str, Any] | None = None) -> Iterator[str]:
    """run.json in pieces (the head, then one voice at a time), for a writer that streams it."""
    top = {**head(record), **{k: v for k, v in (extra or {}).items() if k in EXTRA_KEYS}}
    text = json.dumps(scrub_values(top), ensure_ascii=False, indent=2, default=str)
    yield text[:-2] + ',\n  "voices": ['
    for i, row in enumerate(record.voices):
        body = json.dumps(scrub_values(row.as_dict()), ensure_ascii=False, indent=2).replace("\n", "\n    ")
        yield ("," if i else "") + "\n    " + body
    yield "\n  ]\n}\n" if record.voices else "]\n}\n"


def render(record: RunRecord, extra: Mapping[str, Any] | None = None) -> str:
    return "".join(chunks(record, extra))


def read(folder: Path, *, voices: bool = True) -> tuple[RunRecord, dict[str, Any]]:
    """The record stored in `folder`'s run.json, and the report's extras beside it (without
    `voices`: the record alone, its rows neither typed nor kept). UsageError naming the file
    when it is missing, not JSON, or not a clone-audit run."""
    path = folder / RUN_JSON
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise _not_a_run(path, str(exc)) from None
    if not voices and isinstance(document, dict):
        document["voices"] = []
    try:
        record = parse(document)
    except (ValueError, KeyError, TypeError) as exc:
        raise _not_a_run(path, str(exc)) from None
    extra = {k: document[k] for k in EXTRA_KEYS if k in document}
    return record.at(folder), extra


def load(folder: Path, *, voices: bool = True) -> RunRecord:
    return read(folder, voices=voices)[0]


def parse(document: Any) -> RunRecord:
    """A RunRecord from run.json's object (ValueError, KeyError or TypeError when it is not one)."""
    if not isinstance(document, dict):
        raise TypeError("not a JSON object")
    kind = RunKind.parse(document.get("kind", "scan"))  # runs written before `kind` existed were scans
    if kind is None:
        raise ValueError(f"unknown kind {str(document.get('kind'))[:40]!r}")
    voices = document.get("voices", [])
    if not isinstance(voices, list):
        raise TypeError("voices is not a list")
    plan_id, plan_folder = document.get("plan_id"), document.get("plan_folder")
    return RunRecord(
        kind=kind,
        run_id=_text(document, "run_id"),
        started_at=_when(document, "started_at"),
        finished_at=_when(document, "finished_at"),
        base_url=_text(document, "base_url"),
        exit_code=ExitCode(_int(document, "exit_code")),
        account=_text(document, "account", ""),
        version=_text(document, "version", ""),
        parameters=_object(document, "parameters") or {},
        voices=tuple(VoiceRow.of(_row(v)) for v in voices),
        usage=_object(document, "usage"),
        cost=_object(document, "cost"),
        concurrency=_object(document, "concurrency"),
        exceptions=_object(document, "exceptions"),
        plan=PlanRef(str(plan_id), str(plan_folder or "")) if isinstance(plan_id, str) else None,
        changes={k: document[k] for k in CHANGE_KEYS if k in document},
        error=document["error"] if isinstance(document.get("error"), str) else None,
        tts_calls=_tts_calls(document),
    )


def _tts_calls(document: Mapping[str, Any]) -> tuple[SentCalls, ...] | None:
    value = document.get("tts_calls")
    if value is None:
        return None
    if not isinstance(value, list):
        raise TypeError("tts_calls is not a list")
    return tuple(SentCalls.of(_row(v)) for v in value)


def _not_a_run(path: Path, why: str) -> UsageError:
    return UsageError(f"{path} is not a clone-audit run: {why[:200]}",
                      hint="Point at a run folder clone-audit wrote (`clone-audit history` lists them).")


def _time(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _row(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("a voice is not a JSON object")
    return value


def _text(document: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = document.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{key} is missing or not text")
    return value


def _int(document: Mapping[str, Any], key: str) -> int:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} is missing or not a whole number")
    return value


def _when(document: Mapping[str, Any], key: str) -> datetime:
    return datetime.fromisoformat(_text(document, key))


def _object(document: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"{key} is not a JSON object")
    return value
