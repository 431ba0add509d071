"""The runs of an output folder: `<out>/history.sqlite`, and finding a run's folder.

Every run (scan, plan, apply, review, retire, cutover, usage) is recorded once it has
finished, a failed one too (with its `error`): its id, kind,
account fingerprint (a hash of the key, never the key), base URL, times, parameters,
exit code, counts and folder, and one row per voice with its verdict (for apply and
retire: the migration state), cause and name. Scans of the same account are what
`compare`, `trend` and `first_seen` read. Text is scrubbed of secrets before it is stored.

A write is one `BEGIN IMMEDIATE … COMMIT` with a busy timeout, so concurrent runs in the
same output folder queue instead of failing; recording a run again replaces it.

`record` files a `HistoryRow` (its marks and counts derived from the record itself);
`find` resolves what a user names (an id, a folder, a run.json, `latest`); `latest_scan`
finds the newest recent scan folder of an account for plan and `--reuse-probes`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from audit.compliance.changes import Mark, TrendPoint
from audit.core.errors import UsageError
from audit.core.secrets import ScrubbedConnection
from audit.runs import document
from audit.runs.kind import RunKind
from audit.runs.record import RUN_JSON, RunRecord

HISTORY = "history.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, account TEXT NOT NULL, base_url TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, parameters TEXT NOT NULL,
    exit_code INTEGER NOT NULL, counts TEXT NOT NULL, total INTEGER NOT NULL, folder TEXT NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS verdicts (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, voice_id TEXT NOT NULL,
    verdict TEXT NOT NULL, cause TEXT NOT NULL, display_name TEXT NOT NULL, replaces TEXT,
    PRIMARY KEY (run_id, voice_id)
);
CREATE INDEX IF NOT EXISTS runs_by_account ON runs (account, base_url, kind, finished_at);
"""
_TABLES = {
    "runs": ("run_id", "kind", "account", "base_url", "started_at", "finished_at", "parameters", "exit_code",
             "counts", "total", "folder", "error"),
    "verdicts": ("run_id", "voice_id", "verdict", "cause", "display_name", "replaces"),
}
_COLUMNS = ", ".join(_TABLES["runs"])
_R_COLUMNS = ", ".join(f"r.{c}" for c in _TABLES["runs"])
_DAMAGED = ("Move the damaged file aside; the next run starts a new history "
            "(each run's own folder keeps its run.json).")


@dataclass(frozen=True)
class HistoryRow:
    """One run as history.sqlite lists it (the index of a run; its folder holds the whole record)."""

    run_id: str
    kind: str  # a RunKind value
    account: str
    base_url: str
    started_at: str
    finished_at: str
    exit_code: int
    folder: str  # "" for a run that failed before it wrote a folder
    counts: Mapping[str, int] = field(default_factory=dict)
    total: int = 0
    parameters: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None  # what stopped a failed run

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "kind": self.kind, "account": self.account, "base_url": self.base_url,
                "started_at": self.started_at, "finished_at": self.finished_at, "exit_code": self.exit_code,
                "failed": self.error is not None, "error": self.error,
                "folder": self.folder, "total": self.total, "counts": dict(self.counts),
                "parameters": dict(self.parameters)}


def history_path(out_root: Path) -> Path:
    return out_root / HISTORY


def check_history(out_root: Path) -> None:
    """Open and read the history of `out_root`, if it has one: a damaged file is a UsageError
    (exit 2) naming it. A command that pays for work (probes, creates) calls this before
    the first call, so damage is never found only once the work is done."""
    path = history_path(out_root)
    if path.exists() or path.is_symlink():
        with History(path) as store:
            store.check()


