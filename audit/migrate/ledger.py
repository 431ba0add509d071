"""The migration ledger: durable old → new state in SQLite, one transaction per step.

Owns the file `ledger.sqlite` beside a plan: one row per migrated voice (its state,
the new voice id, verification, the fidelity verdict and similarity, a person's review) and an
append-only event log. A ledger written before a column existed gains it when opened
(ALTER TABLE … ADD COLUMN; its rows read it as empty). Every transition is
committed before the next API call, with WAL and synchronous=FULL, so a crash at any
moment leaves either the state before a step or the state after it. A voice whose row
says `creating` may or may not exist on the account: apply looks it up by its marker
tag before creating it again. Each write seals its row: an HMAC-SHA256 of the old id, the
new id, the state and the review, keyed with this user's plan-sealing key
(`audit.core.userstate`, with a domain of its own); `vouches(row)` says whether a row is
still as this user's clone-audit left it, so an edited row (a state made `verified`, a new
id swapped) never makes retire delete a voice. Every text value is scrubbed of registered
secrets and URL query strings on its way in, by the connection itself
(`secrets.ScrubbedConnection`): an API error may echo the key. Voice ids are acted on later
(retire deletes what the ledger names), so an id that scrubbing would change is refused
(`SecretInId`), never stored masked: such an id holds the key, and its masked form could
name another voice.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.core.errors import UsageError
from audit.core.locks import exclusive_lock
from audit.core.secrets import ScrubbedConnection, holds_secret
from audit.core.userstate import seal_key
from audit.migrate.state import Migration, Review, State

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
    updated_at    TEXT NOT NULL,
    similarity    REAL,
    fidelity      TEXT,
    review        TEXT,
    reviewed_by   TEXT,
    reviewed_at   TEXT,
    seal          TEXT
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


_COLUMNS = tuple(f.name for f in fields(Migration))
#: Columns added since the first ledgers: an older ledger gains them when opened.
_ADDED_COLUMNS = {"similarity": "REAL", "fidelity": "TEXT", "review": "TEXT", "reviewed_by": "TEXT",
                  "reviewed_at": "TEXT", "seal": "TEXT"}
_SEAL_DOMAIN = b"clone-audit ledger row seal v1\x00"


class SecretInId(ValueError):
    """A voice id holding a secret (or a URL query) was to be recorded: it is refused."""


class Ledger:
    """Use as a context manager; every method commits before it returns.

    Opening a ledger takes an exclusive lock on `<ledger>.lock` for as long as it is
    open, so two runs can never work on one plan at once (the OS drops the lock when a
    process dies, even by SIGKILL).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = exclusive_lock(path.with_name(path.name + ".lock"))
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, factory=ScrubbedConnection)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._upgrade()
            self._db.execute("SELECT old_voice_id, state FROM migrations LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            self._lock.close()
            raise UsageError(
                f"ledger {path} is not a usable clone-audit ledger: {exc}",
                hint="Move the file aside and run apply again: it rebuilds the ledger from the "
                "marker tags of the clones already on the account.",
            ) from None

    def _upgrade(self) -> None:
        """Add the columns a ledger written by an older clone-audit lacks (empty for its rows)."""
        present = {row[1] for row in self._db.execute("PRAGMA table_info(migrations)")}
        missing = [(name, kind) for name, kind in _ADDED_COLUMNS.items() if name not in present]
        if not missing:
            return
        with self._transaction():
            for name, kind in missing:
                self._db.execute(f"ALTER TABLE migrations ADD COLUMN {name} {kind}")

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
        for name, value in {"old_voice_id": old_voice_id, "new_voice_id": values.get("new_voice_id")}.items():
            if isinstance(value, str) and holds_secret(value):
                raise SecretInId(f"the {name} of a ledger row holds a secret; clone-audit does not act on it")
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
            self._seal(old_voice_id)

    def record_review(self, old_voice_id: str, review: Review, by: str) -> None:
        """A person's decision on a voice's replacement, with who and when, and its event."""
        now = _now()
        row = self.get(old_voice_id)
        if row is None:
            raise ValueError(f"{old_voice_id} is not in the ledger")
        detail = f"{review.value} by {by}"
        with self._transaction():
            self._db.execute(
                "UPDATE migrations SET review = ?, reviewed_by = ?, reviewed_at = ?, updated_at = ? "
                "WHERE old_voice_id = ?", (review.value, by, now, now, old_voice_id),
            )
            self._db.execute(
                "INSERT INTO events (at, old_voice_id, state, new_voice_id, detail) VALUES (?, ?, ?, ?, ?)",
                (now, old_voice_id, row.state.value, row.new_voice_id, detail),
            )
            self._seal(old_voice_id)

    def vouches(self, row: Migration) -> bool:
        """Whether `row` is as this user's clone-audit wrote it (its seal; see the module docstring)."""
        key = _key(create=False)
        return key is not None and row.seal is not None and hmac.compare_digest(row.seal, _row_mac(key, row))

    def _seal(self, old_voice_id: str) -> None:
        """Seal the row as it now is (inside the caller's transaction); unsealed when no key can be had."""
        row = self.get(old_voice_id)
        key = _key(create=True)
        if row is not None:
            seal = None if key is None else _row_mac(key, row)
            self._db.execute("UPDATE migrations SET seal = ? WHERE old_voice_id = ?", (seal, old_voice_id))

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


def _migration(row: tuple[Any, ...]) -> Migration:
    data = dict(zip(_COLUMNS, row, strict=True))
    data["state"] = State(data["state"])
    return Migration(**data)


def _key(*, create: bool) -> bytes | None:
    try:
        return seal_key(create=create)
    except UsageError:
        return None  # an unusable state folder: rows stay unsealed, and retire deletes none of them


def _row_mac(key: bytes, row: Migration) -> str:
    fields = (row.old_voice_id, row.new_voice_id or "", row.state.value, row.review or "")
    message = _SEAL_DOMAIN + "\x00".join(fields).encode("utf-8", "surrogateescape")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
