"""Plan and migration tables: plan.csv rows, and the old → new mapping (CSV and JSON).

Pure: a Plan or ledger rows in, rows and strings out. Only a mapping row whose new
clone was verified by a probe (and sounds like its source, or a person accepted it) is
marked `ready`; a fidelity mismatch awaiting review is `mismatch`. Plan rows go by action,
then most called first (`recent_calls`, when the plan's scan had usage numbers), then by name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from audit.core.models import Action
from audit.migrate.document import Plan, PlanEntry
from audit.migrate.state import Migration, mapping_status
from audit.report.tables import render_csv

if TYPE_CHECKING:  # pandas is imported where a frame is built, not when a scan starts
    import pandas as pd

PLAN_COLUMNS: tuple[str, ...] = (
    "voice_id", "display_name", "verdict", "probe_verdict", "action", "reason", "source_path",
    "matched_by", "source_type", "source_seconds", "source_speech_seconds", "source_sha256",
    "fitted", "upload_sha256", "new_display_name", "new_language", "new_tags", "new_model", "replacement",
    "recent_calls",
)  # fmt: skip
MAPPING_COLUMNS: tuple[str, ...] = (
    "old_voice_id", "new_voice_id", "display_name", "language", "source_sha256",
    "verified", "verified_at", "status", "detail", "retired_at",
    "similarity", "fidelity", "review", "reviewed_by", "reviewed_at",
)  # fmt: skip
ACTION_ORDER = (Action.BLOCKED, Action.RECLONE, Action.SKIP, Action.KEEP)


def plan_row(entry: PlanEntry) -> dict[str, Any]:
    source, upload, new = entry.source, entry.upload, entry.new_clone
    return {
        "voice_id": entry.voice_id,
        "display_name": entry.display_name,
        "verdict": entry.verdict,
        "probe_verdict": entry.probe_verdict,
        "action": entry.action.value,
        "reason": entry.reason,
        "source_path": source.path if source else None,
        "matched_by": source.matched_by if source else None,
        "source_type": source.kind if source else None,
        "source_seconds": source.duration_s if source else None,
        "source_speech_seconds": source.speech_s if source else None,
        "source_sha256": source.sha256 if source else None,
        "fitted": upload.fitted if upload else None,
        "upload_sha256": upload.sha256 if upload else None,
        "new_display_name": new.display_name if new else None,
        "new_language": new.language if new else None,
        "new_tags": ",".join(new.tags) if new else None,
        "new_model": new.model if new else None,  # the pool the re-clone is made on
        "replacement": entry.replacement,
        "recent_calls": entry.recent_calls,
    }


def plan_frame(plan: Plan) -> pd.DataFrame:
    rank = {a: i for i, a in enumerate(ACTION_ORDER)}
    entries = sorted(plan.entries, key=lambda e: (rank[e.action], -(e.recent_calls or 0),
                                                  e.display_name.strip().casefold(), e.voice_id))
    import pandas as pd  # here, not at the top: a scan loads pandas only to build its table
    return pd.DataFrame([plan_row(e) for e in entries], columns=list(PLAN_COLUMNS)).astype({"recent_calls": "Int64"})


def mapping_frame(migrations: Iterable[Migration]) -> pd.DataFrame:
    rows = [
        {
            "old_voice_id": m.old_voice_id,
            "new_voice_id": m.new_voice_id,
            "display_name": m.display_name,
            "language": m.language,
            "source_sha256": m.source_sha256,
            "verified": m.probe_verdict,
            "verified_at": m.verified_at,
            "status": mapping_status(m).value,
            "detail": m.detail,
            "retired_at": m.retired_at,
            "similarity": m.similarity,
            "fidelity": m.fidelity,
            "review": m.review,
            "reviewed_by": m.reviewed_by,
            "reviewed_at": m.reviewed_at,
        }
        for m in migrations
    ]
    import pandas as pd  # here, not at the top: a scan loads pandas only to build its table
    return pd.DataFrame(rows, columns=list(MAPPING_COLUMNS))


def render_plan_csv(plan: Plan) -> str:
    return render_csv(plan_frame(plan))


def render_mapping_csv(frame: pd.DataFrame) -> str:
    return render_csv(frame)


def render_mapping_json(frame: pd.DataFrame, meta: Mapping[str, Any]) -> str:
    rows = json.loads(frame.to_json(orient="records", force_ascii=False))
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    document = {**meta, "counts": {k: int(v) for k, v in counts.items()}, "mapping": rows}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
