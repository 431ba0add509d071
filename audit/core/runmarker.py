"""The marker that makes a folder one of clone-audit's own run folders.

Owns `RUN_MARKER` (`.clone-audit-run`), `mark`, `marker_of` and `is_run_folder`.
`audit.core.runfolder` writes the marker into every folder it creates (a staged scan, plan,
apply, review, retire or cutover run, and `RunFolder.create`) before any other file, so a
cutover can tell the tool's own records (which hold old voice ids on purpose) from the
user's files. A file name proves nothing: a folder holding a `ledger.sqlite` or a
`run.json` of its own is the user's like any other.

Only the tool can write a marker that counts: it names the run id and carries an
HMAC-SHA256 of it keyed with this user's plan-sealing key (`audit.core.userstate`, with a
domain of its own). `marker_of` says OURS for a marker whose seal this user's key makes and
whose run id is the folder's name (or its staging name); FOREIGN for any other marker (a
hand-written or copied one, another user's run folder): a cutover neither reads nor
rewrites such a folder but reports it as not checked, so a planted marker can never make it
say "no old id left". A folder with no marker whose name is a run id and whose run.json is a
regular file saying `"tool": "clone-audit"` and naming that run id is LEGACY: a run from
before the marker existed, or one planted to hide files (anyone can write that run.json), so
a cutover treats it like a FOREIGN one: not rewritten, and reported as not checked, never
skipped as clean. Anything else is scanned.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import hmac
import json
import os
import re
import stat
from pathlib import Path

from audit.core.errors import UsageError
from audit.core.userstate import seal_key

RUN_MARKER = ".clone-audit-run"
FIRST_LINE = "clone-audit run folder v1"
LEGACY_RUN_JSON = "run.json"
_MARKER_MAX_BYTES = 4096
_RUN_JSON_MAX_BYTES = 1 << 20
_DOMAIN = b"clone-audit run folder marker v1\x00"
_RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{4}")


class Marker(enum.Enum):
    OURS = "ours"  # sealed by this user's key, for this folder
    FOREIGN = "foreign"  # a marker this user's key did not seal for this folder
    LEGACY = "legacy"  # no marker, only an unsealed run.json naming the folder's run id


def mark(folder: Path, run_id: str) -> None:
    """Write the marker into `folder` (left as it is when one is there already)."""
    try:
        key = seal_key(create=True)
    except UsageError:
        key = None  # no usable key: the marker is written unsealed (a cutover reports the folder unchecked)
    seal = f"seal {_mac(key, run_id)}\n" if key else ""
    text = (f"{FIRST_LINE}\nrun_id {run_id}\n{seal}"
            "This folder was written by clone-audit: `clone-audit cutover` never reads nor rewrites it.\n")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(folder / RUN_MARKER, flags, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(text.encode("ascii", "backslashreplace"))
        handle.flush()
        with contextlib.suppress(OSError):
            os.fsync(handle.fileno())


def is_run_folder(folder: Path) -> bool:
    """Whether `folder` carries a run-folder marker of any kind (see `marker_of`)."""
    return marker_of(folder) is not None


def marker_of(folder: Path) -> Marker | None:
    """Whose run folder `folder` is, by its marker (see the module docstring); None: no marker."""
    head = _small_regular_file(folder / RUN_MARKER, _MARKER_MAX_BYTES)
    if head is not None:
        lines = head.decode("ascii", "replace").splitlines()
        if not lines or lines[0] != FIRST_LINE:
            return None  # not a marker at all: a file of the user's like any other
        fields = dict(line.split(" ", 1) for line in lines[1:3] if " " in line)
        run_id, seal = fields.get("run_id", ""), fields.get("seal", "")
        try:
            key = seal_key(create=False)
        except UsageError:
            key = None
        ours = (key is not None and folder.name in (run_id, f".{run_id}.partial")
                and hmac.compare_digest(seal, _mac(key, run_id)))
        return Marker.OURS if ours else Marker.FOREIGN
    if not _RUN_ID.fullmatch(folder.name):
        return None
    body = _small_regular_file(folder / LEGACY_RUN_JSON, _RUN_JSON_MAX_BYTES)
    if body is None:
        return None
    try:
        meta = json.loads(body)
    except ValueError:
        return None
    legacy = isinstance(meta, dict) and meta.get("tool") == "clone-audit" and meta.get("run_id") == folder.name
    return Marker.LEGACY if legacy else None


def _mac(key: bytes, run_id: str) -> str:
    return hmac.new(key, _DOMAIN + run_id.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


def _small_regular_file(path: Path, limit: int) -> bytes | None:
    """The bytes of `path` when it is a regular file (not a symlink) of at most `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return os.read(fd, limit + 1)[:limit]
    except OSError:
        return None
    finally:
        os.close(fd)
