"""The migration ledger: durable old → new state in SQLite, one transaction per step.

Owns the file `ledger.sqlite` beside a plan: one row per migrated voice (its state,
the new voice id, verification) and an append-only event log. Every transition is
committed before the next API call, with WAL and synchronous=FULL, so a crash at any
moment leaves either the state before a step or the state after it. A voice whose row
says `creating` may or may not exist on the account: apply looks it up by its marker
tag before creating it again.
"""

from __future__ import annotations

import enum
import fcntl
import hashlib
import sqlite3
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from audit.core.errors import UsageError


class State(enum.StrEnum):
    QUEUED = "queued"  # nothing sent yet (a run stopped before this voice's create)
    CREATING = "creating"  # a create was sent; its outcome is not recorded yet
    CREATED = "created"  # the new clone exists (pending or processing)
    COMPLETED = "completed"  # the new clone is completed, not yet verified
    VERIFIED = "verified"  # the new clone speaks on v3.1: ready
    UNVERIFIED = "unverified"  # completed, but the probe did not hear speech (--retry-failed re-checks)
    FAILED = "failed"  # creation or completion failed; the detail says why


_SCHEMA = """
CREATE TABLE IF NOT EXISTS migrations (
    old_voice_id  TEXT PRIMARY KEY,
    plan_id       TEXT NOT NULL,
    state         TEXT NOT NULL,
    new_voice_id  TEXT,
    display_name  TEXT,
    language      TEXT,
    source_sha256 TEXT,
    probe_verdict TEXT,
    verified_at   TEXT,
    retired_at    TEXT,
    detail        TEXT NOT NULL DEFAULT '',
    creates       INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    old_voice_id TEXT NOT NULL,
    state        TEXT NOT NULL,
    new_voice_id TEXT,
    detail       TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True, slots=True)
class Migration:
    old_voice_id: str
    plan_id: str
    state: State
    new_voice_id: str | None
    display_name: str | None
    language: str | None
    source_sha256: str | None
    probe_verdict: str | None
    verified_at: str | None
    retired_at: str | None
    detail: str
    creates: int
    updated_at: str


_COLUMNS = tuple(f.name for f in fields(Migration))


class Ledger:
    """Use as a context manager; every method commits before it returns.

    Opening a ledger takes an exclusive lock on `<ledger>.lock` for as long as it is
    open, so two runs can never work on one plan at once (the OS drops the lock when a
    process dies, even by SIGKILL).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = _exclusive_lock(path.with_name(path.name + ".lock"))
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute("SELECT old_voice_id, state FROM migrations LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            self._lock.close()
            raise UsageError(
                f"ledger {path} is not a usable clone-audit ledger: {exc}",
                hint="Move the file aside and run apply again: it rebuilds the ledger from the "
                "marker tags of the clones already on the account.",
            ) from None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._lock.close()

    def get(self, old_voice_id: str) -> Migration | None:
        row = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM migrations WHERE old_voice_id = ?", (old_voice_id,)
        ).fetchone()
        return _migration(row) if row else None

    def all(self) -> list[Migration]:
        rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM migrations ORDER BY old_voice_id")
        return [_migration(r) for r in rows]

    def events(self, old_voice_id: str) -> list[tuple[str, str | None]]:
        rows = self._db.execute(
            "SELECT state, new_voice_id FROM events WHERE old_voice_id = ? ORDER BY id", (old_voice_id,)
        )
        return list(rows)

    def record(self, old_voice_id: str, state: State, *, plan_id: str, detail: str = "", **values: Any) -> None:
        """Move a voice to `state`, setting `values`, in one transaction with its event."""
        unknown = set(values) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown ledger columns: {sorted(unknown)}")
        now = _now()
        columns = {"state": state.value, "detail": detail, "updated_at": now, "plan_id": plan_id, **values}
        if state is State.CREATING:
            columns["creates"] = self._creates(old_voice_id) + 1
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        updates = ", ".join(f"{k} = excluded.{k}" for k in columns)
        with self._transaction():
            self._db.execute(
                f"INSERT INTO migrations (old_voice_id, {names}) VALUES (?, {marks}) "
                f"ON CONFLICT(old_voice_id) DO UPDATE SET {updates}",
                (old_voice_id, *columns.values()),
            )
            self._db.execute(
                "INSERT INTO events (at, old_voice_id, state, new_voice_id, detail) VALUES (?, ?, ?, ?, ?)",
                (now, old_voice_id, state.value, values.get("new_voice_id"), detail),
            )

    def mark_retired(self, old_voice_id: str) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE migrations SET retired_at = ? WHERE old_voice_id = ?", (_now(), old_voice_id)
            )

    def _creates(self, old_voice_id: str) -> int:
        row = self._db.execute(
            "SELECT creates FROM migrations WHERE old_voice_id = ?", (old_voice_id,)
        ).fetchone()
        return int(row[0]) if row else 0

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def account_lock(folder: Path, base_url: str) -> IO[bytes]:
    """An exclusive lock for one account in an output folder: two applies of two plans of
    the same account (say, a re-plan while the first still runs) cannot overlap."""
    name = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:16]
    return _exclusive_lock(folder / f".apply-{name}.lock")


def _exclusive_lock(path: Path) -> IO[bytes]:
    handle = open(path, "ab")  # noqa: SIM115 - held open for the ledger's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UsageError(
            f"another clone-audit apply is working on {path.parent} (or on this account) right now.",
            hint="Wait for it to finish; two runs on one plan could create a clone twice.",
        ) from None
    return handle


def _migration(row: tuple[Any, ...]) -> Migration:
    data = dict(zip(_COLUMNS, row, strict=True))
    data["state"] = State(data["state"])
    return Migration(**data)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
