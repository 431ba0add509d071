"""Writing and reading report files: the one step of reporting that touches the disk.

Renderers return strings; this module puts them where `audit.core.runfolder` says
they go, each written atomically, confined to its folder and scrubbed of secrets. A folder
holds one run: clones.csv + run.json (the scan), plan.json + plan.csv (a plan),
mapping.csv + mapping.json (a migration), listen/ (clips of sources and new clones for a
reviewer), delete-in-dashboard.txt (a retire's ids the API would not delete), cutover.json (the cutover of callers), and report.html over all of them. A
plan's report.html is the reviewed evidence: apply, review, retire and cutover update the
plan folder's mapping, clips and cutover record but write their own report in their own
folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.compliance.changes import HistoryView
from audit.core.models import Verdict
from audit.core.runfolder import MAPPING_JSON, RunFolder
from audit.migrate.document import Plan
from audit.migrate.state import MappingStatus, Migration
from audit.report.listen import clip, listen_rows
from audit.report.migration import mapping_frame, render_mapping_csv, render_mapping_json, render_plan_csv
from audit.report.rows import row_csv_chunks, row_summary
from audit.report.tables import csv_chunks, frame_of, records, summary, voice_rows
from audit.runs import document
from audit.runs.record import RunRecord, VoiceRow

if TYPE_CHECKING:  # pandas is imported where a frame is built, not when a scan starts
    import pandas as pd


def write_scan_files(
    folder: RunFolder, record: RunRecord, frame: pd.DataFrame, context: HistoryView | None = None,
    *, bom: bool = False,
) -> RunRecord:
    """clones.csv and run.json of a scan or plan; returns the record with the frame's rows as
    its voices (what run.json holds)."""
    record = record.with_voices(voice_rows(frame))
    folder.write_chunks(folder.clones_csv, csv_chunks(frame, bom=bom))
    folder.write_chunks(folder.run_json, document.chunks(record, report_extras(frame, context)))
    return record


def write_scan_rows(
    folder: RunFolder, record: RunRecord, rows: Sequence[VoiceRow], context: HistoryView | None = None,
    *, bom: bool = False,
) -> RunRecord:
    """`write_scan_files` from a scan's rows, without pandas (the same bytes); returns the record
    with the rows as its voices."""
    record = record.with_voices(tuple(rows))
    folder.write_chunks(folder.clones_csv, row_csv_chunks(record.voices, bom=bom))
    extras = {"summary": row_summary(record.voices), **({"history": context.as_dict()} if context else {})}
    folder.write_chunks(folder.run_json, document.chunks(record, extras))
    return record


def report_extras(frame: pd.DataFrame, context: HistoryView | None) -> dict[str, Any]:
    """What a report adds beside the record in run.json: the summary counts, and the history."""
    return {"summary": summary(frame), **({"history": context.as_dict()} if context else {})}


def write_plan_files(folder: RunFolder, plan: Plan) -> None:
    folder.write_text(folder.plan_csv, render_plan_csv(plan))
    folder.write_text(folder.plan_json, plan.to_json())


def write_mapping_files(folder: RunFolder, meta: Mapping[str, Any], mapping: pd.DataFrame) -> None:
    folder.write_text(folder.mapping_csv, render_mapping_csv(mapping))
    folder.write_text(folder.mapping_json, render_mapping_json(mapping, meta))


def write_migration_files(folder: RunFolder, plan: Plan, rows: Sequence[Migration]) -> None:
    """mapping.csv and mapping.json from the ledger's rows, beside the plan. The plan's own
    report.html is left as it was reviewed; `write_migration_run` writes the migration's."""
    mapping = mapping_frame(rows)
    meta = {"tool": "clone-audit", "plan_id": plan.plan_id, "base_url": plan.base_url,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_mapping_files(folder, meta, mapping)


def migrated_view(frame: pd.DataFrame, mapping: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The plan's scan rows after a migration: a voice whose replacement is ready is `migrated`
    and `replaced_by` its new id; and non-compliant before → after."""
    ready = {r.old_voice_id: r.new_voice_id for r in mapping.itertuples() if r.status == MappingStatus.READY}
    after = frame.copy()
    hit = after["voice_id"].isin(set(ready)) & (after["verdict"] == Verdict.NON_COMPLIANT)
    after.loc[hit, "verdict"] = Verdict.MIGRATED.value
    after.loc[hit, "replaced_by"] = after.loc[hit, "voice_id"].map(ready)
    after.loc[hit, "reason"] = "replaced by " + after.loc[hit, "replaced_by"].astype(str) + ", verified on v3.1"
    before = int((frame["verdict"] == Verdict.NON_COMPLIANT).sum())
    return after, {"non_compliant": before, "after": before - int(hit.sum()), MappingStatus.READY.value: len(ready)}


def write_migration_run(
    folder: RunFolder, record: RunRecord, frame: pd.DataFrame, plan: Plan, rows: Sequence[Migration],
    cutover: Mapping[str, Any] | None = None, listen_from: RunFolder | None = None,
) -> RunRecord:
    """An apply's, review's, retire's, cutover's or usage run's own folder: run.json (the plan's
    voices as they stand now, and the mapping), mapping.csv and report.html with before → after,
    and the listening section over the clips kept in the plan's folder (`listen_from`), linked
    relative to this folder. Returns the record as written (its voices, before → after, mapping)."""
    mapping = mapping_frame(rows)
    listening = None
    if listen_from is not None:
        home = folder.home or folder.path
        clips = {voice: (os.path.relpath(listen_from.path / source, home), os.path.relpath(listen_from.path / clone, home))
                 for voice, (source, clone) in listen_clips(listen_from, [r.old_voice_id for r in rows]).items()}
        listening = listen_rows(records(mapping), clips) or None
    after, counts = migrated_view(frame, mapping)
    changes = {**record.changes, "before_after": counts,
               "mapping": json.loads(render_mapping_json(mapping, {}))["mapping"]}
    record = dataclasses.replace(record, changes=changes, voices=voice_rows(after))
    folder.write_chunks(folder.run_json, document.chunks(record, report_extras(after, None)))
    folder.write_text(folder.mapping_csv, render_mapping_csv(mapping))
    if dashboard := record.changes.get("retire", {}).get("for_dashboard"):
        folder.write_text(folder.dashboard_txt, "".join(f"{voice_id}\n" for voice_id in dashboard))
    meta = document.head(record)
    from audit.report.html import report_html_chunks  # jinja2 and the page's parts: loaded to write a page

    folder.write_chunks(folder.report_html, report_html_chunks(meta, after, plan, mapping, before=counts, cutover=cutover,
                                                                listen=listening, rows=record.voices))
    return record


def write_listen_clips(folder: RunFolder, voice_id: str, source: bytes, clone: bytes) -> None:
    """A short 16 kHz excerpt of the source recording and of the new clone's probe answer,
    beside the report (AudioError when either is not audio; nothing is written then)."""
    clips = clip(source), clip(clone)
    folder.write_bytes(folder.listen_clip(voice_id, "source"), clips[0])
    folder.write_bytes(folder.listen_clip(voice_id, "clone"), clips[1])


def listen_clips(folder: RunFolder, voice_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Voice → the relative links of its source and clone clips, for voices that have both."""
    found: dict[str, tuple[str, str]] = {}
    if not folder.listen.is_dir():
        return found
    for voice_id in voice_ids:
        source, clone = folder.listen_clip(voice_id, "source"), folder.listen_clip(voice_id, "clone")
        if source.is_file() and clone.is_file():
            found[voice_id] = (source.relative_to(folder.path).as_posix(), clone.relative_to(folder.path).as_posix())
    return found


def write_html(
    folder: RunFolder, record: RunRecord, frame: pd.DataFrame | None,
    plan: Plan | None = None, mapping: pd.DataFrame | None = None, context: HistoryView | None = None,
) -> None:
    """report.html of a scan or plan. `record` as `write_scan_files` returned it: its voices,
    the frame's rows, are the page's (none: made from the frame; no frame: the page is made
    from the record's voices alone)."""
    from audit.report.html import report_html_chunks  # jinja2 and the page's parts: loaded to write a page

    folder.write_chunks(folder.report_html, report_html_chunks(document.head(record), frame, plan, mapping, context,
                                                                rows=record.voices or None))


def write_cutover(folder: RunFolder, record: Mapping[str, Any]) -> None:
    folder.write_text(folder.cutover_json, json.dumps(record, ensure_ascii=False, indent=2) + "\n")


def read_cutover(folder: RunFolder) -> dict[str, Any] | None:
    """The cutover record of a migration folder, or None when there is none (or it is unreadable)."""
    try:
        record = json.loads(folder.cutover_json.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def read_run(folder: RunFolder) -> tuple[RunRecord, pd.DataFrame]:
    """The run stored in a folder (run.json): its record and its voices as a frame."""
    record = document.load(folder.path)
    return record, frame_of(record.voices)


def mismatched_replacements(out_root: Path) -> dict[str, str]:
    """Old voice id → new id of every replacement a migration under `out_root` found to speak
    as someone else and nobody accepted (its plan folder's mapping.json says `mismatch`).
    Unreadable mappings are skipped: this only ever withholds a `migrated` verdict."""
    found: dict[str, str] = {}
    for path in sorted(out_root.glob(f"*/{MAPPING_JSON}")):
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))["mapping"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for row in rows if isinstance(rows, list) else ():
            if (isinstance(row, dict) and row.get("status") == MappingStatus.MISMATCH
                    and isinstance(row.get("old_voice_id"), str) and isinstance(row.get("new_voice_id"), str)):
                found[row["old_voice_id"]] = row["new_voice_id"]
    return found
