"""The scan stage: classify every clone and decide its overall verdict.

Owns the rules that turn a clone's metadata (`modelIds`, `status`) and its probe result
into a verdict with a reason a person can act on, the rule that makes a voice `migrated`
(only on a proven replacement marker), and the rule that turns a set of verdicts into an
exit code. Pure functions: no I/O, no client.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import assert_never

from audit.core.errors import ExitCode
from audit.core.models import (
    LEGACY_MODEL_ID,
    LISTED_TWICE,
    V31_MODEL_IDS,
    Clone,
    CloneStatus,
    Compatibility,
    FailOn,
    ProbePolicy,
    ProbeResult,
    ProbeVerdict,
    Verdict,
    VoiceResult,
    marked_origin,
)
from audit.core.provenance import Markers

#: What a `migrated` verdict rests on: the replacement's marker and its verified proof tag.
MARKER_PROOF = "marker+proof"


def classify(clone: Clone) -> Compatibility:
    """What the metadata claims: v3.1, legacy-only, or unknown (empty, absent, odd)."""
    models = clone.model_ids or ()
    if any(m in V31_MODEL_IDS for m in models):
        return Compatibility.V31
    if models and all(m == LEGACY_MODEL_ID for m in models):
        return Compatibility.LEGACY_ONLY
    return Compatibility.UNKNOWN


def should_probe(clone: Clone, compatibility: Compatibility, policy: ProbePolicy) -> bool:
    """A failed clone cannot speak and one still in progress cannot be judged yet; an
    unreadable list entry has no voice id to probe."""
    if clone.unreadable is not None or clone.listed_twice:
        return False
    if clone.status in (CloneStatus.FAILED, CloneStatus.PENDING, CloneStatus.PROCESSING):
        return False
    match policy:
        case ProbePolicy.ALL:
            return True
        case ProbePolicy.LEGACY:  # and replacements: only a probe proves a migration
            return compatibility is not Compatibility.V31 or marked_origin(clone) is not None
        case ProbePolicy.NONE:
            return False
        case _ as unreachable:
            assert_never(unreachable)


def _models_text(clone: Clone) -> str:
    if clone.model_ids is None:
        return next((note for note in clone.odd if note.startswith("modelIds")), "no modelIds field")
    return "modelIds " + (", ".join(clone.model_ids) if clone.model_ids else "empty")


def decide(clone: Clone, compatibility: Compatibility, probe: ProbeResult) -> VoiceResult:
    verdict, reason = _decide(clone, compatibility, probe)
    return VoiceResult(clone, compatibility, probe, verdict, reason)


def _decide(clone: Clone, compatibility: Compatibility, probe: ProbeResult) -> tuple[Verdict, str]:
    if clone.unreadable is not None:
        return Verdict.UNKNOWN, (
            f"the clone list holds an entry that could not be read ({clone.unreadable}): "
            "a voice may be missing from this report; check the account in the dashboard"
        )
    if clone.listed_twice:
        return Verdict.UNKNOWN, (
            f"{LISTED_TWICE}: this is a later entry of the same voiceId, not probed; which entry is "
            "right is unknown, so the voice is not re-cloned (ask support to fix the list)"
        )
    if clone.status is CloneStatus.FAILED:
        return Verdict.NON_COMPLIANT, "the clone failed on the account; re-clone it from its recording"
    if clone.status in (CloneStatus.PENDING, CloneStatus.PROCESSING):
        return Verdict.UNKNOWN, f"the clone is still {clone.status.value}; scan again once it completes"
    match probe.verdict:
        case ProbeVerdict.SPEAKS:
            note = "" if compatibility is Compatibility.V31 else f" although its {_models_text(clone)}"
            return Verdict.COMPLIANT, f"speaks on {probe.model or 'v3.1'}{note}: {probe.reason}"
        case ProbeVerdict.SHORT_WAV | ProbeVerdict.SILENT:
            note = " (metadata claims v3.1)" if compatibility is Compatibility.V31 else ""
            heard = f" on {probe.model}" if probe.model else ""
            return Verdict.NON_COMPLIANT, f"{probe.reason}{heard}{note}"
        case ProbeVerdict.ERROR:
            return Verdict.UNKNOWN, f"could not be checked: {probe.reason}"
        case ProbeVerdict.NOT_PROBED:
            return _decide_from_metadata(clone, compatibility)
        case _ as unreachable:
            assert_never(unreachable)


def _decide_from_metadata(clone: Clone, compatibility: Compatibility) -> tuple[Verdict, str]:
    if clone.status_undocumented and compatibility is not Compatibility.LEGACY_ONLY:
        note = next(n for n in clone.odd if n.startswith("status "))
        return Verdict.UNKNOWN, f"{note} and not probed: probe it to know"
    match compatibility:
        case Compatibility.V31:
            return Verdict.COMPLIANT, f"{_models_text(clone)} (metadata only, not probed)"
        case Compatibility.LEGACY_ONLY:
            return Verdict.NON_COMPLIANT, "modelIds lists only lightning-large (metadata only, not probed)"
        case Compatibility.UNKNOWN:
            return Verdict.UNKNOWN, f"{_models_text(clone)} and not probed: probe it to know"
        case _ as unreachable:
            assert_never(unreachable)


def exit_code(results: Iterable[VoiceResult], fail_on: FailOn, accepted: Collection[str] = ()) -> ExitCode:
    """4 when some voice could not be checked (a probe error, an unreadable list entry),
    else 1 on findings per `fail_on`, else 0. An `excepted` voice (active waiver) counts
    neither as non-compliant nor as unknown. With `fail_on` new, a non-compliant voice in
    `accepted` (non-compliant in the baseline scan) does not count either."""
    results = [r for r in results if r.verdict is not Verdict.EXCEPTED]  # a waiver takes a voice out
    if any(r.probe.verdict is ProbeVerdict.ERROR or r.clone.unreadable is not None or r.clone.listed_twice
           for r in results):
        return ExitCode.PARTIAL
    match fail_on:
        case FailOn.NON_COMPLIANT:
            flagged = {Verdict.NON_COMPLIANT}
        case FailOn.UNKNOWN:
            flagged = {Verdict.NON_COMPLIANT, Verdict.UNKNOWN}
        case FailOn.NEVER:
            flagged = set()
        case FailOn.NEW:
            flagged = {Verdict.NON_COMPLIANT}
            results = [r for r in results if r.clone.voice_id not in accepted]
        case _ as unreachable:
            assert_never(unreachable)
    return ExitCode.FINDINGS if any(r.verdict in flagged for r in results) else ExitCode.OK


def mark_migrated(
    results: Sequence[VoiceResult], markers: Markers | None = None, mismatched: Mapping[str, str] | None = None,
) -> tuple[VoiceResult, ...]:
    """A non-compliant voice whose replacement was heard speaking is `migrated`, when the
    replacement's marker is proven to be clone-audit's own (`markers`; none by default)
    and no migration found that replacement to speak as someone else (`mismatched`: old
    voice id → new id of a fidelity mismatch nobody accepted).

    A marker without a valid proof is evidence, not proof: it changes no verdict, and
    both the clone carrying it and the voice it names say so in their reason.
    """
    markers = markers or Markers()
    speaking = {
        origin: r.clone.voice_id
        for r in results
        if (origin := markers.origin(r.clone)) is not None and r.probe.verdict is ProbeVerdict.SPEAKS
    }
    return tuple(_with_markers(r, speaking, markers, mismatched or {}) for r in results)


def _with_markers(
    result: VoiceResult, speaking: dict[str, str], markers: Markers, mismatched: Mapping[str, str]
) -> VoiceResult:
    voice_id = result.clone.voice_id
    replaced = result.verdict is Verdict.NON_COMPLIANT and voice_id in speaking
    if replaced and mismatched.get(voice_id) == speaking[voice_id]:
        return replace(result, reason=f"replaced by {speaking[voice_id]}, which speaks, but not as its source "
                       f"(fidelity mismatch): listen to both, then `clone-audit review`; {result.reason}")
    if replaced:
        return replace(result, verdict=Verdict.MIGRATED, evidence=MARKER_PROOF,
                       reason=f"replaced by {speaking[voice_id]}, which speaks; {result.reason}")
    notes = []
    if (claimed := markers.claimed(result.clone)) is not None:
        notes.append(f"carries a migrated-from marker for {claimed} the tool cannot verify")
    if claims := markers.unproven_claims(voice_id):
        notes.append(f"{', '.join(claims)} carries a migrated-from marker for it that the tool cannot verify")
    return replace(result, reason="; ".join([result.reason, *notes])) if notes else result
