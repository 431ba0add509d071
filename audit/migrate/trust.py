"""What apply checks before it acts on a plan file: a plan is evidence, not code.

A plan decides what gets uploaded to the account, so apply never takes its word:

- the seal: `plan` writes `plan.seal` beside plan.json, an HMAC-SHA256 of plan.json's
  exact bytes keyed with this user's plan-sealing key (`audit.core.userstate`, kept
  outside every plan folder). Any byte edited after planning breaks it, and apply
  refuses. A plan sealed with a key this user does not have (made on another machine or
  by another user) is refused too; `--trust-plan-edits` is the explicit way to apply it
  anyway (only the seal check is skipped; every check below still runs). Without the seal
  nothing vouches for the archive folder the plan records, so under that flag the operator
  names it (`[archive] folder` / `--archive`) and it must be the plan's (`check_archive`).
- where each upload leads, resolved on disk (symlinks followed): a fitted copy must lie in
  the plan's own `fitted/` folder, an archived file in the archive folder the plan records.
- what each upload holds: bytes whose sha256 is the one the plan records must still be
  audio (`audio.sniff`); bytes that changed fail that voice, as before. The audio module (and
  numpy behind it) is imported by the checks of bytes alone: retire checks only the seal.

The structural checks of the plan's content (expiry moved, paths that climb out, proof
tags the plan has no business holding) live in `audit.migrate.document.plan_problems`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from audit.core.models import Action, Upload
from audit.core.runfolder import RunFolder, write_text
from audit.core.userstate import SEAL_KEY_FILE, seal_key
from audit.migrate.document import Plan, PlanEntry, PlanError, upload_shape_problem

log = logging.getLogger(__name__)

SEAL_FORMAT = "clone-audit-plan-seal/1"
_SEAL_DOMAIN = b"clone-audit plan seal v1\x00"
_KEY_ID_DOMAIN = b"clone-audit plan-seal key id v1\x00"
_SNIFF_BYTES = 64
TRUST_FLAG = "--trust-plan-edits"


def seal_plan(folder: RunFolder) -> None:
    """Write plan.seal for the plan.json in `folder`, exactly as it is on disk."""
    key = seal_key(create=True)
    assert key is not None
    seal = {"format": SEAL_FORMAT, "key_id": _key_id(key), "hmac_sha256": _mac(key, folder.plan_json.read_bytes())}
    write_text(folder.plan_seal, json.dumps(seal, indent=2) + "\n")


def check_seal(folder: RunFolder, *, trust_edits: bool) -> None:
    """Refuse a plan.json that is not exactly what this user's `plan` wrote."""
    if trust_edits:
        log.warning("%s: the plan's seal is not checked (%s); every other check still runs",
                    folder.plan_json, TRUST_FLAG)
        return
    replan = "Run `clone-audit plan` again and review the new plan."
    try:
        seal = json.loads(folder.plan_seal.read_text(encoding="utf-8"))
        if not isinstance(seal, dict) or seal.get("format") != SEAL_FORMAT:
            raise ValueError(f"not a {SEAL_FORMAT} file")
        key_id, mac = str(seal["key_id"]), str(seal["hmac_sha256"])
    except FileNotFoundError:
        raise PlanError(
            f"{folder.plan_json} has no seal ({folder.plan_seal.name} is missing), so nothing shows it is the "
            "plan clone-audit wrote.",
            hint=f"{replan} If you made it and reviewed plan.json line by line, {TRUST_FLAG} applies it anyway.",
        ) from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
        raise PlanError(f"the seal {folder.plan_seal} is damaged ({exc}).", hint=replan) from None
    key = seal_key(create=False)
    if key is None or not hmac.compare_digest(key_id, _key_id(key)):
        raise PlanError(
            f"{folder.plan_json} was sealed with a plan-sealing key this user does not have ({SEAL_KEY_FILE} in "
            "clone-audit's state folder): it was made on another machine or by another user.",
            hint=f"{replan} If you made it yourself and reviewed plan.json line by line, {TRUST_FLAG} applies it.",
        )
    if not hmac.compare_digest(mac, _mac(key, folder.plan_json.read_bytes())):
        raise PlanError(
            f"the plan was edited after it was made: {folder.plan_json} no longer matches its seal. Re-plan.",
            hint=f"{replan} Never edit plan.json by hand: change the archive or the config, then plan again.",
        )


