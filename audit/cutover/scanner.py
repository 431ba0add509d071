"""One pass over the listed files: every occurrence of an old voice id, and what was skipped.

Owns `scan_files(listing, mapping)`: each file is read once, judged binary or text
(`textfile`), given a fast first look on its raw bytes, and only when that finds a
candidate decoded and searched for whole-token ids (`matcher`). An occurrence of a ready
id carries its new id; one of any other id is reported as not ready, with why. Files
that hold ids keep their bytes and text, so a patch or a write needs no second read.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from audit.cutover.mapping import VoiceMapping
from audit.cutover.matcher import IdMatcher, LineIndex
from audit.cutover.textfile import Encoding, decode, sniff
from audit.cutover.walk import FileEntry, FileListing, Skipped


@dataclass(frozen=True, slots=True)
class Occurrence:
    path: Path
    line: int
    column: int
    offset: int  # character offset in the decoded text
    old_voice_id: str
    new_voice_id: str | None  # set only when the row is ready
    display_name: str
    why_not: str  # empty when ready
    line_text: str

    @property
    def ready(self) -> bool:
        return self.new_voice_id is not None


@dataclass(frozen=True)
class FileHit:
    entry: FileEntry
    encoding: Encoding
    data: bytes
    text: str
    occurrences: tuple[Occurrence, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class ScanResult:
    files_scanned: int = 0
    bytes_scanned: int = 0
    hits: list[FileHit] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    binary: int = 0
    notes: list[str] = field(default_factory=list)
    git_trees: int = 0
    seconds: float = 0.0

    @property
    def occurrences(self) -> list[Occurrence]:
        return [o for hit in self.hits for o in hit.occurrences]

    @property
    def unchecked(self) -> list[Skipped]:
        return [s for s in self.skipped if s.unchecked]


def scan_files(
    listing: FileListing, mapping: VoiceMapping, *, advance: Callable[[], None] | None = None
) -> ScanResult:
    started = time.perf_counter()
    rows = mapping.by_old
    ready = mapping.ready
    matcher = IdMatcher(rows)
    result = ScanResult(skipped=list(listing.skipped), notes=list(listing.notes), git_trees=listing.git_trees)
    for entry in listing.files:
        if advance is not None:
            advance()
        try:
            with open(entry.path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            result.skipped.append(Skipped(entry.path, f"cannot read: {exc.strerror}", unchecked=True))
            continue
        result.files_scanned += 1
        result.bytes_scanned += len(data)
        encoding = sniff(data)
        if encoding is None:
            result.binary += 1
            continue
        if not encoding.is_utf16 and not matcher.might_contain(data):
            continue
        try:
            text = decode(data, encoding)
        except ValueError:
            result.skipped.append(Skipped(entry.path, f"{encoding.value} that does not decode exactly", unchecked=True))
            continue
        spans = matcher.find(text)
        if not spans:
            continue
        lines = LineIndex(text)
        occurrences = []
        for span in spans:
            line, column = lines.line_col(span.start)
            row = rows[span.voice_id]
            occurrences.append(Occurrence(
                entry.path, line, column, span.start, span.voice_id, ready.get(span.voice_id),
                row.display_name, row.why_not, lines.line_text(line),
            ))
        result.hits.append(FileHit(entry, encoding, data, text, tuple(occurrences)))
    result.seconds = time.perf_counter() - started
    return result
