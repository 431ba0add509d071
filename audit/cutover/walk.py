"""Which files a cutover reads: the given paths, minus what must be left alone.

Owns `list_files(paths, …)`. Inside a git work tree the files are what
`git ls-files -co --exclude-standard` lists (tracked files, and untracked ones that
`.gitignore` does not exclude; with `include_ignored`, ignored files too), run once per
work tree (and how many untracked files `.gitignore` hid is counted, `.env*` files named);
elsewhere the folders are walked. Never followed: a symlink, to a file or a
folder (one pointing outside the given paths is reported as skipped; one pointing inside
needs no following, its target is read where it lives), nor a folder git lists a file in
that has become a symlink since. Each file is listed with its root (the given folder, or
the folder holding a given file): reads and writes go through that root, component by
component (`confined`). Left alone: `.git`, `.hg` and `.svn` folders, clone-audit's own
run folders, recognised by their sealed marker (`audit.core.runmarker`; they hold the old
ids on purpose; a folder whose marker this user's key did not seal is not read either, and
is reported as not checked), the files named in `exclude` (the mapping itself), and files larger than
`max_bytes` (reported). Each file is listed once, whatever overlaps the paths have.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from audit.core.choices import DEFAULT_MAX_BYTES as DEFAULT_MAX_BYTES  # files larger are skipped
from audit.core.errors import UsageError
from audit.cutover.confined import ConfinedReader, Refused
from audit.core.runmarker import LEGACY_RUN_JSON, RUN_MARKER, Marker, marker_of

VCS_DIRS = frozenset({".git", ".hg", ".svn"})
GIT_TIMEOUT_S = 120


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: Path  # absolute, symlink-free when listed
    size: int
    mode: int
    root: Path  # the folder the user named (or holding the file named) that `path` lies in


@dataclass(frozen=True, slots=True)
class Skipped:
    path: Path
    reason: str
    unchecked: bool  # True: it may hold ids that were not looked for (too large, unreadable)


@dataclass
class FileListing:
    files: list[FileEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    git_trees: int = 0
    gitignored: int = 0  # untracked files .gitignore hid from the read (0 with include_ignored)
    gitignored_env: list[Path] = field(default_factory=list)  # those named .env*: secrets, config


def list_files(
    paths: Sequence[Path], *, max_bytes: int, include_ignored: bool = False, exclude: Iterable[Path] = ()
) -> FileListing:
    roots = [_root(p) for p in paths]
    walker = _Walker([r for r, _ in roots], max_bytes, include_ignored, {os.path.realpath(p) for p in exclude})
    for real, given in roots:
        walker.root = real if real.is_dir() else real.parent
        if real.is_dir():
            before = len(walker.listing.files)
            walker.folder(str(real), ask_git=True)
            if len(walker.listing.files) == before and walker.listing.git_trees:
                walker.listing.notes.append(
                    f"{given}: no file to read (everything in it is ignored by .gitignore? --include-ignored reads it)"
                )
        else:
            walker.file(str(real), os.lstat(real))
    return walker.listing


def _root(path: Path) -> tuple[Path, Path]:
    if not path.exists():
        raise UsageError(f"{path} does not exist.", hint="Give the files or folders the callers' code lives in.")
    return Path(os.path.realpath(path)), path


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _may_be_run_folder(names: Collection[str] | None) -> bool:
    """Whether a folder holding `names` (None: not known) can be a run folder: only one
    holding a marker or a run.json (a legacy run folder) can, so the others are not opened."""
    return names is None or RUN_MARKER in names or LEGACY_RUN_JSON in names


class _Walker:
    """One pass: each folder listed once (`os.scandir`), each file stat-ed once; paths are
    plain strings until a file or a skip is reported."""

    def __init__(self, roots: list[Path], max_bytes: int, include_ignored: bool, exclude: set[str]) -> None:
        self.roots = roots
        self.max_bytes = max_bytes
        self.include_ignored = include_ignored
        self.exclude = exclude
        self.seen: set[str] = set()
        self.run_folders: dict[str, Marker | None] = {}
        self.root = Path("/")
        self.listing = FileListing()

    def folder(self, folder: str, *, ask_git: bool) -> None:
        """Read a folder: through git when asked (a given path, or a folder holding `.git`)
        and it is in a work tree, else by walking it."""
        if folder in self.seen:
            return
        self.seen.add(folder)
        entries: list[os.DirEntry[str]] | None = None
        try:
            with os.scandir(folder) as listed_here:
                entries = sorted(listed_here, key=_name)
        except OSError as exc:
            failure = exc.strerror
        names = None if entries is None else {e.name for e in entries}
        if self._is_run_folder(folder, names):
            self._skip_run_folder(folder)
            return
        ask_git = ask_git or (names is not None and ".git" in names)
        ignored = _GitIgnored(folder) if ask_git and not self.include_ignored else None  # git's two walks at once
        listed, problem = _git_files(folder, self.include_ignored) if ask_git else (None, None)
        hidden = None if ignored is None else ignored.result()
        if problem:
            self.listing.notes.append(f"{folder}: git ls-files failed ({problem}); .gitignore not applied there")
        if listed is not None:
            self._git_tree(folder, listed, hidden)
        elif entries is None:
            self._skip(folder, f"cannot list: {failure}", unchecked=True)
        else:
            self._walk(folder, entries)

    def _git_tree(self, top: str, listed: list[str], hidden: list[str] | None) -> None:
        self.listing.git_trees += 1
        if hidden is not None:
            self.listing.gitignored += len(hidden)
            self.listing.gitignored_env += [Path(top) / n for n in hidden if n.rsplit("/", 1)[-1].startswith(".env")]
        # every file git knows of is in `listed` (or, ignored, in `hidden`): a folder with no
        # marker and no run.json among them is no run folder, and is not opened to ask
        marked = None if hidden is None and not self.include_ignored else {
            name.rpartition("/")[0] for name in (*listed, *(hidden or ()))
            if name.rpartition("/")[2] in (RUN_MARKER, LEGACY_RUN_JSON)}
        excluded = _GitFolders(self, top, marked)
        base = top.rstrip("/") + "/"
        with ConfinedReader() as folders:
            for name in listed:
                self._git_entry(base, name.rstrip("/"), excluded, folders)

    def _git_entry(self, base: str, name: str, excluded: _GitFolders, folders: ConfinedReader) -> None:
        """One name git listed: stat-ed in its folder, held open while the names in it last
        (a folder that opens without a symlink on the way is known to be none)."""
        path = base + name
        parent, _, own = name.rpartition("/")
        try:
            fd: int | None = folders.folder((base + parent).rstrip("/"))
        except (Refused, OSError):
            fd = None  # through a symlink, or gone: looked at the slow way below
        try:
            info = os.lstat(path) if fd is None else os.stat(own, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return  # tracked but deleted in the work tree
        except OSError as exc:
            self._skip(path, f"cannot read: {exc.strerror}", unchecked=True)
            return
        if excluded.holds(parent, symlink_free=fd is not None):
            return
        if stat.S_ISDIR(info.st_mode):
            self.folder(path, ask_git=True)  # a submodule or a nested repository: its own rules
        else:
            self.file(path, info)

    def _walk(self, folder: str, entries: list[os.DirEntry[str]]) -> None:
        base = folder.rstrip("/") + "/"
        for entry in entries:
            path = base + entry.name
            try:
                if entry.is_symlink():
                    self._symlink(path)
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name not in VCS_DIRS:
                        self.folder(path, ask_git=False)  # git is asked when it holds `.git`
                elif entry.is_file(follow_symlinks=False):
                    self.file(path, entry.stat(follow_symlinks=False))
            except OSError as exc:
                self._skip(path, f"cannot read: {exc.strerror}", unchecked=True)

    def file(self, path: str, info: os.stat_result) -> None:
        if stat.S_ISLNK(info.st_mode):
            self._symlink(path)
            return
        if not stat.S_ISREG(info.st_mode) or path in self.seen or path in self.exclude:
            return
        self.seen.add(path)
        if info.st_size > self.max_bytes:
            self._skip(path, f"larger than {self.max_bytes} bytes (--max-bytes)", unchecked=True)
            return
        self.listing.files.append(FileEntry(Path(path), info.st_size, info.st_mode, self.root))

    def _symlink(self, path: str) -> None:
        if path in self.seen:
            return
        self.seen.add(path)
        target = Path(os.path.realpath(path))
        if not target.exists():
            self._skip(path, "broken symlink", unchecked=False)
        elif not any(target == r or target.is_relative_to(r) for r in self.roots):
            self._skip(path, f"symlink to {target}, outside the given paths: not followed", unchecked=False)
        # a symlink to a file inside the paths: its target is read where it lives

    def _is_run_folder(self, folder: str, names: Collection[str] | None) -> bool:
        if folder not in self.run_folders:
            self.run_folders[folder] = marker_of(Path(folder)) if _may_be_run_folder(names) else None
        return self.run_folders[folder] is not None

    def _skip_run_folder(self, folder: str) -> None:
        """Report a marked folder: the tool's own run folder is skipped; one whose marker this
        user's key did not seal (copied, hand-written, another user's) is not read either, but
        counts as not checked: it may hold ids no one looked for."""
        marker = self.run_folders.get(folder)
        if marker is Marker.OURS:
            self._skip(folder, "a clone-audit run folder (it records the old ids on purpose)", unchecked=False)
        elif marker is Marker.LEGACY:
            self._skip(folder, "a run.json names it a clone-audit run, but it has no sealed run-folder marker "
                       "(a run from an old version, or planted): not read, check it by hand", unchecked=True)
        else:
            self._skip(folder, "marked as a clone-audit run folder, but not by this user's clone-audit "
                       "(a copied or hand-written marker, or another user's run): not read, check it by hand",
                       unchecked=True)

    def _skip(self, path: str, reason: str, *, unchecked: bool) -> None:
        self.listing.skipped.append(Skipped(Path(path), reason, unchecked))


class _GitFolders:
    """Which folders of one work tree (`top`) the files git lists in are left alone: one on
    the way is a clone-audit run folder, or has become a symlink. Worked out once per folder."""

    def __init__(self, walker: _Walker, top: str, marked: set[str] | None) -> None:
        self.walker, self.base, self.marked = walker, top.rstrip("/") + "/", marked  # marked: None when not known
        self.linked: dict[str, bool] = {"": False}
        self.verdicts: dict[str, bool] = {"": False}

    def holds(self, folder: str, *, symlink_free: bool = False) -> bool:
        """Whether the files git lists in `folder` (relative to `top`; "" for top) are left
        alone; `symlink_free`: it was just opened with no symlink on the way (nothing to ask)."""
        if any(part in ("", ".", "..") for part in folder.split("/")) and folder:
            return True
        if symlink_free:
            chain, above = [], folder
            while above not in self.linked:
                chain.append(above)
                above = above.rpartition("/")[0]
            if not self.linked[above]:
                self.linked.update(dict.fromkeys(chain, False))
        return self._through_symlink(folder) or self._in_run_folder(folder)

    def _through_symlink(self, folder: str) -> bool:
        """Whether a folder between `top` and `folder` is a symlink (reported once)."""
        known = self.linked.get(folder)
        if known is None:
            parent = folder.rpartition("/")[0]
            path = self.base + folder
            known = self._through_symlink(parent) or os.path.islink(path)
            self.linked[folder] = known
            if known and not self.linked.get(parent):
                self.walker._symlink(path)
        return known

    def _in_run_folder(self, folder: str) -> bool:
        """Whether `folder` or one above it (below `top`) is a run folder; the deepest is reported."""
        known = self.verdicts.get(folder)
        if known is None:
            path = self.base + folder
            names = None if self.marked is None else (RUN_MARKER,) if folder in self.marked else ()
            if self.walker._is_run_folder(path, names):
                if path not in self.walker.seen:
                    self.walker.seen.add(path)
                    self.walker._skip_run_folder(path)
                known = True
            else:
                known = self._in_run_folder(folder.rpartition("/")[0])
            self.verdicts[folder] = known
        return known


def _git_files(folder: str, include_ignored: bool) -> tuple[list[str] | None, str | None]:
    """The files git lists under `folder` (relative names), or None outside a work tree,
    with what went wrong when git failed for another reason."""
    command = ["git", "-C", folder, "ls-files", "-co", "-z"]
    if not include_ignored:
        command.append("--exclude-standard")
    try:
        done = subprocess.run(command, capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except FileNotFoundError:
        return None, None  # no git: folders are walked
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if done.returncode != 0:
        error = os.fsdecode(done.stderr).strip()
        return None, (None if "not a git repository" in error else error.splitlines()[-1][:200] if error else "failed")
    return [os.fsdecode(name) for name in done.stdout.split(b"\0") if name], None


class _GitIgnored:
    """`_git_ignored(folder)` run in a thread while git lists the files to read."""

    def __init__(self, folder: str) -> None:
        self._hidden: list[str] | None = None
        self._thread = threading.Thread(target=self._run, args=(folder,), daemon=True)
        self._thread.start()

    def _run(self, folder: str) -> None:
        self._hidden = _git_ignored(folder)

    def result(self) -> list[str] | None:
        self._thread.join()
        return self._hidden


def _git_ignored(folder: str) -> list[str] | None:
    """The untracked files `.gitignore` hides under `folder` (relative names): what a cutover
    does not read unless --include-ignored; None when git cannot say."""
    command = ["git", "-C", folder, "ls-files", "-o", "-i", "--exclude-standard", "-z"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [os.fsdecode(n) for n in done.stdout.split(b"\0") if n] if done.returncode == 0 else None


def repository_root(path: Path) -> Path:
    """The top of the git work tree `path` lies in, else `path` itself (a file: its folder):
    what a SARIF log's file URIs are relative to."""
    real = Path(os.path.realpath(path))
    folder = real if real.is_dir() else real.parent
    try:
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return folder
    top = os.fsdecode(done.stdout).strip()
    return Path(os.path.realpath(top)) if done.returncode == 0 and top else folder
