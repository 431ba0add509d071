"""Writing report files: the one step of reporting that touches the disk.

Each file is written to a temporary name in the same folder and renamed into place,
so a crash never leaves a half-written report where a reader would find it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..models import VoiceResult
from .html import render_scan_html
from .tables import render_csv, render_json, voice_frame


@dataclass(frozen=True)
class ReportFiles:
    folder: Path
    html: Path
    csv: Path
    json: Path


def write_scan_reports(
    results: Iterable[VoiceResult], meta: Mapping[str, Any], folder: Path
) -> ReportFiles:
    finished = meta.get("finished_at")
    now = datetime.fromisoformat(finished) if isinstance(finished, str) else datetime.now(UTC)
    frame = voice_frame(results, now)
    out = ReportFiles(folder, folder / "report.html", folder / "clones.csv", folder / "run.json")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the report folder {folder}: {exc.strerror}",
            hint="Choose another folder with --out.",
        ) from None
    write_text(out.csv, render_csv(frame))
    write_text(out.json, render_json(meta, frame))
    write_text(out.html, render_scan_html(meta, frame))
    return out


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
