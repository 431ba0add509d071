"""The rollback file as evidence: sealed when written, checked whole before a restore.

Owns `write_sealed` and `read_sealed`. A rollback file records what one `cutover --write`
did: the roots it was confined to, and per file its root, path, encoding, mode, sha256
before and after, and every replacement. It is sealed like a plan: an HMAC-SHA256 of
its content (canonical JSON: sorted keys, no spaces, ASCII) keyed with this user's
plan-sealing key (`audit.core.userstate`, with a domain of its own, so a plan's seal is
never a rollback file's), written into the file as `seal`.

A restore believes nothing that is not sealed: a file without a seal (an older format
included), with a seal made with a key this user does not have, or whose content no
longer matches its seal is refused (UsageError, exit 2, naming the file) before any file
is read. A sealed file is then checked for shape: each file entry's root is one of the
recorded roots, its path lies below that root (no `..`), its hashes are sha256 hex, its
encoding one the cutover writes, its replacements voice ids at offsets. Another kind of
rollback record (the agents' one, `agentrecord`) is sealed the same way and brings its own
shape check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from audit.core.errors import RunError, UsageError
from audit.core.runfolder import write_text
from audit.core.secrets import scrub
from audit.core.userstate import SEAL_KEY_FILE, seal_key
from audit.cutover.mapping import VOICE_ID
from audit.cutover.textfile import Encoding

FORMAT = "clone-audit-cutover-rollback/2"
SEAL_FORMAT = "clone-audit-rollback-seal/1"
_DOMAIN = b"clone-audit cutover rollback seal v1\x00"
_KEY_ID_DOMAIN = b"clone-audit rollback-seal key id v1\x00"
_SHA256 = re.compile(r"[0-9a-f]{64}")
HINT = ("Pass the rollback file `clone-audit cutover --write` printed, as it was written, as the user who "
        "wrote it. Nothing was restored; to undo by hand, use version control or a backup.")


#: What checks a sealed document's shape: the problem, or None when it is whole.
Shape = Callable[[dict[str, Any]], "str | None"]


def write_sealed(path: Path, document: dict[str, Any], shape: Shape | None = None) -> None:
    """Write `document` with its seal, so that `read_sealed` (with the same `shape`) accepts exactly it."""
    content = json.loads(scrub(json.dumps(document, indent=2, ensure_ascii=True)))  # as it will read back
    key = seal_key(create=True)
    assert key is not None
    sealed = {**content, "seal": {"format": SEAL_FORMAT, "key_id": _key_id(key), "hmac_sha256": _mac(key, content)}}
    write_text(path, json.dumps(sealed, indent=2, ensure_ascii=True) + "\n")
    try:
        read_sealed(path, shape)
    except UsageError as exc:
        raise RunError(f"the rollback file {path} does not read back as written ({exc.message}).",
                       hint="This is a bug: please report it. No file is patched after a rollback file fails "
                       "to read back.") from None


def read_sealed(path: Path, shape: Shape | None = None) -> dict[str, Any]:
    """The content of the rollback file at `path`, once its seal and shape (`shape`: a file
    cutover's by default, or another kind of rollback record's) are checked."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"rollback file {path} does not exist.", hint=HINT) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"rollback file {path} cannot be read: {exc}", hint=HINT) from None
    if not isinstance(document, dict) or not str(document.get("format", "")).startswith("clone-audit-cutover-rollback/"):
        raise UsageError(f"{path} is not a clone-audit rollback file ({FORMAT}).", hint=HINT)
    seal = document.pop("seal", None)
    if not isinstance(seal, dict) or seal.get("format") != SEAL_FORMAT:
        raise UsageError(f"rollback file {path} is not sealed, so nothing shows clone-audit wrote it as it is: "
                         "refused.", hint=HINT)
    key = seal_key(create=False)
    if key is None or not hmac.compare_digest(str(seal.get("key_id")), _key_id(key)):
        raise UsageError(f"rollback file {path} was sealed with a key this user does not have ({SEAL_KEY_FILE}): "
                         "refused.", hint=HINT)
    if not hmac.compare_digest(str(seal.get("hmac_sha256")), _mac(key, document)):
        raise UsageError(f"rollback file {path} was changed after it was written (it no longer matches its seal): "
                         "refused.", hint=HINT)
    problem = (shape or _shape_problem)(document)
    if problem:
        raise UsageError(f"rollback file {path} is damaged: {problem}.", hint=HINT)
    return document


def _shape_problem(document: dict[str, Any]) -> str | None:
    if document.get("format") != FORMAT:
        return f"format {document.get('format')!r}, not {FORMAT}"
    roots, files = document.get("roots"), document.get("files")
    if not isinstance(roots, list) or not all(isinstance(r, str) and r.startswith("/") for r in roots):
        return "no list of roots"
    if not isinstance(files, list):
        return "no list of files"
    for number, entry in enumerate(files, start=1):
        problem = _entry_problem(entry, roots)
        if problem:
            return f"file entry {number}: {problem}"
    return None


def _entry_problem(entry: Any, roots: list[str]) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    root, path = entry.get("root"), entry.get("path")
    if root not in roots or not isinstance(path, str):
        return "its root is not one of the recorded roots"
    inside = PurePosixPath(path)
    if not inside.is_relative_to(PurePosixPath(root)) or inside == PurePosixPath(root) or ".." in inside.parts:
        return "its path is not below its root"
    if not all(isinstance(entry.get(k), str) and _SHA256.fullmatch(entry[k]) for k in ("sha256_before", "sha256_after")):
        return "no sha256 before and after"
    if entry.get("encoding") not in {e.value for e in Encoding}:
        return "an unknown encoding"
    replacements = entry.get("replacements")
    if not isinstance(replacements, list) or not replacements:
        return "no replacements"
    for item in replacements:
        if not isinstance(item, dict) or not all(type(item.get(k)) is int and item[k] >= 0
                                                 for k in ("line", "column", "offset")):
            return "a replacement without its place"
        if not all(isinstance(item.get(k), str) and VOICE_ID.fullmatch(item[k]) for k in ("old", "new")):
            return "a replacement that is not of one voice id by another"
    return None


def _mac(key: bytes, content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return hmac.new(key, _DOMAIN + canonical, hashlib.sha256).hexdigest()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(_KEY_ID_DOMAIN + key).hexdigest()[:16]
