"""Per-user state kept outside every run folder: the account locks and the plan-sealing key.

A plan folder can be copied anywhere (another output root, another machine), so what
must be unique per account or per user cannot live in it. This module owns one state
folder per user, readable by that user only (platformdirs' user state folder, or the
folder `$CLONE_AUDIT_STATE_DIR` names: tests and CI set it so they never touch a home),
and what is kept there:

    <state>/locks/apply-<account id>.lock   held by the one apply working on an account
    <state>/plan-seal.key                    32 random bytes (0600): the HMAC key that seals plans
    <state>/limits/<account id>.json         the concurrency level the last discovering run held
                                             (its next run starts there instead of at 1)

Like ssh with its keys, the folder must be private: it is created 0700; an existing one (or
subfolder) that group or others can write is made 0700 again, with a warning, when it is
this user's, and refused (exit 2) when it belongs to someone else. The key file is refused
when it belongs to someone else, is not a regular file, or others can read or change it: a
key that may have been read or replaced is not repaired but replaced by its owner.

The account id is a truncated sha256 of a domain-separated string holding the base URL
and the API key: the key cannot be recovered from it, and no file name or content here
holds the key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from audit.core.errors import UsageError
from audit.core.locks import exclusive_lock
from audit.core.secrets import Secret

ENV_STATE_DIR = "CLONE_AUDIT_STATE_DIR"
APP_NAME = "clone-audit"
LOCKS_DIR = "locks"
LIMITS_DIR = "limits"
SEAL_KEY_FILE = "plan-seal.key"
SEAL_KEY_BYTES = 32
_ACCOUNT_DOMAIN = b"clone-audit account id v1\x00"
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH
log = logging.getLogger(__name__)


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """This user's clone-audit state folder, created (0700) if it does not exist yet."""
    env = os.environ if env is None else env
    override = env.get(ENV_STATE_DIR, "").strip()
    if override:
        path = Path(override)
    else:  # imported when the folder is first asked for, not with this module (report, history never ask)
        import platformdirs

        path = platformdirs.user_state_path(APP_NAME, appauthor=False)
    return _private_folder(path)


def account_id(base_url: str, api_key: Secret) -> str:
    """A stable name for one account (base URL + key) from which the key cannot be recovered."""
    digest = hashlib.sha256(_ACCOUNT_DOMAIN)
    digest.update(base_url.rstrip("/").encode("utf-8") + b"\x00")
    digest.update(api_key.reveal().encode("utf-8"))
    return digest.hexdigest()[:24]


def account_lock(base_url: str, api_key: Secret) -> IO[bytes]:
    """Hold the account's apply lock until the returned handle is closed: two applies of one
    account cannot overlap, wherever their plans live (the OS drops it if the process dies)."""
    locks = _private_folder(state_dir() / LOCKS_DIR)
    return exclusive_lock(
        locks / f"apply-{account_id(base_url, api_key)}.lock",
        busy=f"another clone-audit apply is working on this account ({base_url.rstrip('/')}) right now.",
    )


def remembered_limit(base_url: str, api_key: Secret, ceiling: int) -> int | None:
    """The concurrency level the last discovering run on this account held, at most `ceiling`;
    None when none was kept or the file is unreadable (a start hint only: never an error)."""
    try:  # a scan does not need the state folder: one that cannot be made costs only the hint
        path = state_dir() / LIMITS_DIR / f"{account_id(base_url, api_key)}.json"
        level = json.loads(path.read_text(encoding="utf-8"))["limit"]
    except (OSError, ValueError, TypeError, KeyError, RecursionError, UsageError):  # RecursionError: absurd nesting
        return None
    if isinstance(level, bool) or not isinstance(level, int) or level < 1:
        return None
    return min(level, ceiling)


def remember_limit(base_url: str, api_key: Secret, level: int, proved: bool, when: str) -> None:
    """Keep `level` as where this account's next discovering run starts (best effort: a state
    folder that cannot be written only costs the next run its slow start)."""
    with contextlib.suppress(OSError, UsageError):
        folder = _private_folder(state_dir() / LIMITS_DIR)
        path = folder / f"{account_id(base_url, api_key)}.json"
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            tmp.write_text(json.dumps({"limit": level, "proved_by_429": proved, "at": when}), encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def seal_key(*, create: bool) -> bytes | None:
    """This user's plan-sealing key; made (32 random bytes, 0600) when `create` and absent.
    None when it does not exist and `create` is False (say, a plan made on another machine)."""
    path = state_dir() / SEAL_KEY_FILE
    if not path.exists():
        if not create:
            return None
        _create_key(path)
    try:
        info = path.lstat()
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the plan-sealing key {path}: {exc.strerror}",
                         hint=f"Check the permissions of {path.parent}.") from None
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        raise UsageError(f"the plan-sealing key {path} is not a regular file.",
                         hint="Delete it: the next `clone-audit plan` makes a new one (plans sealed with the "
                         "old key must then be made again).")
    if os.name == "posix" and info.st_uid != os.getuid():
        raise UsageError(f"the plan-sealing key {path} belongs to another user (uid {info.st_uid}).",
                         hint=f"Delete it (someone else could have chosen it), or set {ENV_STATE_DIR} to a "
                         "folder of your own; then plan again.")
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(f"the plan-sealing key {path} can be read or changed by other users.",
                         hint=f"Run `chmod 600 {path}` (and check who else could have read it), then plan again.")
    if len(data) != SEAL_KEY_BYTES:
        raise UsageError(f"the plan-sealing key {path} is damaged ({len(data)} bytes, not {SEAL_KEY_BYTES}).",
                         hint="Delete it: the next `clone-audit plan` makes a new one (plans sealed with the "
                         "old key must then be made again).")
    return data


def _create_key(path: Path) -> None:
    """Write a new key so that no reader ever sees a partial one, and no two runs make two:
    a private temporary file, then a hard link that fails if another run linked first."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(SEAL_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another run made it first: use theirs
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _private_folder(path: Path) -> Path:
    """`path`, created 0700 if absent; an existing one that others can write is repaired
    (ours) or refused (someone else's)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise UsageError(
            f"cannot create clone-audit's state folder {path}: {exc.strerror}",
            hint=f"Set {ENV_STATE_DIR} to a folder only you can write to.",
        ) from None
    if os.name != "posix":
        return path
    if info.st_uid != os.getuid():
        raise UsageError(
            f"clone-audit's state folder {path} belongs to another user (uid {info.st_uid}): they could "
            "replace the plan-sealing key or hold the account lock.",
            hint=f"Set {ENV_STATE_DIR} to a folder of your own (it is made private, 0700).",
        )
    if info.st_mode & _OTHERS_WRITE:
        private = stat.S_IMODE(info.st_mode) & ~(stat.S_IRWXG | stat.S_IRWXO)
        try:
            os.chmod(path, private)
        except OSError as exc:
            raise UsageError(f"clone-audit's state folder {path} can be changed by other users and cannot be made "
                             f"private: {exc.strerror}", hint=f"Run `chmod 700 {path}`.") from None
        log.warning("clone-audit's state folder %s could be changed by other users (mode %o); it is now %o. "
                    "Check that its files are yours.", path, stat.S_IMODE(info.st_mode), private)
    return path
