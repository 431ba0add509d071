"""The marker that makes a folder one of clone-audit's own run folders.

Owns `RUN_MARKER` (`.clone-audit-run`), `mark` and `is_run_folder`. `audit.core.runfolder`
writes the marker into every folder it creates (a staged scan, plan, apply, review, retire
or cutover run, and `RunFolder.create`) before any other file, so a cutover can tell the
tool's own records (which hold old voice ids on purpose) from the user's files. A file
name proves nothing: a folder holding a `ledger.sqlite` or a `run.json` of its own is the
user's like any other. A folder written before the marker existed counts only when its
run.json is a regular file saying `"tool": "clone-audit"` and naming the folder itself as
its `run_id`; anything else is scanned.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

RUN_MARKER = ".clone-audit-run"
FIRST_LINE = "clone-audit run folder v1"
LEGACY_RUN_JSON = "run.json"
_MARKER_MAX_BYTES = 4096
_RUN_JSON_MAX_BYTES = 1 << 20


def mark(folder: Path, run_id: str) -> None:
    """Write the marker into `folder` (left as it is when one is there already)."""
    text = (f"{FIRST_LINE}\nrun_id {run_id}\n"
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
    """Whether `folder` is one of clone-audit's own run folders (see the module docstring)."""
    head = _small_regular_file(folder / RUN_MARKER, _MARKER_MAX_BYTES)
    if head is not None:
        return head.split(b"\n", 1)[0].rstrip(b"\r") == FIRST_LINE.encode()
    body = _small_regular_file(folder / LEGACY_RUN_JSON, _RUN_JSON_MAX_BYTES)
    if body is None:
        return False
    try:
        meta = json.loads(body)
    except ValueError:
        return False
    return isinstance(meta, dict) and meta.get("tool") == "clone-audit" and meta.get("run_id") == folder.name


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
