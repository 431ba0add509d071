"""Writing and reading report files: the one step of reporting that touches the disk.

Each file is written to a temporary name in the same folder, flushed, and renamed into
place, so a crash never leaves a half-written report where a reader would find it.
A folder holds one run: clones.csv + run.json (the scan), plan.json + plan.csv (a
plan), mapping.csv + mapping.json (a migration), and report.html over all of them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from audit.core.errors import UsageError
from audit.migrate.document import Plan
from audit.report.html import render_report_html
from audit.report.migration import render_mapping_csv, render_mapping_json, render_plan_csv
from audit.report.tables import COLUMNS, render_csv, render_json


def ensure_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the report folder {folder}: {exc.strerror}",
            hint="Choose another folder with --out.",
        ) from None
    return folder


def write_scan_files(folder: Path, meta: Mapping[str, Any], frame: pd.DataFrame) -> None:
    write_text(ensure_folder(folder) / "clones.csv", render_csv(frame))
    write_text(folder / "run.json", render_json(meta, frame))


def write_plan_files(folder: Path, plan: Plan) -> Path:
    write_text(ensure_folder(folder) / "plan.csv", render_plan_csv(plan))
    path = folder / "plan.json"
    write_text(path, plan.to_json())
    return path


def write_mapping_files(folder: Path, meta: Mapping[str, Any], mapping: pd.DataFrame) -> None:
    write_text(ensure_folder(folder) / "mapping.csv", render_mapping_csv(mapping))
    write_text(folder / "mapping.json", render_mapping_json(mapping, meta))


def write_html(
    folder: Path, meta: Mapping[str, Any], frame: pd.DataFrame,
    plan: Plan | None = None, mapping: pd.DataFrame | None = None,
) -> Path:
    path = ensure_folder(folder) / "report.html"
    write_text(path, render_report_html(meta, frame, plan, mapping))
    return path


def read_run(folder: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The scan stored in a folder (run.json): its metadata and its rows."""
    path = folder / "run.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        voices = document.pop("voices")
        document.pop("summary", None)
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise UsageError(
            f"{path} is not a clone-audit run: {exc}", hint="Point at a folder a scan or plan wrote."
        ) from None
    return document, pd.DataFrame(voices, columns=list(COLUMNS))


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
