"""A cutover's findings as SARIF 2.1.0, the format code-scanning tools read (GitHub, GitLab, IDEs).

Owns `sarif_log(...)`: one result per occurrence of an old voice id left in the files, its
file as a URI relative to the repository root (`uriBaseId` SRCROOT, whose absolute URI is in
`originalUriBaseIds`; a file outside that root gets its absolute `file:` URI), its region
(line and columns from 1, counted in Unicode code points: `columnKind` says so), and one rule
per kind: an old id whose replacement is ready (level error, the new id in the message and a
fix that replaces it), and an old id whose mapping row is not ready (level warning, with why).
`partialFingerprints` hash the file, the id and the text around it, never the line number, so
a finding keeps its identity across runs while lines move. The invocation carries the exit
code, and each file that could not be read is a notification. Pure: results in, a dict out.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from audit.cutover.scanner import Occurrence
from audit.cutover.walk import Skipped

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
VERSION = "2.1.0"
ROOT_ID = "SRCROOT"
READY_RULE = "old-voice-id"
NOT_READY_RULE = "old-voice-id-not-ready"
FINGERPRINT = "oldVoiceIdContext/v1"

_RULES: tuple[dict[str, Any], ...] = (
    {
        "id": READY_RULE,
        "name": "OldVoiceIdWithReadyReplacement",
        "shortDescription": {"text": "A legacy voice id whose verified replacement is ready."},
        "fullDescription": {"text": "This file still uses a voice id that a clone-audit migration re-cloned; "
                            "the replacement was heard speaking on lightning-v3.1 and may take its place."},
        "help": {
            "text": "Replace the old voice id with the new one named in the result (the result carries the fix). "
                    "`clone-audit cutover MAPPING PATH --write` rewrites every such file and keeps a rollback "
                    "file; `--patch FILE` writes the change for `git apply` instead.",
            "markdown": "Replace the old voice id with the new one named in the result.\n\n"
                        "`clone-audit cutover MAPPING PATH --write` rewrites every such file and keeps a rollback "
                        "file; `--patch FILE` writes the change for `git apply` instead.",
        },
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["voice-id", "migration"]},
    },
    {
        "id": NOT_READY_RULE,
        "name": "OldVoiceIdWithoutReadyReplacement",
        "shortDescription": {"text": "A legacy voice id whose replacement is not ready yet."},
        "fullDescription": {"text": "This file uses a voice id of the migration mapping whose row is not ready "
                            "(not re-cloned yet, failed, or a replacement that does not sound like its source)."},
        "help": {
            "text": "Leave the id in place for now: the result says why its replacement is not ready. Finish the "
                    "migration (`clone-audit apply`, `clone-audit review`) and run the cutover again.",
            "markdown": "Leave the id in place for now: the result says why its replacement is not ready.\n\n"
                        "Finish the migration (`clone-audit apply`, `clone-audit review`) and run the cutover "
                        "again.",
        },
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["voice-id", "migration"]},
    },
)


def file_uri(path: Path) -> str:
    """An absolute `file:` URI, each byte of the name outside the unreserved set %-escaped
    (an undecodable byte of a file name is kept as its own byte)."""
    return "file://" + quote(os.fsencode(Path(os.path.abspath(path)).as_posix()), safe="/")


def location(path: Path, root: Path) -> dict[str, Any]:
    """The artifactLocation of `path`: relative to `root` (SRCROOT) when inside it, else absolute."""
    if path.is_relative_to(root):
        return {"uri": quote(os.fsencode(path.relative_to(root).as_posix()), safe="/"), "uriBaseId": ROOT_ID}
    return {"uri": file_uri(path)}


def sarif_log(
    remaining: Sequence[Occurrence], unchecked: Sequence[Skipped], root: Path, *, version: str,
    information_uri: str | None, exit_code: int, started: datetime, finished: datetime,
) -> dict[str, Any]:
    """The SARIF log of one cutover: `remaining` (the occurrences left in the files) as
    results, `unchecked` files as notifications, `root` the repository root the URIs are
    relative to."""
    driver: dict[str, Any] = {"name": "clone-audit", "version": version, "semanticVersion": version,
                              "rules": list(_RULES)}
    if information_uri:
        driver["informationUri"] = information_uri
    seen: Counter[str] = Counter()
    results = [_result(o, root, seen) for o in remaining]
    invocation = {
        "executionSuccessful": exit_code in (0, 1),
        "exitCode": exit_code,
        "exitCodeDescription": _EXIT.get(exit_code, "the run failed"),
        "startTimeUtc": _utc(started),
        "endTimeUtc": _utc(finished),
        "toolExecutionNotifications": [
            {"level": "warning", "message": {"text": f"not checked: {s.reason}"},
             "locations": [{"physicalLocation": {"artifactLocation": location(s.path, root)}}]}
            for s in unchecked
        ],
    }
    root_uri = file_uri(root).rstrip("/") + "/"
    return {
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [{
            "tool": {"driver": driver},
            "originalUriBaseIds": {ROOT_ID: {"uri": root_uri,
                                             "description": {"text": "The root of the scanned repository."}}},
            "columnKind": "unicodeCodePoints",
            "invocations": [invocation],
            "results": results,
        }],
    }


_EXIT: Mapping[int, str] = {
    0: "no old voice id left",
    1: "old voice ids left in the files",
    4: "some files could not be checked",
}


def _result(occ: Occurrence, root: Path, seen: Counter[str]) -> dict[str, Any]:
    name = f" ({occ.display_name})" if occ.display_name else ""
    where = location(occ.path, root)
    region = {"startLine": occ.line, "startColumn": occ.column, "endColumn": occ.column + len(occ.old_voice_id)}
    key = "\0".join((where["uri"], occ.old_voice_id, occ.context.strip()))
    seen[key] += 1  # the same id twice in the same context: told apart by their order
    fingerprint = hashlib.sha256(f"{key}\0{seen[key]}".encode("utf-8", "surrogateescape")).hexdigest()
    result: dict[str, Any] = {
        "ruleId": READY_RULE if occ.ready else NOT_READY_RULE,
        "ruleIndex": 0 if occ.ready else 1,
        "level": "error" if occ.ready else "warning",
        "locations": [{"physicalLocation": {"artifactLocation": where, "region": region}}],
        "partialFingerprints": {FINGERPRINT: fingerprint},
        "properties": {"oldVoiceId": occ.old_voice_id, "newVoiceId": occ.new_voice_id,
                       "displayName": occ.display_name},
    }
    if occ.ready:
        result["message"] = {"text": f"Old voice id {occ.old_voice_id}{name}: replace it with {occ.new_voice_id}, "
                                     "its verified replacement."}
        result["fixes"] = [{
            "description": {"text": f"Replace {occ.old_voice_id} with {occ.new_voice_id}"},
            "artifactChanges": [{"artifactLocation": where, "replacements": [
                {"deletedRegion": region, "insertedContent": {"text": str(occ.new_voice_id)}}]}],
        }]
    else:
        result["message"] = {"text": f"Old voice id {occ.old_voice_id}{name} is still used, and its replacement "
                                     f"is not ready: {occ.why_not}."}
    return result


def _utc(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
