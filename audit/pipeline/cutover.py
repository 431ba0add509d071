"""The cutover pipeline: find callers of old voice ids, patch them, undo it, prove quiet.

    mapping.csv/json → file listing → one scan → diff / patch file / atomic write
    (rollback file first) → cutover.json + report.html of the migration folder
    rollback file → exact restore → cutover.json + report.html
    mapping + TTS analytics log → calls per old id since a date → cutover.json + report.html

A composition root: what matches, what is written and how it is undone are decided in
`audit.cutover`; reading the analytics log is the client's; the record and the report
are written by `audit.report.files`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit import __version__
from audit.api.client import WavesClient
from audit.core.errors import CloneAuditError, ExitCode, UsageError
from audit.core.models import NoProgress, Progress
from audit.core.runfolder import RunFolder, write_bytes
from audit.core.usage import TtsLogs, usage_by_voice
from audit.cutover import record
from audit.cutover.mapping import VoiceMapping, read_mapping
from audit.cutover.patch import display_diff, git_patch, replace_ready
from audit.cutover.rollback import PlannedWrite, RestoreOutcome, WriteOutcome, restore, write_patched
from audit.cutover.scanner import Occurrence, ScanResult, scan_files
from audit.cutover.textfile import encode
from audit.cutover.walk import list_files
from audit.migrate.document import read_plan
from audit.migrate.ledger import Ledger
from audit.report import files

DEFAULT_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class CutoverOptions:
    write: bool = False
    patch_file: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    include_ignored: bool = False
    rollback_dir: Path | None = None


@dataclass
class CutoverRun:
    mapping: VoiceMapping
    scan: ScanResult
    base: Path  # paths are shown relative to it
    diff: str = ""
    patch_file: Path | None = None
    written: WriteOutcome | None = None
    remaining: list[Occurrence] = field(default_factory=list)
    report_note: str = ""

    @property
    def exit_code(self) -> ExitCode:
        if self.scan.unchecked:
            return ExitCode.PARTIAL
        return ExitCode.FINDINGS if self.remaining else ExitCode.OK


@dataclass
class UsageRun:
    since: datetime
    logs: TtsLogs
    rows: list[record.UsageRow]  # per old id, when a mapping was given
    others: list[Any]  # VoiceUsage per called voice id, without a mapping
    report_note: str = ""

    @property
    def exit_code(self) -> ExitCode:
        if not self.logs.complete:
            return ExitCode.PARTIAL
        return ExitCode.FINDINGS if any(r.old.calls for r in self.rows) else ExitCode.OK


def cutover(
    mapping_path: Path, paths: Sequence[Path], options: CutoverOptions, progress: Progress | None = None,
) -> CutoverRun:
    """Scan `paths` for the mapping's old ids; with `options`, write a patch file or the files."""
    progress = progress or NoProgress()
    mapping = read_mapping(mapping_path)
    base = Path(os.path.realpath(Path.cwd()))
    rollback_dir = _rollback_dir(mapping_path, paths, options) if options.write else None
    listing = list_files(paths, max_bytes=options.max_bytes, include_ignored=options.include_ignored,
                         exclude=[mapping_path])
    progress.start(len(listing.files), "Reading files")
    scanned = scan_files(listing, mapping, advance=progress.advance)
    run = CutoverRun(mapping, scanned, base)
    plans = _planned_writes(scanned)
    run.diff = "".join(
        display_diff(record.shown(p.path, base), h.text, _new_text(h), encoding=p.encoding.value)
        for h, p in plans
    )
    if options.patch_file is not None:
        patch = b"".join(
            git_patch(record.shown(p.path, base), p.before, p.after, utf16=p.encoding.is_utf16, mode=p.mode)
            for _, p in plans
        )
        write_bytes(options.patch_file, patch)
        run.patch_file = options.patch_file
    refused: set[Path] = set()
    if options.write and plans:
        assert rollback_dir is not None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(2).hex()
        meta = {"tool": "clone-audit", "version": __version__, "mapping": str(mapping_path.resolve()),
                "paths": [str(Path(p).resolve()) for p in paths]}
        run.written = write_patched([p for _, p in plans], rollback_dir / f"rollback-{stamp}.json", meta)
        refused = {path for path, _ in run.written.refused}
    run.remaining = [
        o for o in scanned.occurrences if not o.ready or not options.write or o.path in refused
    ]
    now = datetime.now(UTC)
    run.report_note = _record(
        mapping_path,
        scan=record.scan_section(scanned, paths, now, base, run.remaining),
        write=None if run.written is None else record.write_section(run.written, now, base),
    )
    return run


