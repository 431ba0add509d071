"""The advisory lock that keeps two runs from working on one thing at once.

Owns `exclusive_lock`: held on a file until the handle is closed, dropped by the OS when
the process dies (even by SIGKILL). Used for a plan's ledger (`runfolder`) and an
account's apply (`userstate`); it imports nothing of `audit` but the errors, so both can.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO

from audit.core.errors import UsageError


def exclusive_lock(path: Path, busy: str | None = None) -> IO[bytes]:
    """Hold an exclusive advisory lock on `path` until the returned handle is closed.
    The OS drops it when the process dies, even by SIGKILL. `busy`: the message when
    another process holds it."""
    handle = open(path, "ab")  # noqa: SIM115 - held open for as long as the lock is
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UsageError(
            busy or f"another clone-audit apply is working on {path.parent} right now.",
            hint="Wait for it to finish; two applies at once could create a clone twice.",
        ) from None
    return handle
