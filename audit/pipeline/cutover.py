"""The cutover pipeline: find callers of old voice ids, patch them, undo it, prove quiet.

    mapping.csv/json → file listing → one scan → diff / patch file / atomic write
    (rollback file first) → cutover.json + report.html of the migration folder
    rollback file → exact restore → cutover.json + report.html
    mapping + TTS analytics log − the output folder's own probes → calls per old id since a date
    → cutover.json + report.html

A composition root: what matches, what is written and how it is undone are decided in
`audit.cutover`; reading the analytics log is the client's; the record and the report
are written by `audit.report.files`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit import __version__
from audit.core.errors import CloneAuditError, ExitCode, UsageError
from audit.core.models import NoProgress, Progress
from audit.core.runfolder import RunFolder, write_bytes
from audit.core.secrets import REGISTRY
from audit.core.untrusted import visible
from audit.core.owncalls import LeftOut, leave_out_own
from audit.core.usage import TtsLogs, doubts, usage_by_voice, zone_note
from audit.cutover import record
from audit.cutover.changes import each_change
from audit.cutover.mapping import VoiceMapping, read_mapping
from audit.cutover.patch import display_diff, git_patch
from audit.cutover.rollback import RestoreOutcome, WriteOutcome, plan_writes, restore, write_patched
from audit.cutover.scanner import Occurrence, ScanResult, scan_files
from audit.cutover.walk import DEFAULT_MAX_BYTES, list_files
from audit.migrate.document import read_plan
from audit.migrate.ledger import Ledger
from audit.migrate.state import is_ready
from audit.pipeline import history
from audit.report import files
from audit.runs.kind import RunKind
from audit.runs.owncalls import own_runs
from audit.runs.record import RunRecord

if TYPE_CHECKING:  # usage is handed a client; a cutover of files never loads the API's
    from audit.api.client import WavesClient


@dataclass(frozen=True)
class CutoverOptions:
    write: bool = False
    patch_file: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    include_ignored: bool = False
    rollback_dir: Path | None = None
    record: bool = True  # False (--check, a pre-commit hook): no cutover.json, no run, no report
    exclude: tuple[Path, ...] = ()  # files never read, beside the mapping (the SARIF log -o writes)


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
    record: RunRecord | None = None  # the cutover run, when the mapping lies in a migration folder

    @property
    def exit_code(self) -> ExitCode:
        if self.scan.unchecked:
            return ExitCode.PARTIAL
        return ExitCode.FINDINGS if self.remaining else ExitCode.OK

    def lines(self, *, diff: bool) -> list[str]:
        return describe(self, diff=diff)


@dataclass
class UsageRun:
    since: datetime
    logs: TtsLogs
    rows: list[record.UsageRow]  # per old id, when a mapping was given
    others: list[Any]  # VoiceUsage per called voice id, without a mapping
    own: LeftOut | None = None  # the calls of the output folder's own runs, left out of the counts
    report_note: str = ""
    record: RunRecord | None = None  # the usage run, when the mapping lies in a migration folder

    @property
    def exit_code(self) -> ExitCode:
        if not self.logs.complete:
            return ExitCode.PARTIAL
        return ExitCode.FINDINGS if any(r.old.calls for r in self.rows) else ExitCode.OK

    def lines(self) -> list[str]:
        return describe_usage(self)

    def facts(self) -> dict[str, Any]:
        """What `--json` adds to the summary: the read, the calls counted, the own calls left out
        (without a mapping there is no run record, so this is the whole answer)."""
        called = [r.old.to_json() for r in self.rows if r.old.calls] if self.rows else \
            [u.to_json() for u in self.others]
        return {"since": self.since.isoformat(timespec="seconds"), "complete": self.logs.complete,
                "pages": self.logs.pages, "log_calls": len(self.logs.calls), "called": called,
                "own_calls": None if self.own is None else self.own.as_dict()}


def cutover(
    mapping_path: Path, paths: Sequence[Path], options: CutoverOptions, progress: Progress | None = None,
) -> CutoverRun:
    """Scan `paths` for the mapping's old ids; with `options`, write a patch file or the files."""
    progress = progress or NoProgress()
    started = datetime.now(UTC)
    mapping = backed(read_mapping(mapping_path))
    base = Path(os.path.realpath(Path.cwd()))
    rollback_dir = _rollback_dir(mapping_path, paths, options) if options.write else None
    if options.patch_file is not None:
        _check_patch_file(options.patch_file, paths)
    listing = list_files(paths, max_bytes=options.max_bytes, include_ignored=options.include_ignored,
                         exclude=[mapping_path, *options.exclude])
    progress.start(len(listing.files), "Reading files")
    scanned = scan_files(listing, mapping, advance=progress.advance)
    run = CutoverRun(mapping, scanned, base)
    if not options.write and options.patch_file is None:
        run.diff = "".join(display_diff(record.relative_path(c.path, base), c.old_text, c.new_text,
                                        encoding=c.hit.encoding.value) for c in each_change(scanned.hits, scanned.skipped))
    if options.patch_file is not None:
        write_bytes(options.patch_file, (
            git_patch(record.relative_path(c.path, base), c.before, c.after, utf16=c.hit.encoding.is_utf16,
                      mode=c.hit.identity.mode) for c in each_change(scanned.hits, scanned.skipped)))
        run.patch_file = options.patch_file
    refused: set[Path] = set()
    if options.write and any(o.ready for o in scanned.occurrences):
        assert rollback_dir is not None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(2).hex()
        meta = {"tool": "clone-audit", "version": __version__, "mapping": str(mapping_path.resolve()),
                "paths": [str(Path(p).resolve()) for p in paths]}
        planned, not_changed = plan_writes(scanned.hits)
        run.written = write_patched(planned, rollback_dir / f"rollback-{stamp}.json", meta, not_changed)
        refused = {path for path, _ in run.written.refused}
    run.remaining = [
        o for o in scanned.occurrences if not o.ready or not options.write or o.path in refused
    ]
    now = datetime.now(UTC)
    if options.record:
        run.report_note, run.record = record_run(
            mapping_path, RunKind.CUTOVER, run.exit_code, started,
            scan=record.scan_section(scanned, paths, now, base, run.remaining),
            write=None if run.written is None else record.write_section(run.written, now, base),
        )
    return run


