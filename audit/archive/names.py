"""The candidate files of the archive: one walk of the folder, and the names filed for look-up.

Every non-hidden entry is indexed, folders and special files included, so that a name that
matches but is not a regular file can be named in a reason instead of vanishing; hidden
files and folders (dot-names) are not, and extensions are not looked at. A subfolder that
cannot be listed is kept in `unlisted` (only an unreadable archive folder itself is a
ConfigError); symlinked folders are listed but not entered.

Cost: one os.scandir per folder; each name is filed under its runs of letters and digits
and under its normalised stem (`normalise_name`: NFKC, casefolded, trimmed, spaces,
underscores and hyphens alike). A voice id is looked up through its rarest run and then
checked at its boundaries (`voice_ab` is not in `voice_abc`), so indexing is linear in the
number and length of the names.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

from audit.core.errors import ConfigError
from audit.core.untrusted import visible_name

_SEPARATORS = re.compile(r"[\s_\-]+")
_RUNS = re.compile(r"[^\W_]+")  # maximal runs of letters and digits (str.isalnum)


class Names:
    """The entries under one folder, walked once, filed by run and by normalised stem."""

    def __init__(self, folder: Path, skip: Path | None = None) -> None:
        """`skip`: a path not to index (the manifest, when it lies inside the folder)."""
        self.all, self.unlisted = _walk(folder, skip)
        self._by_run: dict[str, list[str]] = defaultdict(list)
        self._by_stem: dict[str, list[str]] = defaultdict(list)
        for rel in self.all:
            name = rel.rpartition("/")[2]
            for run in set(_RUNS.findall(name)):
                self._by_run[run].append(rel)
            self._by_stem[normalise_name(_stem(name))].append(rel)

    def with_id(self, voice_id: str) -> list[str]:
        """Indexed names holding `voice_id` at boundaries, in walk order.

        Every run of letters and digits of the id is a whole run of any name holding it at
        boundaries, so the shortest of those runs' lists holds every such name."""
        if not voice_id:
            return []
        runs = set(_RUNS.findall(voice_id))
        pool = min((self._by_run.get(run, []) for run in runs), key=len) if runs else self.all
        return [rel for rel in pool if _holds(rel.rpartition("/")[2], voice_id)]

    def with_stem(self, key: str) -> list[str]:
        """Indexed names whose normalised stem is `key` (a `normalise_name` result)."""
        return self._by_stem.get(key, [])


def normalise_name(text: str) -> str:
    """The form display names and file stems are compared in."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _SEPARATORS.sub(" ", folded).strip()


def _walk(folder: Path, skip: Path | None) -> tuple[list[str], list[str]]:
    """Relative POSIX paths of every non-hidden entry under `folder` (files, links, folders,
    special files), folder by folder in sorted order; and the subfolders that could not be listed.

    Symlinked folders are listed (so a match on one can be refused) but not entered.
    """
    skipped = str(skip) if skip is not None else None
    found: list[str] = []
    unlisted: list[str] = []
    stack = [("", str(folder))]
    while stack:
        rel_dir, here = stack.pop()
        try:
            with os.scandir(here) as listing:
                entries = sorted((e.name, e.path, _is_real_dir(e)) for e in listing if not e.name.startswith("."))
        except OSError as exc:
            if not rel_dir:
                raise ConfigError(f"archive folder {visible_name(str(folder))} cannot be listed: {exc.strerror}.",
                                  hint="Make the archive folder readable by this user.") from None
            unlisted.append(rel_dir)
            continue
        subfolders = []
        for name, path, is_dir in entries:
            if path == skipped:
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            found.append(rel)
            if is_dir:
                subfolders.append((rel, path))
        stack.extend(reversed(subfolders))
    return found, unlisted


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _holds(name: str, voice_id: str) -> bool:
    """Whether `name` holds `voice_id` starting and ending at a boundary (not inside a run of
    letters and digits)."""
    at = name.find(voice_id)
    while at >= 0:
        end = at + len(voice_id)
        if (at == 0 or not name[at - 1].isalnum()) and (end == len(name) or not name[end].isalnum()):
            return True
        at = name.find(voice_id, at + 1)
    return False


def _stem(name: str) -> str:
    """`PurePosixPath(name).stem`, without building a path."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name