def rollback(rollback_file: Path) -> tuple[RestoreOutcome, str]:
    """Put back the files a `--write` changed, exactly; refuse any changed since."""
    outcome = restore(rollback_file)
    base = Path(os.path.realpath(Path.cwd()))
    note = ""
    if outcome.mapping is not None:
        note = _record(outcome.mapping, rollback=record.restore_section(outcome, datetime.now(UTC), base))
    return outcome, note


async def usage(
    client: WavesClient, mapping_path: Path | None, since: datetime, *, max_pages: int = 500
) -> UsageRun:
    """Calls per voice id since `since` from the TTS analytics log: per old id of the
    mapping (with its new id's calls beside it), or per called voice id without one."""
    mapping = read_mapping(mapping_path) if mapping_path is not None else None
    logs = await client.tts_logs(since=since, max_pages=max_pages)
    ids = [r.old_voice_id for r in mapping.rows] if mapping else []
    summary = usage_by_voice(logs.calls, since, voice_ids=ids)
    if mapping is None or mapping_path is None:
        others = sorted(summary.values(), key=lambda u: (-u.calls, u.voice_id))
        return UsageRun(since, logs, [], others)
    rows = record.usage_rows(
        ((r.old_voice_id, r.display_name, r.new_voice_id, r.ready) for r in mapping.rows), summary
    )
    run = UsageRun(since, logs, rows, [])
    run.report_note = _record(
        mapping_path,
        usage=record.usage_section(rows, since, datetime.now(UTC), complete=logs.complete, pages=logs.pages),
    )
    return run


def _planned_writes(scanned: ScanResult) -> list[tuple[Any, PlannedWrite]]:
    plans = []
    for hit in scanned.hits:
        new_text, replacements = replace_ready(hit.text, hit.occurrences)
        if replacements:
            plans.append((hit, PlannedWrite(
                hit.entry.path, hit.encoding, hit.entry.mode, hit.data, encode(new_text, hit.encoding),
                tuple(replacements),
            )))
    return plans


def _new_text(hit: Any) -> str:
    return replace_ready(hit.text, hit.occurrences)[0]


def _rollback_dir(mapping_path: Path, paths: Sequence[Path], options: CutoverOptions) -> Path:
    """Where the rollback file goes: --rollback-dir, else the migration folder's cutover/
    (or a folder beside a mapping that lives elsewhere); never inside the patched paths."""
    folder = RunFolder(mapping_path.parent)
    chosen = options.rollback_dir or (
        folder.cutover_dir if folder.plan_json.exists() else mapping_path.parent / "clone-audit-rollback"
    )
    real = Path(os.path.realpath(chosen))
    for path in paths:
        root = Path(os.path.realpath(path))
        if real == root or real.is_relative_to(root):
            raise UsageError(
                f"the rollback file would go to {chosen}, inside {path}, which is being patched.",
                hint="Keep rollback files out of the patched tree (a `git clean` or checkout could remove "
                "them): pass --rollback-dir DIR outside it.",
            )
    return chosen


def _record(mapping_path: Path, **sections: Any) -> str:
    """Add `sections` to the migration folder's cutover.json and re-render its report.
    Returns a note when that could not be done (the cutover itself stands)."""
    folder = RunFolder(mapping_path.parent)
    if not folder.plan_json.exists():
        return f"{mapping_path.parent} is not a migration folder: no report was updated."
    try:
        files.write_cutover(folder, record.merge(files.read_cutover(folder), mapping_path.resolve(), **sections))
        if folder.ledger.exists() and folder.run_json.exists():
            with Ledger(folder.ledger) as ledger:
                files.write_migration_report(folder, read_plan(folder.plan_json), ledger.all())
    except CloneAuditError as exc:
        return f"the report of {folder.path} was not updated: {exc.message}"
    return ""