@dataclass(frozen=True)
class RollbackRun:
    restored: RestoreOutcome
    report_note: str
    record: RunRecord | None  # the cutover run, when the mapping lies in a migration folder

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FINDINGS if self.restored.refused else ExitCode.OK

    def lines(self) -> list[str]:
        restored = self.restored
        lines = [f"Restored {len(restored.restored)} file(s); {len(restored.already)} already original.",
                 *(_printable(f"  refused {path}: {reason}") for path, reason in restored.refused)]
        if self.record is not None:
            left = self.record.changes.get("cutover", {}).get("rollback", {}).get("remaining_after")
            lines.append(f"{restored.occurrences_restored} old id(s) put back: {left} occurrence(s) left."
                         if left is not None else "Occurrences left: unknown since the rollback; recount with "
                         "`clone-audit cutover MAPPING PATH`.")
        return lines


def rollback(rollback_file: Path) -> RollbackRun:
    """Put back the files a `--write` changed, exactly; refuse any changed since."""
    started = datetime.now(UTC)
    outcome = restore(rollback_file)
    base = Path(os.path.realpath(Path.cwd()))
    note, run = "", None
    code = ExitCode.FINDINGS if outcome.refused else ExitCode.OK
    if outcome.mapping is not None:
        last = files.read_cutover(RunFolder(outcome.mapping.parent)) or {}
        note, run = record_run(outcome.mapping, RunKind.CUTOVER, code, started,
                            rollback=record.restore_section(outcome, datetime.now(UTC), base, last.get("scan")))
    return RollbackRun(outcome, note, run)


async def usage(client: WavesClient, mapping_path: Path | None, since: datetime, *, max_pages: int = 500,
                out_root: Path | None = None) -> UsageRun:
    """Calls per voice id since `since` from the TTS analytics log: per old id of the
    mapping (with its new id's calls beside it), or per called voice id without one. The calls
    the output folder's recorded runs made (the mapping's, else `out_root`) are left out."""
    started = datetime.now(UTC)
    mapping = read_mapping(mapping_path) if mapping_path is not None else None
    logs = await client.tts_logs(since=since, max_pages=max_pages)
    ids = [r.old_voice_id for r in mapping.rows] if mapping else []
    home = RunFolder(mapping_path.parent) if mapping_path is not None else None
    root = home.path.parent if home is not None and home.plan_json.is_file() else out_root
    own = leave_out_own(logs.calls, own_runs(root, client.base_url, client.account) if root else [], since)
    summary = usage_by_voice(own.calls, since, voice_ids=ids)
    if mapping is None or mapping_path is None:
        others = sorted(summary.values(), key=lambda u: (-u.calls, u.voice_id))
        return UsageRun(since, logs, [], others, own)
    rows = record.usage_rows(
        ((r.old_voice_id, r.display_name, r.new_voice_id, r.ready) for r in mapping.rows), summary
    )
    run = UsageRun(since, logs, rows, [], own)
    section = record.usage_section(rows, since, datetime.now(UTC), complete=logs.complete, pages=logs.pages)
    run.report_note, run.record = record_run(mapping_path, RunKind.USAGE, run.exit_code, started,
                                          usage={**section, "own_calls": own.as_dict()})
    return run


