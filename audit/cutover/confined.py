"""Reading and rewriting a file only through the folder the user named, no symlink followed.

Owns `read_confined`, `ConfinedReader` and `replace_confined`. A file is addressed by a root (an absolute
folder, symlink-free, that the user named or that holds the file the user named) and
its path below that root. Every open walks the path one component at a time from `/`:
each folder is opened with O_DIRECTORY | O_NOFOLLOW relative to its parent's descriptor,
the file itself with O_NOFOLLOW (and O_NONBLOCK, so a FIFO swapped in cannot hang the
run) and must be a regular file. A symlink anywhere on the way, put there before the
scan or swapped in after it, fails the open: nothing behind it is read or written.
`ConfinedReader` reads many files in listing order the same way, but keeps the folders on
the way open while the next file lies in them too: one open per folder, not one per
component of every file (a folder it holds open is the very folder it opened, wherever a
rename takes it; a symlink put in its place later is never followed).

A rewrite happens only when the file is still the one expected: the same device and
inode as when it was scanned (when that is known), bytes the caller's check accepts
(`expecting`: their sha256 is the one scanned), one link only (a rename would split a hard-linked file from its other names).
The new bytes go to a temporary file created in the same folder descriptor (O_EXCL |
O_NOFOLLOW), which gets the original's permission bits and, where allowed, owner, is
fsynced and renamed over the name within that descriptor; then the folder is fsynced.
What stopped a read or a rewrite is `Refused`, with a reason a person can act on.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class Refused(Exception):
    """A read or rewrite that was not done, and why (`reason`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ThroughSymlink(Refused):
    """The path leads through a symlink (or is one): not followed."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Which file was read: enough to tell it from one swapped in later under its name."""

    device: int
    inode: int
    mode: int
    links: int
    uid: int
    gid: int

    @classmethod
    def of(cls, info: os.stat_result) -> Identity:
        return cls(info.st_dev, info.st_ino, info.st_mode, info.st_nlink, info.st_uid, info.st_gid)

    def same_file(self, other: Identity) -> bool:
        return (self.device, self.inode) == (other.device, other.inode)


def parts_below(root: Path, path: Path) -> tuple[str, ...]:
    """`path`'s components below `root`; Refused when it is not lexically inside it."""
    if not root.is_absolute() or not path.is_absolute() or not path.is_relative_to(root):
        raise Refused(f"outside {root}: not touched")
    parts = PurePosixPath(path.relative_to(root)).parts
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise Refused(f"not a file below {root}: not touched")
    return parts


def read_confined(root: Path, path: Path) -> tuple[bytes, Identity]:
    """The bytes of `path` (inside `root`), read without following any symlink."""
    parts = parts_below(root, path)
    with _folder(root, parts[:-1]) as folder, _open_file(folder, parts[-1]) as (fd, info):
        return _read_all(fd, info.st_size), Identity.of(info)


class ConfinedReader:
    """Reads files below their roots like `read_confined`, the folders shared by consecutive
    files opened once. Close it (or use it as a context manager) to release them."""

    def __init__(self) -> None:
        self._parts: list[str] = []  # the folder held open, as components from `/`
        self._fds: list[int] = []  # `/`, then one per component of `_parts`
        self._folder_path = ""  # `_parts` as text, once the folder is open

    def __enter__(self) -> ConfinedReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def read(self, root: Path, path: Path) -> tuple[bytes, Identity]:
        """The bytes of `path` (inside `root`), read without following any symlink."""
        folder, _, name = str(path).rpartition("/")
        top = str(root)
        below = folder[len(top):] + "/"  # a Path's text has no empty or "." part; ".." is looked for
        if not (top.startswith("/") and folder.startswith(top) and below[0] == "/"
                and name not in ("", ".", "..") and "/../" not in below):
            parts_below(root, path)  # says why it is refused (or it is fine after all, and read slowly)
            return read_confined(root, path)
        with _open_file(self.folder(folder), name) as (fd, info):
            return _read_all(fd, info.st_size), Identity.of(info)

    def folder(self, folder: str) -> int:
        """A descriptor of `folder` (absolute, as a Path writes it), every component opened
        without following a symlink, valid until the next call; Refused otherwise."""
        if folder != self._folder_path:
            self._folder(tuple(part for part in folder.split("/") if part))
            self._folder_path = folder
        return self._fds[-1]

    def close(self) -> None:
        self._keep(0)
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def _folder(self, want: tuple[str, ...]) -> int:
        if not self._fds:
            self._fds.append(os.open("/", _DIR_FLAGS))
        shared = 0
        for have, part in zip(self._parts, want, strict=False):
            if have != part:
                break
            shared += 1
        self._keep(shared)
        for part in want[shared:]:
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=self._fds[-1])
            except OSError as exc:
                raise _why_not(self._fds[-1], part, Path("/", *self._parts, part), exc) from None
            self._fds.append(child)
            self._parts.append(part)
        return self._fds[-1]

    def _keep(self, depth: int) -> None:
        """Close the folders held below the first `depth` components."""
        self._folder_path = ""
        while len(self._parts) > depth:
            self._parts.pop()
            os.close(self._fds.pop())


