"""One pass over the listed files: every occurrence of an old voice id, and what was skipped.

Owns `scan_files(listing, mapping)`: each file is read once, through its root without
following a symlink (`confined.ConfinedReader`: the folders consecutive files share are
opened once), judged binary or text (`textfile`), given a fast first
look on its raw bytes, and only when that finds a candidate decoded and searched for
whole-token ids (`matcher`). An occurrence of a ready id carries its new id; one of any
other id is reported as not ready, with why. What is kept of a file that holds ids is
bounded by its occurrences, never by its size: which file it was (device and inode),
the sha256 of the bytes scanned, and per occurrence its place and an excerpt of at most
CONTEXT_CHARS characters either side of the id. A patch or a write reads the file again
and goes on only when it is still that file with those bytes (`changes`), so memory
stays about the size of the largest file, whatever the number of files or occurrences.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from audit.cutover.confined import ConfinedReader, Identity, Refused, ThroughSymlink
from audit.cutover.mapping import VoiceMapping
from audit.cutover.matcher import IdMatcher, Span
from audit.cutover.textfile import Encoding, decode, sniff
from audit.cutover.walk import FileEntry, FileListing, Skipped

CONTEXT_CHARS = 60  # kept on each side of an occurrence, within its line


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
    context: str  # the id with at most CONTEXT_CHARS characters of its line on each side

    @property
    def ready(self) -> bool:
        return self.new_voice_id is not None


@dataclass(frozen=True)
class FileHit:
    entry: FileEntry
    encoding: Encoding
    sha256: str  # of the bytes scanned
    identity: Identity  # the file they were read from
    occurrences: tuple[Occurrence, ...]


@dataclass
class ScanResult:
    files_scanned: int = 0
    bytes_scanned: int = 0
    hits: list[FileHit] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    binary: int = 0
    notes: list[str] = field(default_factory=list)
    git_trees: int = 0
    gitignored: int = 0  # untracked files .gitignore hid (not read)
    gitignored_env: list[Path] = field(default_factory=list)  # those named .env*
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
    result = ScanResult(skipped=list(listing.skipped), notes=list(listing.notes), git_trees=listing.git_trees,
                        gitignored=listing.gitignored, gitignored_env=list(listing.gitignored_env))
    with ConfinedReader() as reader:
        for entry in listing.files:
            if advance is not None:
                advance()
            try:
                data, identity = reader.read(entry.root, entry.path)
            except Refused as exc:
                result.skipped.append(Skipped(entry.path, exc.reason, unchecked=not isinstance(exc, ThroughSymlink)))
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
            occurrences = tuple(
                Occurrence(entry.path, line, column, span.start, span.voice_id, ready.get(span.voice_id),
                           rows[span.voice_id].display_name, rows[span.voice_id].why_not, context)
                for span, line, column, context in _placed(text, spans)
            )
            result.hits.append(FileHit(entry, encoding, hashlib.sha256(data).hexdigest(), identity, occurrences))
    result.seconds = time.perf_counter() - started
    return result


def _placed(text: str, spans: Sequence[Span]) -> Iterator[tuple[Span, int, int, str]]:
    """Each span (in order) with its line and column (both from 1, columns in characters)
    and its bounded excerpt; one pass over the text, no index of its lines kept."""
    line, line_start, position = 1, 0, 0
    for span in spans:
        newlines = text.count("\n", position, span.start)
        if newlines:
            line += newlines
            line_start = text.rindex("\n", position, span.start) + 1
        position = span.start
        right = min(len(text), span.end + CONTEXT_CHARS)
        line_end = text.find("\n", span.end, right)
        right = right if line_end < 0 else line_end
        left = max(line_start, span.start - CONTEXT_CHARS)
        yield span, line, span.start - line_start + 1, text[left:right].rstrip("\r")
