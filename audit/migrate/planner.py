"""The planning stage: decide, per voice, what a migration would do, and forecast its cost.

Pure functions. In: the scan's verdicts, what the archive holds for the voices that
need re-cloning, and the replacement clones already on the account (found by their
marker tag, counted only when its proof verifies: `audit.core.provenance`). Out: a `Plan` with one action per voice (RECLONE, KEEP, SKIP, BLOCKED and
why), the fields of every new clone (on the pool `[plan] target_model` names), totals and a forecast. With usage numbers (calls per
voice in the scan's usage window, handed in as data) the entries are ordered most called
first (`by_usage`), so `apply --limit N` migrates the busiest voices first. Reading the archive and
writing fitted copies happen before this, in the pipeline; nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, assert_never

from audit.core.config import Settings
from audit.core.languages import PROBE_TEXTS, V31_LANGUAGES
from audit.core.models import (
    LISTED_TWICE,
    Action,
    Clone,
    CloneStatus,
    SourceCheck,
    Upload,
    Verdict,
    VoiceResult,
    marked_origin,
    marker_tag,
    tag_origin,
)
from audit.core.pools import STANDARD_MODEL
from audit.core.provenance import Markers, is_proof_tag
from audit.core.untrusted import shown
from audit.migrate.document import NewClone, Plan, PlanEntry, clone_fingerprint, inventory_fingerprint

MAX_DISPLAY_NAME = 500


def replacements(clones: Sequence[Clone], markers: Markers | None = None) -> dict[str, Clone]:
    """Old voice id → the replacement clone on the account (by its proven marker). A failed
    replacement does not count; a completed one is preferred to one still in progress."""
    markers = markers or Markers()
    found: dict[str, Clone] = {}
    for clone in clones:
        origin = markers.origin(clone)
        if origin is None or clone.status is CloneStatus.FAILED:
            continue
        current = found.get(origin)
        if current is None or (clone.status is CloneStatus.COMPLETED and current.status is not CloneStatus.COMPLETED):
            found[origin] = clone
    return found


def needs_source(result: VoiceResult, existing: Mapping[str, Clone], markers: Markers | None = None) -> bool:
    """Whether the plan must look for this voice's recording: it would be re-cloned."""
    markers = markers or Markers()
    return (
        result.verdict is Verdict.NON_COMPLIANT
        and markers.origin(result.clone) is None
        and result.clone.voice_id not in existing
        and not markers.unproven_claims(result.clone.voice_id)
    )


def build_plan(
    results: Sequence[VoiceResult],
    sources: Mapping[str, SourceCheck],
    uploads: Mapping[str, Upload],
    settings: Settings,
    *,
    plan_id: str,
    now: datetime,
    base_url: str,
    parameters: Mapping[str, Any] | None = None,
    manifest: Mapping[str, Mapping[str, str]] | None = None,
    markers: Markers | None = None,
    archive_folder: str | None = None,
    usage: Mapping[str, int] | None = None,
) -> Plan:
    """`manifest`: per voice id, the archive manifest's language and display_name, used
    where the clone's own metadata has none. `markers`: which listed clones are proven
    replacements (none by default). `archive_folder`: the resolved archive folder, the only
    place besides the plan's own fitted/ folder that apply will upload from. `usage`: TTS
    calls per voice id in the scan's usage window; given, each entry carries its calls
    (None where not known) and the entries go most called first."""
    clones = [r.clone for r in results]
    markers = markers or Markers()
    existing = replacements(clones, markers)
    twice = {c.voice_id for c in clones if c.listed_twice}
    hints = manifest or {}
    entries = tuple(
        _listed_twice(r) if r.clone.voice_id in twice
        else _entry(r, existing, markers, sources, uploads, hints.get(r.clone.voice_id, {}), settings.plan.target_model)
        for r in _first_of_each_id(results)
    )
    if usage is not None:
        entries = by_usage(tuple(replace(e, recent_calls=usage.get(e.voice_id)) for e in entries))
    return Plan(
        plan_id=plan_id,
        created_at=now,
        expires_at=now + timedelta(hours=settings.plan.expiry_hours),
        expiry_hours=settings.plan.expiry_hours,
        archive_folder=archive_folder,
        base_url=base_url,
        inventory_fingerprint=inventory_fingerprint(c for c in clones if marked_origin(c) is None),
        entries=entries,
        forecast=forecast(entries, len(clones), settings),
        parameters=parameters or {},
    )


def _first_of_each_id(results: Sequence[VoiceResult]) -> list[VoiceResult]:
    """One result per voice id, the first the list gave: a plan names each voice once."""
    first: dict[str, VoiceResult] = {}
    for r in results:
        first.setdefault(r.clone.voice_id, r)
    return list(first.values())


def _listed_twice(result: VoiceResult) -> PlanEntry:
    """A voiceId the list named more than once: which entry is right is unknown, so it is blocked."""
    clone = result.clone
    return PlanEntry(
        voice_id=clone.voice_id, display_name=clone.display_name, verdict=result.verdict.value,
        probe_verdict=result.probe.verdict.value, fingerprint=clone_fingerprint(clone), action=Action.BLOCKED,
        reason=f"{LISTED_TWICE}: the clone list names this voiceId in more than one entry, so which one is "
        "right is unknown and it is not re-cloned; ask support to fix the list, then plan again",
    )