def replace_confined(root: Path, path: Path, rewrite: Callable[[bytes], bytes], *,
                     identity: Identity | None = None) -> Identity:
    """Put `rewrite(current bytes)` at `path` (inside `root`) if it is still the file
    expected (`identity`, when given; one link only); `rewrite` raises Refused when the
    bytes are not the ones expected. The identity of the new file; Refused, nothing
    written, otherwise."""
    parts = parts_below(root, path)
    name = parts[-1]
    with _folder(root, parts[:-1]) as folder:
        with _open_file(folder, name) as (fd, info):
            if identity is not None and not identity.same_file(Identity.of(info)):
                raise Refused("replaced by another file since it was scanned: not written")
            if info.st_nlink > 1:
                raise Refused(f"has {info.st_nlink} hard links: not written (change it by hand)")
            data = rewrite(_read_all(fd, info.st_size))
        return _write_beside(folder, name, data, info)


def expecting(sha256: str, change: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    """A rewrite that applies `change` only to bytes whose sha256 is `sha256`."""
    def rewrite(current: bytes) -> bytes:
        if hashlib.sha256(current).hexdigest() != sha256:
            raise Refused("changed since it was scanned: not written")
        return change(current)
    return rewrite


def _write_beside(folder: int, name: str, data: bytes, info: os.stat_result) -> Identity:
    tmp = f".{name[:60]}.clone-audit-{secrets.token_hex(4)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=folder)
    except OSError as exc:
        raise Refused(f"cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), info.st_mode & 0o7777)
            if (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
                with contextlib.suppress(PermissionError):  # not ours to give away: content and mode kept
                    os.fchown(handle.fileno(), info.st_uid, info.st_gid)
            os.fsync(handle.fileno())
            written = Identity.of(os.fstat(handle.fileno()))
        os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=folder)
        raise Refused(f"cannot write: {exc.strerror}") from None
    with contextlib.suppress(OSError):
        os.fsync(folder)
    return written


@contextlib.contextmanager
def _folder(root: Path, below: tuple[str, ...]) -> Iterator[int]:
    """A descriptor of root/below…, every component opened without following a symlink."""
    fd = os.open("/", _DIR_FLAGS)
    try:
        walked = Path("/")
        for part in (*root.parts[1:], *below):
            walked = walked / part
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise _why_not(fd, part, walked, exc) from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _open_file(folder: int, name: str) -> Iterator[tuple[int, os.stat_result]]:
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
    except OSError as exc:
        raise _why_not(folder, name, None, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused("no longer a regular file: not touched")
        os.set_blocking(fd, True)
        yield fd, info
    finally:
        os.close(fd)


def _why_not(folder: int, name: str, walked: Path | None, exc: OSError) -> Refused:
    try:
        is_link = stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    except OSError:
        is_link = False
    if is_link or exc.errno == errno.ELOOP:
        where = f" ({walked} is a symlink)" if walked is not None else ""
        return ThroughSymlink(f"reached through a symlink{where}: not followed")
    if exc.errno == errno.ENOENT:
        return Refused("no longer exists")
    if exc.errno == errno.ENOTDIR:
        return Refused(f"{walked} is no longer a folder: not followed")
    return Refused(f"cannot open: {exc.strerror}")


def _read_all(fd: int, size_hint: int) -> bytes:
    """Every byte of `fd` (one copy only when the size did not change since the fstat)."""
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, max(size_hint + 1, 1 << 16))
        if not chunk:
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.append(chunk)