def backed(mapping: VoiceMapping) -> VoiceMapping:
    """The mapping with each ready row checked against the sealed ledger beside it, when it lies
    in a migration folder: a row the ledger does not back (no such voice, another new id, not
    ready, or a ledger row not as clone-audit sealed it) is not ready, so an edited mapping.csv
    never puts an id of its choosing into the user's files. A mapping elsewhere is the user's own."""
    folder = RunFolder(mapping.path.parent)
    if not (folder.plan_json.is_file() and folder.ledger.is_file()):
        return mapping
    with Ledger(folder.ledger) as ledger:
        rows = []
        for row in mapping.rows:
            entry = ledger.get(row.old_voice_id) if row.ready else None
            if row.ready and (entry is None or not is_ready(entry) or entry.new_voice_id != row.new_voice_id
                              or not ledger.vouches(entry)):
                row = dataclasses.replace(row, ready=False, why_not=(
                    "the ledger beside this mapping does not back this row (edited mapping or ledger?)"))
            rows.append(row)
    return dataclasses.replace(mapping, rows=tuple(rows))


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


def _check_patch_file(patch_file: Path, paths: Sequence[Path]) -> None:
    """--patch FILE goes into an existing folder, outside the scanned paths (a patch inside
    them would be read as a caller's file, and a `git clean` or checkout could remove it)."""
    if not patch_file.parent.is_dir() or patch_file.is_dir():
        raise UsageError(f"--patch {patch_file}: " + ("it is a folder." if patch_file.is_dir() else
                         f"the folder {patch_file.parent} does not exist."),
                         hint="Name a file in an existing folder outside the scanned paths, e.g. --patch cutover.patch.")
    # where the file itself will be (the write replaces a link at that name, never follows it)
    real = Path(os.path.realpath(patch_file.parent)) / patch_file.name
    for path in paths:
        root = Path(os.path.realpath(path))
        if real == root or real.is_relative_to(root):
            raise UsageError(f"--patch {patch_file} lies inside {path}, which is being scanned.",
                             hint="Write the patch outside the scanned paths (say, in the parent folder), "
                             "then `git apply` it from there.")


def record_run(mapping_path: Path, kind: RunKind, code: ExitCode, started: datetime,
            **sections: Any) -> tuple[str, RunRecord | None]:
    """Add `sections` to the migration folder's cutover.json and write a run of its own
    (`kind` cutover or usage, exiting `code`: report.html with the migration's mapping and
    the cutover section; the plan's reviewed report is left as it is). Returns a note when
    that could not be done (the cutover itself stands), and the run's record."""
    folder = RunFolder(mapping_path.parent)
    if not folder.plan_json.exists():
        return f"{mapping_path.parent} is not a migration folder: no report was updated.", None
    run: RunRecord | None = None
    try:
        files.write_cutover(folder, record.merge(files.read_cutover(folder), mapping_path.resolve(), **sections))
        if folder.ledger.exists() and folder.run_json.exists():
            with Ledger(folder.ledger) as ledger:
                plan = read_plan(folder.plan_json)
                done = {k: v for k, v in sections.items() if v is not None}
                run = history.write_migration_report(kind, "", plan, folder.path, ledger.all(), started,
                                                     code, None, changes={"cutover": done})
    except CloneAuditError as exc:
        return f"the report of {folder.path} was not updated: {exc.message}", run
    return "", run


def describe(run: CutoverRun, *, diff: bool) -> list[str]:
    """What the cutover command prints: occurrences, the diff (a dry run), what was
    written, what was skipped, and a summary."""
    scan, base = run.scan, run.base
    lines = [_printable(record.occurrence_line(o, base)) for o in scan.occurrences]
    if diff and run.diff:
        lines += ["", _printable_diff(run.diff.rstrip("\n")), ""]
    return lines + [_printable(line) for line in _describe_outcome(run)]


