"""Path safety for the archive: what a path is, and opening it only when it is a file.

Owns opening a recording or manifest only if it is a regular file, without ever blocking
on a named pipe (`open_regular`), saying what a path that is not a regular file is
(`not_a_file`, `describe_mode`), resolving a path without failing on a link loop
(`resolved`) and the UTF-8 check of a path (`is_utf8`). Names are shown through
`audit.core.untrusted.visible_name`, the one home of display escaping.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path


class NotRegularFile(OSError):
    """The path exists but is a folder, a named pipe, a socket or a device."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(errno.EINVAL, f"is {what}, not a file", str(path))
        self.what = what


def open_regular(path: Path) -> io.BufferedReader:
    """Open `path` for reading if it is a regular file, never blocking on what it is not.

    A folder, named pipe, socket or device raises NotRegularFile without being opened (a
    FIFO would block an open for reading until a writer comes); other failures raise the
    OSError that open raises (FileNotFoundError, PermissionError, ELOOP for a link loop).
    The mode is checked again on the opened descriptor, so a swap in between is caught.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, describe_mode(mode))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, describe_mode(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def describe_mode(mode: int) -> str:
    """What a file that is not a regular file is, for a reason a person reads."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def not_a_file(path: Path) -> str | None:
    """None for a regular file; otherwise what it is ("a folder", "missing", ...). Never opens it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "missing"
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        return f"unreadable ({exc.strerror})"
    except ValueError:  # a NUL in the path
        return "missing"
    return None if stat.S_ISREG(mode) else describe_mode(mode)


def resolved(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop
        return None


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a byte that is not UTF-8, kept by the file system's surrogateescape
        return False
    return True

