"""Writing patched files, and putting them back exactly.

Owns the rewrite (`write_patched`) and the restore (`restore`), and the rollback file
that links them. A rewrite:
- writes the rollback file first (outside the patched tree), listing for each file its
  sha256 before and after, its encoding, its mode and every replacement, so that a crash
  at any moment leaves a record covering every file that may have changed;
- rewrites each file atomically (a temporary file beside it, fsync, the original's
  permission bits and, where allowed, owner, then rename), only if its bytes are still
  the ones scanned; a file with several hard links is left alone (a rename would split
  it from its other names);
- rewrites the rollback file with only the files that were written.
A restore puts each file back only when its sha256 is the recorded "after" (anything
else means someone changed it since: refused, named), undoes the recorded replacements,
checks the result against the recorded "before", and writes it atomically. A file
already back to "before" counts as restored, so a restore can be run again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.core.errors import UsageError
from audit.core.runfolder import write_text
from audit.cutover.patch import Replacement
from audit.cutover.textfile import Encoding, decode, encode

FORMAT = "clone-audit-cutover-rollback/1"


@dataclass(frozen=True)
class PlannedWrite:
    path: Path
    encoding: Encoding
    mode: int
    before: bytes
    after: bytes
    replacements: tuple[Replacement, ...]

    def record(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "encoding": self.encoding.value,
            "mode": oct(self.mode & 0o7777),
            "sha256_before": _sha(self.before),
            "sha256_after": _sha(self.after),
            "replacements": [r.to_json() for r in self.replacements],
        }


@dataclass
class WriteOutcome:
    rollback_file: Path
    written: list[PlannedWrite] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def replacements(self) -> int:
        return sum(len(w.replacements) for w in self.written)


@dataclass
class RestoreOutcome:
    rollback_file: Path
    mapping: Path | None = None  # the mapping the cutover used, as the rollback file records it
    restored: list[Path] = field(default_factory=list)
    already: list[Path] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)


def write_patched(plans: Sequence[PlannedWrite], rollback_file: Path, meta: dict[str, Any]) -> WriteOutcome:
    rollback_file.parent.mkdir(parents=True, exist_ok=True)
    _write_record(rollback_file, meta, plans)
    outcome = WriteOutcome(rollback_file)
    for plan in plans:
        problem = _replace_if_unchanged(plan.path, plan.before, plan.after)
        if problem:
            outcome.refused.append((plan.path, problem))
        else:
            outcome.written.append(plan)
    _write_record(rollback_file, meta, outcome.written)
    return outcome


def restore(rollback_file: Path) -> RestoreOutcome:
    document = read_rollback(rollback_file)
    mapping = document.get("mapping")
    outcome = RestoreOutcome(rollback_file, Path(mapping) if isinstance(mapping, str) else None)
    for entry in document["files"]:
        path = Path(entry["path"])
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            outcome.refused.append((path, "no longer exists"))
            continue
        except OSError as exc:
            outcome.refused.append((path, f"cannot read: {exc.strerror}"))
            continue
        digest = _sha(current)
        if digest == entry["sha256_before"]:
            outcome.already.append(path)
            continue
        if digest != entry["sha256_after"]:
            outcome.refused.append((path, "changed since the cutover wrote it (sha256 differs): restore it by hand"))
            continue
        try:
            original = _undo(current, Encoding(entry["encoding"]), entry["replacements"])
        except (ValueError, KeyError, TypeError) as exc:
            outcome.refused.append((path, f"cannot undo the recorded replacements: {exc}"))
            continue
        if _sha(original) != entry["sha256_before"]:
            outcome.refused.append((path, "undoing the replacements does not give the original bytes"))
            continue
        problem = _replace_if_unchanged(path, current, original)
        if problem:
            outcome.refused.append((path, problem))
        else:
            outcome.restored.append(path)
    return outcome


def read_rollback(path: Path) -> dict[str, Any]:
    hint = "Pass the rollback file `clone-audit cutover --write` printed."
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"rollback file {path} does not exist.", hint=hint) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"rollback file {path} cannot be read: {exc}", hint=hint) from None
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(files, list):
        raise UsageError(f"{path} is not a clone-audit rollback file ({FORMAT}).", hint=hint)
    needed = ("path", "encoding", "sha256_before", "sha256_after", "replacements")
    for number, entry in enumerate(files, start=1):
        if not isinstance(entry, dict) or any(k not in entry for k in needed):
            raise UsageError(f"rollback file {path} is damaged: file entry {number} is incomplete.", hint=hint)
    return document


def _undo(current: bytes, encoding: Encoding, replacements: list[dict[str, Any]]) -> bytes:
    text = decode(current, encoding)
    for item in sorted(replacements, key=lambda r: int(r["offset"]), reverse=True):
        start, new, old = int(item["offset"]), str(item["new"]), str(item["old"])
        if text[start:start + len(new)] != new:
            raise ValueError(f"{new} is not at line {item.get('line')}, column {item.get('column')}")
        text = text[:start] + old + text[start + len(new):]
    return encode(text, encoding)


def _replace_if_unchanged(path: Path, expected: bytes, data: bytes) -> str | None:
    """Atomically put `data` at `path` if it still holds `expected`; what stopped it, else."""
    try:
        info = os.stat(path)
        if path.read_bytes() != expected:
            return "changed since it was scanned: not written"
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    if info.st_nlink > 1:
        return f"has {info.st_nlink} hard links: not written (change it by hand)"
    tmp = path.with_name(f".{path.name}.clone-audit-{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), info.st_mode & 0o7777)
            if hasattr(os, "fchown") and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
                with contextlib.suppress(PermissionError):  # not ours to give away: content and mode still kept
                    os.fchown(handle.fileno(), info.st_uid, info.st_gid)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        return f"cannot write: {exc.strerror}"
    _fsync_folder(path.parent)
    return None


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _write_record(path: Path, meta: dict[str, Any], plans: Sequence[PlannedWrite]) -> None:
    document = {
        "format": FORMAT,
        **meta,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": [p.record() for p in plans],
    }
    write_text(path, json.dumps(document, indent=2) + "\n")  # ASCII: odd file names survive


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
