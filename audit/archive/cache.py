"""Remembered source checks: a file whose bytes did not change is not decoded and listened to again.

Owns the small SQLite file (in the per-user state folder, `source-checks.sqlite`) that maps
(sha256, size, checker version) to the outcome of a full check: the verdict (usable, TOO_SHORT
or SILENT), its detail, type, duration, speech and fit window. Only checks that decoded the
whole file are kept; refusals decided from a header or the first bytes are cheap and never kept.

The cache is only ever a way to skip the re-check:
- the file is always opened and hashed again, and the entry found by that fresh hash (and its
  size): a changed byte is a miss; the upload's own hash is checked again when it is sent;
- a new `CHECKER_VERSION` (the rules changed) misses every older entry;
- an entry that does not read back as a plausible check (wrong types, unknown problem, a
  window outside the recording) is a miss;
- a file that is not SQLite, is locked too long, or cannot be written is ignored with a
  warning: the plan checks every file as before.
The file is created 0600 (a folder listing says which recordings were checked, never their
audio); at most MAX_ENTRIES rows are kept, the least recently used dropped first.

May import: `audit.core`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from audit.core.models import FitWindow, SourceCheck, SourceProblem

CHECKER_VERSION = "1"  # raise when a rule of audit.archive.checks changes a verdict
FILE_NAME = "source-checks.sqlite"
MAX_ENTRIES = 50_000
KEPT = (None, SourceProblem.TOO_SHORT, SourceProblem.SILENT)  # outcomes of a full check
_KINDS = {"wav", "mp3", "flac", "ogg", "mp4", "webm"}
_SCHEMA = ("CREATE TABLE IF NOT EXISTS checks (sha256 TEXT, size INTEGER, version TEXT, "
           "used REAL, body TEXT, PRIMARY KEY (sha256, size, version))")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Remembered:
    """What a full check found, without where the file is: the caller fills the path in."""

    name: str  # the name the detail was written with
    check: SourceCheck


class CheckCache:
    """The cache file at `path`; every method swallows its own failures (a miss, nothing kept)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(cls, path: Path) -> CheckCache | None:
        """The cache at `path`, created (0600) when absent; None when it cannot be used."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                info = os.fstat(fd)
                if os.name == "posix" and info.st_uid != os.getuid():
                    log.warning("ignoring the source-check cache %s: it belongs to another user", path)
                    return None
                if info.st_mode & 0o077:
                    os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            cache = cls(path)
            with cache._connect() as db:
                db.execute(_SCHEMA)
            return cache
        except sqlite3.DatabaseError as exc:
            log.warning("the source-check cache %s is unreadable (%s); starting a new one", path, exc)
            return cls._fresh(path)
        except OSError as exc:
            log.warning("not using the source-check cache %s: %s", path, exc.strerror)
            return None

    @classmethod
    def _fresh(cls, path: Path) -> CheckCache | None:
        try:
            path.unlink()
            return cls.open(path) if not path.exists() else None
        except (OSError, sqlite3.DatabaseError):
            return None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5.0)

    def recall(self, sha256: str, size: int) -> Remembered | None:
        """The full check of a file with these bytes, when one was kept and reads back sound."""
        try:
            with self._connect() as db:
                row = db.execute("SELECT body FROM checks WHERE sha256 = ? AND size = ? AND version = ?",
                                 (sha256, size, CHECKER_VERSION)).fetchone()
        except sqlite3.Error:
            return None
        return _decode(row[0], sha256, size) if row else None

    def keep(self, entries: list[tuple[str, SourceCheck]]) -> None:
        """Remember full checks (name shown in the detail, check); others are left out."""
        now = time.time()
        rows = [(c.sha256, c.n_bytes, CHECKER_VERSION, now, _encode(name, c))
                for name, c in entries if c.problem in KEPT and c.sha256 and c.n_bytes is not None]
        if not rows:
            return
        try:
            with self._connect() as db:
                db.executemany("INSERT OR REPLACE INTO checks VALUES (?, ?, ?, ?, ?)", rows)
                db.execute("DELETE FROM checks WHERE rowid IN (SELECT rowid FROM checks ORDER BY used DESC "
                           "LIMIT -1 OFFSET ?)", (MAX_ENTRIES,))
        except sqlite3.Error as exc:
            log.warning("could not update the source-check cache %s (%s); the next plan checks again", self.path, exc)


def _encode(name: str, check: SourceCheck) -> str:
    fit = [check.fit.start_s, check.fit.end_s, check.fit.reason] if check.fit else None
    return json.dumps({"name": name, "problem": check.problem, "detail": check.detail, "kind": check.kind,
                       "mime": check.mime, "duration_s": check.duration_s, "speech_s": check.speech_s, "fit": fit})


def _decode(body: object, sha256: str, size: int) -> Remembered | None:
    """The entry as a check, or None when anything in it is not what `_encode` writes."""
    try:
        data = json.loads(body) if isinstance(body, str) else None
        if not isinstance(data, dict):
            return None
        name, detail, kind, mime = data["name"], data["detail"], data["kind"], data["mime"]
        duration, speech, fit = data["duration_s"], data["speech_s"], data["fit"]
        problem = None if data["problem"] is None else SourceProblem(data["problem"])
        if problem not in KEPT or not all(isinstance(v, str) for v in (name, detail, kind)):
            return None
        if kind not in _KINDS or not (mime is None or isinstance(mime, str)):
            return None
        if not all(_number(v) and v >= 0 for v in (duration, speech)) or speech > duration:
            return None
        window = None
        if fit is not None:
            start, end, reason = fit
            if not (_number(start) and _number(end) and isinstance(reason, str) and 0 <= start < end <= duration):
                return None
            window = FitWindow(float(start), float(end), reason)
        if problem is None and (window is None) == (mime is None):  # usable: uploaded as it is, or fitted
            return None
    except (ValueError, KeyError, TypeError):
        return None
    check = SourceCheck(problem, detail, sha256=sha256, kind=kind, mime=mime, n_bytes=size,
                        duration_s=float(duration), speech_s=float(speech), fit=window)
    return Remembered(name, check)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
