"""Writing and reading report files: the one step of reporting that touches the disk.

Renderers return strings; this module puts them where `audit.core.runfolder` says
they go, each written atomically, confined to its folder and scrubbed of secrets. A folder
holds one run: clones.csv + run.json (the scan), plan.json + plan.csv (a plan),
mapping.csv + mapping.json (a migration), listen/ (clips of sources and new clones for a
reviewer), cutover.json (the cutover of callers), and report.html over all of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from audit.core.errors import UsageError
from audit.core.runfolder import RunFolder
from audit.migrate.document import Plan
from audit.migrate.state import Migration
from audit.report.html import render_report_html
from audit.report.listen import clip, listen_rows
from audit.report.migration import mapping_frame, render_mapping_csv, render_mapping_json, render_plan_csv
from audit.report.tables import COLUMNS, records, render_csv, render_json


def write_scan_files(folder: RunFolder, meta: Mapping[str, Any], frame: pd.DataFrame) -> None:
    folder.write_text(folder.clones_csv, render_csv(frame))
    folder.write_text(folder.run_json, render_json(meta, frame))


def write_plan_files(folder: RunFolder, plan: Plan) -> None:
    folder.write_text(folder.plan_csv, render_plan_csv(plan))
    folder.write_text(folder.plan_json, plan.to_json())


def write_mapping_files(folder: RunFolder, meta: Mapping[str, Any], mapping: pd.DataFrame) -> None:
    folder.write_text(folder.mapping_csv, render_mapping_csv(mapping))
    folder.write_text(folder.mapping_json, render_mapping_json(mapping, meta))


def write_migration_files(folder: RunFolder, plan: Plan, rows: Sequence[Migration]) -> None:
    """mapping.csv and mapping.json from the ledger's rows, and report.html with the mapping in it."""
    mapping = mapping_frame(rows)
    meta = {"tool": "clone-audit", "plan_id": plan.plan_id, "base_url": plan.base_url,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_mapping_files(folder, meta, mapping)
    write_migration_report(folder, plan, rows)


def write_migration_report(folder: RunFolder, plan: Plan, rows: Sequence[Migration]) -> None:
    """report.html of a migration folder: its scan, plan, mapping, listening clips and cutover record."""
    run_meta, frame = read_run(folder)
    mapping = mapping_frame(rows)
    listen = listen_rows(records(mapping), listen_clips(folder, [r.old_voice_id for r in rows]))
    write_html(folder, run_meta, frame, plan=plan, mapping=mapping, cutover=read_cutover(folder),
               listen=listen or None)


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
    folder: RunFolder, meta: Mapping[str, Any], frame: pd.DataFrame,
    plan: Plan | None = None, mapping: pd.DataFrame | None = None,
    cutover: Mapping[str, Any] | None = None, listen: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    folder.write_text(folder.report_html, render_report_html(meta, frame, plan, mapping, cutover, listen))


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


def read_run(folder: RunFolder) -> tuple[dict[str, Any], pd.DataFrame]:
    """The scan stored in a folder (run.json): its metadata and its rows."""
    path = folder.run_json
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        voices = document.pop("voices")
        document.pop("summary", None)
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise UsageError(
            f"{path} is not a clone-audit run: {exc}", hint="Point at a folder a scan or plan wrote."
        ) from None
    return document, pd.DataFrame(voices, columns=list(COLUMNS))
