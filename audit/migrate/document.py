"""The plan as data: its types and its JSON file format (`clone-audit-plan/2`).

A plan is what `plan` decides and `apply` executes, so both stages depend on this
module and on nothing of each other. Owns the types, their (de)serialisation, the
fingerprints that let apply see whether the account changed since planning, and the
checks that refuse a stale or malformed plan file from its content alone. What needs
the disk or a key (the seal, where uploads lead) is `audit.migrate.trust`.

Format 2 adds `expiry_hours` (so a moved expiry shows) and `archive_folder` (the only
place besides the plan's own `fitted/` that apply uploads from); a fitted upload's path
is relative to the plan's folder. Format 1 plans are refused: plan again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from audit.core.errors import UsageError
from audit.core.models import MARKER_PREFIX, Action, Clone, FitWindow, SourceCheck, SourceProblem, Upload, marker_tag
from audit.core.pools import CLONE_MODELS, STANDARD_MODEL
from audit.core.provenance import is_proof_tag

FORMAT = "clone-audit-plan/2"
#: Slack allowed between expires_at and created_at + expiry_hours (rounding of the ISO times).
EXPIRY_SLACK = timedelta(seconds=1)


class PlanError(UsageError):
    default_hint = "Run `clone-audit plan` again and review the new plan."


@dataclass(frozen=True, slots=True)
class NewClone:
    """The fields of the replacement clone, marker tag included."""

    display_name: str
    language: str | None
    description: str | None
    accent: str | None
    tags: tuple[str, ...]
    model: str = STANDARD_MODEL  # the pool it is created on (hyphen form): `[plan] target_model`


@dataclass(frozen=True, slots=True)
class PlanEntry:
    voice_id: str
    display_name: str
    verdict: str
    probe_verdict: str
    action: Action
    reason: str
    fingerprint: str  # of the clone as planned; apply refuses the plan if it changed
    source: SourceCheck | None = None
    upload: Upload | None = None
    new_clone: NewClone | None = None
    replacement: str | None = None  # an existing replacement's voice id (SKIP)
    recent_calls: int | None = None  # TTS calls in the scan's usage window; None: not known


@dataclass(frozen=True, slots=True)
class Plan:
    plan_id: str
    created_at: datetime
    expires_at: datetime
    base_url: str
    inventory_fingerprint: str
    entries: tuple[PlanEntry, ...]
    forecast: Mapping[str, Any]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    expiry_hours: float | None = None  # expires_at must be created_at + this
    archive_folder: str | None = None  # resolved, absolute; None: no archive was configured

    def totals(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for entry in self.entries:
            counts[entry.action.value] += 1
        return counts

    def to_json(self) -> str:
        document = {
            "format": FORMAT,
            "plan_id": self.plan_id,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "expiry_hours": self.expiry_hours,
            "archive_folder": self.archive_folder,
            "base_url": self.base_url,
            "inventory_fingerprint": self.inventory_fingerprint,
            "totals": self.totals(),
            "forecast": dict(self.forecast),
            "parameters": dict(self.parameters),
            "entries": [_entry_json(e) for e in self.entries],
        }
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def clone_fingerprint(clone: Clone) -> str:
    """What must not change between plan and apply for a planned voice."""
    basis = [clone.voice_id, clone.display_name, list(clone.model_ids or ()), clone.model_ids is None,
             clone.raw_status, clone.language]
    return hashlib.sha256(json.dumps(basis, ensure_ascii=False).encode()).hexdigest()[:16]


def inventory_fingerprint(clones: Iterable[Clone]) -> str:
    digest = hashlib.sha256()
    for fingerprint in sorted(clone_fingerprint(c) for c in clones):
        digest.update(fingerprint.encode())
    return digest.hexdigest()[:16]


def same_account(plan: Plan, base_url: str) -> None:
    """PlanError unless `base_url` is the API the plan was made for (apply and retire act only there)."""
    if plan.base_url.rstrip("/") != base_url.rstrip("/"):
        raise PlanError(
            f"the plan was made for {plan.base_url}, but this run points at {base_url}.",
            hint="Use the plan with the account it was made for (--base-url / SMALLEST_BASE_URL).",
        )


def stale_reasons(plan: Plan, clones: Sequence[Clone], finished: Collection[str] = ()) -> list[str]:
    """Why this plan must not be applied to the account as it is now (empty: it may).

    Voices in `finished` (verified replacements) may have changed or been retired since.
    Expiry is the caller's business: an expired plan may still finish what it started.
    """
    reasons: list[str] = []
    current = {c.voice_id: c for c in clones}
    for entry in plan.entries:
        if entry.action is not Action.RECLONE or entry.voice_id in finished:
            continue
        clone = current.get(entry.voice_id)
        if clone is None:
            reasons.append(f"{entry.voice_id} ({entry.display_name!r}) is no longer on the account")
        elif clone_fingerprint(clone) != entry.fingerprint:
            reasons.append(f"{entry.voice_id} ({entry.display_name!r}) changed since planning")
    return reasons


def read_plan(path: Path) -> Plan:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(f"plan file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"plan file {path} cannot be read: {exc}") from None
    if not isinstance(document, dict) or not str(document.get("format", "")).startswith("clone-audit-plan/"):
        raise PlanError(f"{path} is not a clone-audit plan ({FORMAT}).")
    if document["format"] != FORMAT:
        raise PlanError(f"{path} is a {document['format']} plan; this version applies {FORMAT} only.")
    try:
        plan = Plan(
            plan_id=document["plan_id"],
            created_at=datetime.fromisoformat(document["created_at"]),
            expires_at=datetime.fromisoformat(document["expires_at"]),
            expiry_hours=document["expiry_hours"],
            archive_folder=document["archive_folder"],
            base_url=document["base_url"],
            inventory_fingerprint=document["inventory_fingerprint"],
            entries=tuple(_entry_from(e) for e in document["entries"]),
            forecast=document.get("forecast", {}),
            parameters=document.get("parameters", {}),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanError(f"plan file {path} is damaged: {type(exc).__name__} {exc}") from None
    if problems := plan_problems(plan):
        raise PlanError(f"plan file {path} is damaged: " + "; ".join(problems[:5]))
    return plan


def plan_problems(plan: Plan) -> list[str]:
    """What makes a plan unsafe to apply: everything apply relies on, checked up front."""
    problems: list[str] = []
    if not isinstance(plan.base_url, str) or not plan.base_url.startswith(("http://", "https://")):
        problems.append(f"base_url {plan.base_url!r} is not a URL")
    if plan.created_at.tzinfo is None or plan.expires_at.tzinfo is None:
        problems.append("created_at and expires_at must carry a time zone")
    elif not isinstance(plan.expiry_hours, int | float) or isinstance(plan.expiry_hours, bool):
        problems.append(f"expiry_hours {plan.expiry_hours!r} is not a number")
    elif plan.expires_at > plan.created_at + timedelta(hours=plan.expiry_hours) + EXPIRY_SLACK:
        problems.append(
            f"expires_at {plan.expires_at.isoformat()} is later than created_at + expiry_hours "
            f"({(plan.created_at + timedelta(hours=plan.expiry_hours)).isoformat()}): the expiry was moved"
        )
    if plan.archive_folder is not None and (
        not isinstance(plan.archive_folder, str) or not PurePosixPath(plan.archive_folder).is_absolute()
    ):
        problems.append(f"archive_folder {plan.archive_folder!r} is not an absolute path")
    seen: set[str] = set()
    for entry in plan.entries:
        if entry.voice_id in seen:
            problems.append(f"{entry.voice_id} is listed twice")
        seen.add(entry.voice_id)
        if entry.action is not Action.RECLONE:
            continue
        if entry.upload is None or entry.new_clone is None:
            problems.append(f"{entry.voice_id} is RECLONE without an upload and new clone fields")
            continue
        if entry.new_clone.model not in CLONE_MODELS:
            problems.append(f"{entry.voice_id}'s new clone model {entry.new_clone.model!r} is not "
                            f"{' or '.join(CLONE_MODELS)}")
        if any(is_proof_tag(t) for t in entry.new_clone.tags if isinstance(t, str)):
            problems.append(f"{entry.voice_id}'s new clone tags hold a proof tag: only apply adds one")
        if not all(isinstance(t, str) for t in entry.new_clone.tags) or (
            [t for t in entry.new_clone.tags if t.startswith(MARKER_PREFIX)] != [marker_tag(entry.voice_id)]
        ):
            problems.append(f"{entry.voice_id}'s new clone must carry exactly the tag {marker_tag(entry.voice_id)}")
    return problems


def upload_shape_problem(upload: Upload, archive_folder: str | None) -> str | None:
    """What is wrong with where an upload says it lives, from the path text alone, before
    apply resolves it on disk (`audit.migrate.trust.upload_paths`). None: nothing."""
    if not isinstance(upload.path, str) or not upload.path or "\x00" in upload.path:
        return "is not a path"
    path = PurePosixPath(upload.path)
    if ".." in path.parts:
        return "climbs out of its folder (..)"
    if upload.fitted:
        if path.is_absolute() or path.parts[:1] != ("fitted",) or len(path.parts) != 2:
            return "is not a file in the plan's own fitted/ folder"
        return None
    if archive_folder is None:
        return "is an archived file, but the plan records no archive folder"
    if not path.is_absolute() or not path.is_relative_to(archive_folder):
        return f"is outside the plan's archive folder {archive_folder}"
    return None


def _entry_json(entry: PlanEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["action"] = entry.action.value
    if entry.source is not None and entry.source.problem is not None:
        data["source"]["problem"] = entry.source.problem.value
    return data


def _entry_from(data: Mapping[str, Any]) -> PlanEntry:
    source = data.get("source")
    upload = data.get("upload")
    new_clone = data.get("new_clone")
    return PlanEntry(
        voice_id=data["voice_id"],
        display_name=data["display_name"],
        verdict=data["verdict"],
        probe_verdict=data["probe_verdict"],
        action=Action(data["action"]),
        reason=data["reason"],
        fingerprint=data["fingerprint"],
        source=_source_from(source) if source else None,
        upload=Upload(**upload) if upload else None,
        new_clone=NewClone(**{**new_clone, "tags": _tags(new_clone["tags"])}) if new_clone else None,
        replacement=data.get("replacement"),
        recent_calls=_count(data.get("recent_calls")),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError("new_clone.tags must be a list")
    return tuple(value)


def _source_from(data: Mapping[str, Any]) -> SourceCheck:
    fit = data.get("fit")
    problem = data.get("problem")
    return SourceCheck(
        **{
            **data,
            "problem": SourceProblem(problem) if problem else None,
            "fit": FitWindow(**fit) if fit else None,
        }
    )