def _describe_outcome(run: CutoverRun) -> list[str]:
    scan, base = run.scan, run.base
    lines: list[str] = []
    for skipped in scan.skipped:
        kind = "not checked" if skipped.unchecked else "skipped"
        lines.append(f"{kind}: {record.relative_path(skipped.path, base)}: {skipped.reason}")
    lines += [f"note: {n}" for n in scan.notes]
    rate = scan.files_scanned / scan.seconds if scan.seconds > 0 else float(scan.files_scanned)
    occurrences = scan.occurrences
    ready = sum(o.ready for o in occurrences)
    lines.append(
        f"Scanned {scan.files_scanned} file(s), {scan.bytes_scanned / 1e6:.1f} MB in {scan.seconds:.2f} s "
        f"({rate:,.0f} files/s; .gitignore applied in {scan.git_trees} git work tree(s)); "
        f"{scan.binary} binary file(s) skipped; {len(scan.unchecked)} not checked."
    )
    if scan.gitignored:
        env = [record.relative_path(p, base) for p in scan.gitignored_env]
        named = f", among them {', '.join(env[:10])}{' …' if len(env) > 10 else ''}" if env else ""
        lines.append(f".gitignore hid {scan.gitignored} file(s) from this read{named}: "
                     "--include-ignored reads them too.")
    lines.append(
        f"Found {len(occurrences)} occurrence(s) of {len({o.old_voice_id for o in occurrences})} old id(s) in "
        f"{len(scan.hits)} file(s): {ready} ready to replace, {len(occurrences) - ready} not ready."
    )
    if run.patch_file is not None:
        lines.append(f"Patch: {run.patch_file} (from this folder: git apply {run.patch_file})")
    if run.written is not None:
        w = run.written
        lines.append(f"Wrote {w.replacements} replacement(s) in {len(w.written)} file(s).")
        lines += [f"  not written: {record.relative_path(p, base)}: {r}" for p, r in w.refused]
        lines.append(f"Rollback file: {w.rollback_file}")
        lines.append(f"  undo with: clone-audit cutover --rollback {w.rollback_file}")
    elif ready and run.patch_file is None:
        lines.append("Nothing was written: --write rewrites the files (keeping a rollback file), "
                     "--patch FILE writes a patch for git apply.")
    if run.remaining:
        lines.append(f"{len(run.remaining)} occurrence(s) left.")
    elif scan.unchecked:
        lines.append(f"No old voice id left in the files read; {len(scan.unchecked)} not checked (above) may still "
                     "hold some.")
    else:
        lines.append("No old voice id left in these paths.")
    return lines


def describe_usage(run: UsageRun) -> list[str]:
    since = run.since.isoformat(timespec="seconds")
    lines: list[str] = []
    if run.rows:
        for r in run.rows:
            last = f", last {r.old.last_seen()}" if r.old.last_call else ""
            new = f"; new {r.new_voice_id}: {r.new.calls} call(s)" if r.new_voice_id and r.new else ""
            state = "" if r.ready else " (not ready)"
            lines.append(f"{r.old_voice_id}{state}  {r.old.calls} call(s), {r.old.characters} characters{last}"
                         f"{new}  ({r.display_name})")
        called = sum(r.old.calls > 0 for r in run.rows)
        lines.append(f"{called} of {len(run.rows)} old id(s) called since {since}.")
    else:
        for u in run.others:
            lines.append(f"{u.voice_id}  {u.calls} call(s), {u.characters} characters")
        lines.append(f"{len(run.others)} voice id(s) called since {since}.")
    lines.append(f"Read {run.logs.pages} page(s) of the TTS analytics log ({len(run.logs.calls)} calls); "
                 f"times: {zone_note(run.logs.calls)}.")
    if run.own is not None and (left_out := run.own.describe()):
        lines.append(left_out)
    counted = {r.old_voice_id: r.old for r in run.rows} if run.rows else {u.voice_id: u for u in run.others}
    if assumed := doubts(counted):
        lines.append(f"Assumed, to keep on the safe side: {assumed}.")
    if not run.logs.complete:
        why = run.logs.stopped or "--max-pages"
        lines.append(f"The log was not read back to {since} ({why}): an id without calls is not proven quiet.")
    return [_printable(line) for line in lines]


def _printable(text: str) -> str:
    """One line as it may be printed: undecodable bytes (kept as surrogates) as U+FFFD, no
    registered secret, and every control character, newline and bidi override of a server
    string or a mapping's display name as its escape (`\\x1b`), never a byte the terminal acts on."""
    return visible(REGISTRY.redact(_decoded(text)))


def _printable_diff(diff: str) -> str:
    """The diff of the operator's own files: its lines kept (a CRLF file's CR dropped at a line's
    end), every other control character and bidi override escaped, no registered secret."""
    lines = (line.removesuffix("\r") for line in REGISTRY.redact(_decoded(diff)).split("\n"))
    return "\n".join(visible(line, keep_lines=True) for line in lines)


def _decoded(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