def by_usage(entries: Sequence[PlanEntry]) -> tuple[PlanEntry, ...]:
    """The entries most called first (a voice without a known count as 0); otherwise in the
    order given. Apply takes RECLONE entries in plan order, so `--limit N` takes the busiest."""
    return tuple(sorted(entries, key=lambda e: -(e.recent_calls or 0)))


def _entry(
    result: VoiceResult,
    existing: Mapping[str, Clone],
    markers: Markers,
    sources: Mapping[str, SourceCheck],
    uploads: Mapping[str, Upload],
    manifest: Mapping[str, str],
    target_model: str,
) -> PlanEntry:
    clone = result.clone
    base: dict[str, Any] = {
        "voice_id": clone.voice_id,
        "display_name": clone.display_name,
        "verdict": result.verdict.value,
        "probe_verdict": result.probe.verdict.value,
        "fingerprint": clone_fingerprint(clone),
    }
    origin = markers.origin(clone)
    if origin is not None:
        note = "works on v3.1" if result.verdict is Verdict.COMPLIANT else result.reason
        return PlanEntry(**base, action=Action.SKIP, reason=f"replacement clone of {origin}: {note}")
    if clone.voice_id in existing:
        new = existing[clone.voice_id]
        return PlanEntry(
            **base, action=Action.SKIP, replacement=new.voice_id,
            reason=f"already re-cloned as {new.voice_id} (status {new.raw_status or 'absent'})",
        )
    claims = markers.unproven_claims(clone.voice_id)
    if claims and result.verdict is Verdict.NON_COMPLIANT:
        return PlanEntry(
            **base, action=Action.BLOCKED,
            reason=f"unverified-marker: {', '.join(map(shown, claims))} carries a migrated-from marker for this voice that "
            "clone-audit cannot verify (made by someone else, or with another API key); re-cloning could "
            "duplicate it. Check it; if it is not this voice's replacement, delete it and plan again",
        )
    match result.verdict:
        case Verdict.COMPLIANT:
            return PlanEntry(**base, action=Action.KEEP, reason=result.reason)
        case Verdict.UNKNOWN | Verdict.MIGRATED | Verdict.EXCEPTED:
            return PlanEntry(**base, action=Action.SKIP, reason=result.reason)
        case Verdict.NON_COMPLIANT:
            pass
        case _ as unreachable:
            assert_never(unreachable)
    source = sources.get(clone.voice_id)
    if source is None or source.problem is not None:
        detail = source.detail if source is not None else "no archive is configured ([archive] folder)"
        problem = source.problem.value if source is not None and source.problem else "missing"
        return PlanEntry(**base, action=Action.BLOCKED, reason=f"{problem}: {detail}", source=source)
    upload = uploads[clone.voice_id]
    new_clone = new_clone_fields(clone, manifest, target_model)
    fitted = f"; uploads a fitted copy ({source.fit.reason})" if source.fit else ""
    language = "" if new_clone.language else "; language unknown, the new clone gets none"
    return PlanEntry(
        **base, action=Action.RECLONE, source=source, upload=upload, new_clone=new_clone,
        reason=f"{result.reason} → re-clone from {source.path} onto {target_model}{fitted}{language}",
    )


def new_clone_fields(clone: Clone, manifest: Mapping[str, str], model: str = STANDARD_MODEL) -> NewClone:
    """The replacement keeps the old clone's name, language and labels, plus the marker, and
    goes to the pool of `model`; the archive manifest fills in a name or language the clone lacks."""
    name = (clone.display_name.strip() or manifest.get("display_name", "").strip())[:MAX_DISPLAY_NAME]
    language = next((lang for lang in (clone.language, manifest.get("language")) if lang in V31_LANGUAGES), None)
    # Tags travel as one comma-separated string on create: a comma inside a tag would split it.
    kept = [t.replace(",", " ").strip() for t in clone.tags if tag_origin(t) is None and not is_proof_tag(t)]
    tags = tuple(t for t in kept if t) + (marker_tag(clone.voice_id),)
    return NewClone(
        display_name=name or clone.voice_id, language=language, description=clone.description,
        accent=clone.accent, tags=tags, model=model,
    )


def forecast(entries: Sequence[PlanEntry], clones_now: int, settings: Settings) -> dict[str, Any]:
    """What applying the plan would cost: calls, TTS characters, clones, time."""
    reclones = [e for e in entries if e.action is Action.RECLONE]
    n = len(reclones)
    concurrency = settings.api.concurrency or 1  # 0: found while applying; the default plan's 1 until then
    seconds = math.ceil(n / concurrency) * settings.plan.create_estimate_s if n else 0.0
    quota = settings.plan.clone_quota or None
    probe_chars = sum(
        len(settings.probe.texts.get(lang) or PROBE_TEXTS[lang])
        for lang in ((e.new_clone.language if e.new_clone else None) or "en" for e in reclones)
    )
    return {
        "reclones": n,
        "target_model": settings.plan.target_model,
        "api_calls": {
            "create": n,
            "verify_tts": n,
            "list": 1 + (math.ceil(seconds / settings.apply.poll_interval_s) if n else 0),
        },
        "tts_characters": probe_chars,
        "upload_bytes": sum(e.upload.n_bytes for e in reclones if e.upload),
        "fitted_copies": sum(1 for e in reclones if e.upload and e.upload.fitted),
        "clones_now": clones_now,
        "clones_after": clones_now + n,
        "clone_quota": quota,
        "within_quota": None if quota is None else clones_now + n <= quota,
        "concurrency": concurrency,
        "estimated_seconds": round(seconds, 1),
    }
