"""The change a cutover makes to each file, worked out one file at a time.

Owns `Change` and `changes(hits)`: each file that holds a ready id is read again through
its root (`confined`, no symlink followed) and goes on only when it is still the file
scanned (same device and inode) holding the bytes scanned (same sha256); its new text
and bytes are made (`patch.replace_ready`) and handed on, then dropped before the next
file is read, so a diff, a patch or a write holds about one file at a time. A file that
changed since the scan is handed on as refused, with why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from audit.cutover.confined import Refused, read_confined
from audit.cutover.patch import Replacement, replace_ready
from audit.cutover.scanner import FileHit
from audit.cutover.textfile import decode, encode
from audit.cutover.walk import Skipped


@dataclass(frozen=True)
class Change:
    hit: FileHit
    old_text: str
    new_text: str
    before: bytes
    after: bytes
    replacements: tuple[Replacement, ...]

    @property
    def path(self) -> Path:
        return self.hit.entry.path


@dataclass(frozen=True, slots=True)
class NotChanged:
    path: Path
    reason: str


def changes(hits: Iterable[FileHit]) -> Iterator[Change | NotChanged]:
    """Each scanned file with a ready occurrence: its change, or why it cannot be made."""
    for hit in hits:
        if not any(o.ready for o in hit.occurrences):
            continue
        try:
            yield _change(hit)
        except Refused as exc:
            yield NotChanged(hit.entry.path, exc.reason)


def each_change(hits: Iterable[FileHit], skipped: list[Skipped]) -> Iterator[Change]:
    """`changes`, with each file that changed since the scan added to `skipped` as not
    checked (it is in no diff or patch)."""
    for change in changes(hits):
        if isinstance(change, NotChanged):
            skipped.append(Skipped(change.path, change.reason, unchecked=True))
        else:
            yield change


def _change(hit: FileHit) -> Change:
    data, identity = read_confined(hit.entry.root, hit.entry.path)
    if not identity.same_file(hit.identity):
        raise Refused("replaced by another file since it was scanned: not changed")
    if hashlib.sha256(data).hexdigest() != hit.sha256:
        raise Refused("changed since it was scanned: not changed")
    text = decode(data, hit.encoding)
    new_text, replacements = replace_ready(text, hit.occurrences)
    return Change(hit, text, new_text, data, encode(new_text, hit.encoding), tuple(replacements))