def check_archive(plan: Plan, operator_folder: str, *, trust_edits: bool) -> None:
    """Under TRUST_FLAG, refuse a plan that uploads archived recordings unless the operator's
    archive folder is the one the plan records: an edited plan could otherwise name `/` its
    archive and upload any audio file on the machine. A sealed plan's folder is `plan`'s own."""
    if not trust_edits or not any(e.upload is not None and not e.upload.fitted for e in _reclones(plan.entries)):
        return
    recorded = plan.archive_folder
    hint = (f"Pass --archive (or set [archive] folder) to the folder of the original recordings; with {TRUST_FLAG} "
            "apply uploads only from the archive you name, and the plan must have been made from it.")
    if not operator_folder:
        raise PlanError(f"{TRUST_FLAG} needs your archive folder: plan {plan.plan_id} uploads recordings from "
                        f"{recorded}, and without the seal nothing vouches for that folder.", hint=hint)
    if recorded is None or Path(operator_folder).resolve() != Path(recorded).resolve():
        raise PlanError(f"the plan uploads recordings from {recorded}, not from your archive folder "
                        f"{Path(operator_folder).resolve()}; nothing was created.", hint=hint)


def upload_paths(plan: Plan, folder: RunFolder) -> dict[str, Path]:
    """Each RECLONE voice's upload file, resolved (symlinks followed); refuses the plan when
    one leads outside the plan's own fitted/ folder or the archive folder it records."""
    fitted_root = folder.fitted.resolve()
    paths: dict[str, Path] = {}
    for entry in _reclones(plan.entries):
        upload = entry.upload
        if upload is None:
            continue  # plan_problems refuses a RECLONE without an upload
        if (shape := upload_shape_problem(upload, plan.archive_folder)) is not None:
            raise _escape(entry, f"{upload.path!r} {shape}")
        if upload.fitted:
            root, resolved = fitted_root, (folder.path / upload.path).resolve()
        else:
            assert plan.archive_folder is not None  # upload_shape_problem checked it
            root, resolved = Path(plan.archive_folder), Path(upload.path).resolve()
        if not resolved.is_relative_to(root):
            raise _escape(entry, f"{upload.path!r} leads to {resolved}, outside {root}")
        paths[entry.voice_id] = resolved
    return paths


def check_upload_bytes(entries: Iterable[PlanEntry], paths: Mapping[str, Path]) -> None:
    """Refuse the plan when a file holds the very bytes the plan vouches for (same sha256)
    but they are not audio: the plan was made from, or edited to point at, something else.
    A missing or changed file is left to apply, which fails that voice alone."""
    from audit.core.audio import sniff

    for entry in _reclones(entries):
        path = paths.get(entry.voice_id)
        if entry.upload is None or path is None:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == entry.upload.sha256 and sniff(data[:_SNIFF_BYTES]) is None:
            raise PlanError(
                f"{entry.voice_id}: its upload {path} is not audio (no audio signature in its first bytes), yet "
                "plan.json records its sha256: the plan was not made from this file. Nothing was created.",
                hint="Run `clone-audit plan` again from the real archive and review the new plan.",
            )


def upload_bytes_problem(upload: Upload, data: bytes) -> str | None:
    """Why `data` must not be uploaded for `upload` (None: it may)."""
    from audit.core.audio import sniff

    if hashlib.sha256(data).hexdigest() != upload.sha256:
        return "changed since planning (sha256 differs)"
    if sniff(data[:_SNIFF_BYTES]) is None:
        return "is not audio"
    return None


def _reclones(entries: Iterable[PlanEntry]) -> list[PlanEntry]:
    return [e for e in entries if e.action is Action.RECLONE]


def _escape(entry: PlanEntry, what: str) -> PlanError:
    return PlanError(
        f"{entry.voice_id}: its upload {what}. A plan uploads only from its own fitted/ folder and from the "
        "archive folder it was made with; nothing was created.",
        hint="Run `clone-audit plan` again and review the new plan; never edit plan.json by hand.",
    )


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, _SEAL_DOMAIN + data, hashlib.sha256).hexdigest()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(_KEY_ID_DOMAIN + key).hexdigest()[:16]