class History:
    """The history store of one output folder. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> History:
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, factory=ScrubbedConnection)
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
            if "error" not in columns:  # a history written before failed runs were recorded
                self._db.execute("ALTER TABLE runs ADD COLUMN error TEXT")
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"the run history {self.path} cannot be opened: {exc}",
                             hint="Move the damaged file aside; the next run starts a new history.") from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None, "History used outside its with-block"
        return self._db

    def check(self) -> None:
        """Raise UsageError naming the file unless SQLite finds it sound, its tables have the
        columns this version reads, and every recorded run can be read."""
        try:
            verdict = self.db.execute("PRAGMA quick_check").fetchone()
            for table, names in _TABLES.items():
                found = tuple(row[1] for row in self.db.execute(f"PRAGMA table_info({table})"))
                if found != names:
                    raise ValueError(f"its {table} table has the columns {', '.join(found)}")
            if verdict is None or verdict[0] != "ok":
                raise ValueError(str(verdict[0] if verdict else "no answer to an integrity check")[:200])
            self.runs()
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            raise UsageError(f"the run history {self.path} is damaged: {exc}", hint=_DAMAGED) from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def record(self, run: HistoryRow, marks: Iterable[Mark]) -> None:
        params = json.dumps(run.parameters, sort_keys=True, default=str)  # every text is scrubbed on its way in
        with self._transaction() as db:
            db.execute("DELETE FROM verdicts WHERE run_id = ?", (run.run_id,))
            db.execute(
                f"INSERT OR REPLACE INTO runs ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (run.run_id, run.kind, run.account, run.base_url.rstrip("/"), run.started_at, run.finished_at, params,
                 run.exit_code, json.dumps(dict(run.counts), sort_keys=True), run.total, run.folder, run.error),
            )
            db.executemany(
                "INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?)",
                ((run.run_id, m.voice_id, m.verdict, m.cause, m.display_name, m.replaces) for m in marks),  # one at a time
            )

    def runs(self, *, kind: str | None = None) -> list[HistoryRow]:
        """Every recorded run, oldest first."""
        where, args = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM runs {where} ORDER BY finished_at, rowid", args).fetchall()  # rowid: the order they were recorded in
        return [_record(row, self.path) for row in rows]

    def get(self, run_id: str) -> HistoryRow | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _record(row, self.path)

    def marks(self, run_id: str) -> dict[str, Mark]:
        rows = self.db.execute(
            "SELECT voice_id, verdict, cause, display_name, replaces FROM verdicts WHERE run_id = ?", (run_id,)
        ).fetchall()
        return {r[0]: Mark(*r) for r in rows}

    def _earlier(self, run_id: str) -> tuple[str, tuple[Any, ...]]:
        """SQL and arguments selecting runs recorded before `run_id` (all, if it is not recorded)."""
        row = self.db.execute("SELECT rowid FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return ("r.rowid < ?", (row[0],)) if row else ("1", ())

    def scans_before(self, account: str, base_url: str, run_id: str) -> list[HistoryRow]:
        """Scans of this account recorded before `run_id` (every one if it is not recorded), oldest first."""
        earlier, args = self._earlier(run_id)
        rows = self.db.execute(
            f"SELECT {_R_COLUMNS} FROM runs r WHERE r.kind = 'scan' AND r.error IS NULL AND r.account = ? AND r.base_url = ? "
            f"AND {earlier} ORDER BY r.rowid", (account, base_url.rstrip("/"), *args),
        ).fetchall()
        return [_record(row, self.path) for row in rows]

    def trend(self, account: str, base_url: str, run_id: str) -> list[TrendPoint]:
        return [TrendPoint(r.run_id, r.finished_at, r.total, r.counts)
                for r in self.scans_before(account, base_url, run_id)]

    def first_noncompliant(self, account: str, base_url: str, run_id: str) -> dict[str, str]:
        """Per voice, when a scan of this account recorded before `run_id` first found it non-compliant."""
        earlier, args = self._earlier(run_id)
        rows = self.db.execute(
            "SELECT v.voice_id, MIN(r.finished_at) FROM verdicts v JOIN runs r USING (run_id) "
            f"WHERE r.kind = 'scan' AND r.error IS NULL AND r.account = ? AND r.base_url = ? AND {earlier} "
            "AND v.verdict = 'non-compliant' GROUP BY v.voice_id", (account, base_url.rstrip("/"), *args),
        ).fetchall()
        return dict(rows)


def _record(row: tuple[Any, ...], path: Path) -> HistoryRow:
    if len(row) != len(_TABLES["runs"]):
        raise UsageError(f"the run history {path} is damaged: its runs table has {len(row)} columns.", hint=_DAMAGED)
    run_id, kind, account, base_url, started, finished, params, exit_code, counts, total, folder, error = row
    try:
        counts, params = json.loads(counts), json.loads(params)
    except (TypeError, ValueError, RecursionError):
        counts = params = None
    valid = (isinstance(counts, dict) and all(isinstance(v, int) for v in counts.values())
             and isinstance(params, dict) and all(isinstance(v, str) for v in (run_id, kind, account, base_url)))
    if not valid:
        raise UsageError(f"the run history {path} is damaged: run {str(run_id)[:40]!r} cannot be read.",
                         hint=_DAMAGED)
    return HistoryRow(run_id, kind, account, base_url, started, finished, exit_code, folder, counts, total, params,
                      error if isinstance(error, str) else None)


def marks_of(record: RunRecord) -> list[Mark]:
    """One mark per voice of the run: a scan's or plan's verdicts, a migration run's mapping states."""
    if record.kind in (RunKind.SCAN, RunKind.PLAN):
        return [Mark(v.voice_id, v.verdict, v.cause or "", v.display_name or "", v.replaces or None)
                for v in record.voices]
    rows = record.changes.get("mapping") or []
    return [Mark(str(r.get("old_voice_id")), str(r.get("status") or ""), "", str(r.get("display_name") or ""))
            for r in rows if isinstance(r, dict) and isinstance(r.get("old_voice_id"), str)]


