"""Writing patched files, and putting them back exactly.

Owns the rewrite (`write_patched`) and the restore (`restore`), and the rollback file
that links them (sealed and checked by `evidence`). A rewrite:
- writes the rollback file first (outside the patched tree), listing for each file its
  root, its sha256 before and after, its encoding, its mode and every replacement, so
  that a crash at any moment leaves a record covering every file that may have changed;
- rewrites each file through its root without following a symlink (`confined`), only
  if it is still the file scanned (device and inode) with the bytes scanned (sha256) and
  the recorded replacements give exactly the recorded "after"; a file with several hard
  links is left alone (a rename would split it from its other names);
- rewrites the rollback file with only the files that were written.
A restore reads the rollback file only once its seal and shape are checked, then touches
only the files it lists, each through its recorded root: it puts a file back only when
its sha256 is the recorded "after" (anything else means someone changed it since:
refused, named), undoes the recorded replacements, checks the result against the
recorded "before", and writes it atomically. A file already back to "before" counts as
restored, so a restore can be run again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.cutover.changes import Change, changes
from audit.cutover.confined import Identity, Refused, expecting, read_confined, replace_confined
from audit.cutover.evidence import FORMAT, read_sealed, write_sealed
from audit.cutover.patch import Replacement, redo, undo
from audit.cutover.scanner import FileHit
from audit.cutover.textfile import Encoding, decode, encode

__all__ = ["FORMAT", "PlannedWrite", "plan_writes", "RestoreOutcome", "WriteOutcome", "read_rollback", "restore", "write_patched"]


@dataclass(frozen=True)
class PlannedWrite:
    root: Path
    path: Path
    identity: Identity  # the file scanned
    encoding: Encoding
    sha256_before: str
    sha256_after: str
    replacements: tuple[Replacement, ...]

    @classmethod
    def of(cls, change: Change) -> PlannedWrite:
        hit = change.hit
        return cls(hit.entry.root, hit.entry.path, hit.identity, hit.encoding, hit.sha256,
                   _sha(change.after), change.replacements)

    def record(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "path": str(self.path),
            "encoding": self.encoding.value,
            "mode": oct(self.identity.mode & 0o7777),
            "sha256_before": self.sha256_before,
            "sha256_after": self.sha256_after,
            "replacements": [r.to_json() for r in self.replacements],
        }

    def patched(self, current: bytes) -> bytes:
        try:
            after = encode(redo(decode(current, self.encoding), self.replacements), self.encoding)
        except ValueError as exc:
            raise Refused(f"the replacements no longer fit it ({exc}): not written") from None
        if _sha(after) != self.sha256_after:
            raise Refused("the replacements do not give the bytes planned: not written")
        return after


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
    occurrences_restored: int = 0  # old ids put back in the restored files (one per replacement undone)


def plan_writes(hits: Iterable[FileHit]) -> tuple[list[PlannedWrite], list[tuple[Path, str]]]:
    """What a write will do to each file (its bytes dropped as soon as that is known), and
    the files that changed since the scan, with why."""
    plans: list[PlannedWrite] = []
    refused: list[tuple[Path, str]] = []
    for change in changes(hits):
        if isinstance(change, Change):
            plans.append(PlannedWrite.of(change))
        else:
            refused.append((change.path, change.reason))
    return plans, refused


def write_patched(plans: Sequence[PlannedWrite], rollback_file: Path, meta: dict[str, Any],
                  refused: Sequence[tuple[Path, str]] = ()) -> WriteOutcome:
    """Write each planned file (the rollback file first); `refused`: files already known
    not to be written, reported with the others."""
    rollback_file.parent.mkdir(parents=True, exist_ok=True)
    roots = sorted({str(p.root) for p in plans})
    _write_record(rollback_file, meta, roots, plans)
    outcome = WriteOutcome(rollback_file, refused=list(refused))
    for plan in plans:
        try:
            replace_confined(plan.root, plan.path, expecting(plan.sha256_before, plan.patched), identity=plan.identity)
        except Refused as exc:
            outcome.refused.append((plan.path, exc.reason))
        else:
            outcome.written.append(plan)
    _write_record(rollback_file, meta, roots, outcome.written)
    return outcome


def restore(rollback_file: Path) -> RestoreOutcome:
    document = read_rollback(rollback_file)
    mapping = document.get("mapping")
    outcome = RestoreOutcome(rollback_file, Path(mapping) if isinstance(mapping, str) else None)
    for entry in document["files"]:
        root, path = Path(entry["root"]), Path(entry["path"])
        try:
            current, _ = read_confined(root, path)
        except Refused as exc:
            outcome.refused.append((path, exc.reason))
            continue
        digest = _sha(current)
        if digest == entry["sha256_before"]:
            outcome.already.append(path)
            continue
        if digest != entry["sha256_after"]:
            outcome.refused.append((path, "changed since the cutover wrote it (sha256 differs): restore it by hand"))
            continue
        encoding = Encoding(entry["encoding"])
        replacements = [Replacement(r["line"], r["column"], r["offset"], r["old"], r["new"])
                        for r in entry["replacements"]]
        try:
            original = encode(undo(decode(current, encoding), replacements), encoding)
        except ValueError as exc:
            outcome.refused.append((path, f"cannot undo the recorded replacements: {exc}"))
            continue
        if _sha(original) != entry["sha256_before"]:
            outcome.refused.append((path, "undoing the replacements does not give the original bytes"))
            continue
        try:
            replace_confined(root, path, expecting(entry["sha256_after"], _constant(original)))
        except Refused as exc:
            outcome.refused.append((path, exc.reason))
        else:
            outcome.restored.append(path)
            outcome.occurrences_restored += len(replacements)
    return outcome


def read_rollback(path: Path) -> dict[str, Any]:
    """The rollback file's content, once its seal and shape are checked (UsageError else)."""
    return read_sealed(path)


def _write_record(path: Path, meta: dict[str, Any], roots: list[str], plans: Sequence[PlannedWrite]) -> None:
    write_sealed(path, {
        "format": FORMAT,
        **meta,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "roots": roots,
        "files": [p.record() for p in plans],
    })


def _constant(data: bytes) -> Callable[[bytes], bytes]:
    return lambda _current: data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