def tally(run: RunRecord, marks: list[Mark] | None = None) -> tuple[int, dict[str, int]]:
    """The run's voices (a replacement listed beside its original is not one) and how many
    have each verdict (a scan, a plan) or mapping status (a migration run)."""
    marks = marks_of(run) if marks is None else marks
    listed = {m.voice_id for m in marks}
    total, counts = 0, dict[str, int]()  # counted, not listed: a list of the voices' marks would be a second one
    for mark in marks:
        if not (mark.replaces and mark.replaces in listed):
            total += 1
            counts[mark.verdict] = counts.get(mark.verdict, 0) + 1
    return total, counts


def record(out_root: Path, run: RunRecord, counts: Mapping[str, int] | None = None) -> None:
    """File `run` in `<out_root>/history.sqlite`: its index row (exit code, counts by verdict or
    state unless `counts` gives them) and one mark per voice."""
    marks = marks_of(run)
    total, tallied = tally(run, marks)
    parameters = dict(run.parameters)
    if run.plan is not None:
        parameters.setdefault("plan_id", run.plan.plan_id)
    row = HistoryRow(
        run_id=run.run_id, kind=run.kind.value, account=run.account, base_url=run.base_url,
        started_at=run.started_at.isoformat(timespec="seconds"),
        finished_at=run.finished_at.isoformat(timespec="seconds"), exit_code=int(run.exit_code),
        folder="" if run.folder is None else str(run.folder), counts=dict(counts if counts is not None else tallied),
        total=total, parameters=parameters, error=run.error,
    )
    with History(history_path(out_root)) as store:
        store.record(row, marks)


def list_runs(out_root: Path, kind: RunKind | None = None) -> list[HistoryRow]:
    """The runs recorded in `out_root`, oldest first (none when it has no history)."""
    path = history_path(out_root)
    if not path.exists():
        return []
    with History(path) as store:
        return store.runs(kind=None if kind is None else kind.value)


def find(out_root: Path, ref: str) -> Path:
    """The folder of a run named by its folder, its run.json, its id in `out_root`, or `latest`
    (the newest scan)."""
    given = Path(ref)
    if given.name == RUN_JSON and given.is_file():
        return given.parent
    if (given / RUN_JSON).is_file():
        return given
    if ref == "latest":
        scans = [r for r in list_runs(out_root, RunKind.SCAN) if r.folder and r.error is None]
        if scans:
            return Path(scans[-1].folder)
    elif (out_root / ref / RUN_JSON).is_file():
        return out_root / ref
    raise UsageError(f"no run {ref!r} in {out_root}.",
                     hint="Pass a run id that `clone-audit history` lists (with the same --out), or a run folder.")


def latest_scan(out_root: Path, base_url: str, max_age: timedelta) -> Path | None:
    """The newest scan folder under `out_root` for this account, if one is recent enough.
    Plans, migrations and staging folders are never it; an unreadable run.json is skipped."""
    newest: tuple[datetime, Path] | None = None
    for run_json in out_root.glob(f"*/{RUN_JSON}"):
        folder = run_json.parent
        if folder.name.startswith("."):
            continue  # a staging folder: not a finished run
        try:
            run = document.load(folder, voices=False)  # which run it is: its rows are not needed
        except UsageError:
            continue
        if run.kind is not RunKind.SCAN:
            continue
        same = run.base_url.rstrip("/") == base_url.rstrip("/")
        finished = run.finished_at if run.finished_at.tzinfo else run.finished_at.replace(tzinfo=UTC)
        if same and datetime.now(UTC) - finished <= max_age and (newest is None or finished > newest[0]):
            newest = (finished, folder)
    return newest[1] if newest else None
