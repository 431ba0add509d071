"""Metadata classification, verdict rules and exit codes (pure functions)."""

from __future__ import annotations

import pytest

from audit.api.wire import parse_clone_list
from audit.core.errors import ExitCode
from audit.core.models import (
    Clone,
    CloneStatus,
    Compatibility,
    FailOn,
    ProbePolicy,
    ProbeResult,
    ProbeVerdict,
    Verdict,
)
from audit.scan.rules import classify, decide, exit_code, should_probe

SPEAKS = ProbeResult(ProbeVerdict.SPEAKS, "1.20 s of speech")
SHORT = ProbeResult(ProbeVerdict.SHORT_WAV, "HTTP 200 but only 144 bytes")
SILENT = ProbeResult(ProbeVerdict.SILENT, "2.00 s of audio without speech")
ERROR = ProbeResult(ProbeVerdict.ERROR, "POST /waves/v1/tts answered 500", http_status=500)
NOT_PROBED = ProbeResult(ProbeVerdict.NOT_PROBED)


def clone(model_ids: tuple[str, ...] | None = ("lightning-v3.1",), status: CloneStatus = CloneStatus.COMPLETED) -> Clone:
    return Clone(voice_id="voice_abcdefghij", model_ids=model_ids, status=status)


@pytest.mark.parametrize(
    ("model_ids", "expected"),
    [
        (("lightning-v3.1",), Compatibility.V31),
        (("lightning-v3.1-pro",), Compatibility.V31),
        (("lightning-large", "lightning-v3.1"), Compatibility.V31),
        (("lightning-large",), Compatibility.LEGACY_ONLY),
        (("lightning-large", "lightning-large"), Compatibility.LEGACY_ONLY),
        ((), Compatibility.UNKNOWN),
        (None, Compatibility.UNKNOWN),
        (("lightning-v2",), Compatibility.UNKNOWN),
        (("lightning_v3.1",), Compatibility.UNKNOWN),  # underscore form is TTS's, not modelIds'
    ],
)
def test_classify_by_model_ids(model_ids: tuple[str, ...] | None, expected: Compatibility) -> None:
    assert classify(clone(model_ids)) is expected


@pytest.mark.parametrize(
    ("model_ids", "probe", "verdict"),
    [
        (("lightning-v3.1",), SPEAKS, Verdict.COMPLIANT),
        (("lightning-large",), SPEAKS, Verdict.COMPLIANT),  # metadata can be wrong either way
        (("lightning-v3.1",), SHORT, Verdict.NON_COMPLIANT),  # metadata lies: the probe wins
        (("lightning-large",), SHORT, Verdict.NON_COMPLIANT),
        (("lightning-v3.1",), SILENT, Verdict.NON_COMPLIANT),
        (("lightning-v3.1",), ERROR, Verdict.UNKNOWN),  # never counted as compliant
        (("lightning-v3.1",), NOT_PROBED, Verdict.COMPLIANT),
        (("lightning-large",), NOT_PROBED, Verdict.NON_COMPLIANT),
        (None, NOT_PROBED, Verdict.UNKNOWN),
        ((), NOT_PROBED, Verdict.UNKNOWN),
    ],
)
def test_verdict_from_metadata_and_probe(model_ids, probe, verdict) -> None:
    c = clone(model_ids)
    assert decide(c, classify(c), probe).verdict is verdict


def test_a_lying_v31_clone_says_so_in_its_reason() -> None:
    c = clone(("lightning-v3.1",))
    assert "metadata claims v3.1" in decide(c, classify(c), SHORT).reason


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(CloneStatus.FAILED, Verdict.NON_COMPLIANT), (CloneStatus.PENDING, Verdict.UNKNOWN),
     (CloneStatus.PROCESSING, Verdict.UNKNOWN)],
)
def test_unfinished_and_failed_clones_are_not_probed(status: CloneStatus, verdict: Verdict) -> None:
    c = clone(status=status)
    assert not should_probe(c, classify(c), ProbePolicy.ALL)
    assert decide(c, classify(c), NOT_PROBED).verdict is verdict


def test_probe_policies() -> None:
    v31, legacy, odd = clone(("lightning-v3.1",)), clone(("lightning-large",)), clone(None)
    missing_status = clone(status=CloneStatus.MISSING)
    assert all(should_probe(c, classify(c), ProbePolicy.ALL) for c in (v31, legacy, odd, missing_status))
    assert [should_probe(c, classify(c), ProbePolicy.LEGACY) for c in (v31, legacy, odd)] == [False, True, True]
    assert not any(should_probe(c, classify(c), ProbePolicy.NONE) for c in (v31, legacy, odd))


def _results(*probes: ProbeResult):
    return [decide(clone(), Compatibility.V31, p) for p in probes]


def test_exit_codes() -> None:
    assert exit_code(_results(SPEAKS, SPEAKS), FailOn.NON_COMPLIANT) is ExitCode.OK
    assert exit_code(_results(SPEAKS, SHORT), FailOn.NON_COMPLIANT) is ExitCode.FINDINGS
    assert exit_code(_results(SPEAKS, SHORT), FailOn.NEVER) is ExitCode.OK
    assert exit_code(_results(SPEAKS, ERROR), FailOn.NEVER) is ExitCode.PARTIAL
    assert exit_code(_results(SHORT, ERROR), FailOn.NON_COMPLIANT) is ExitCode.PARTIAL
    pending = [decide(clone(status=CloneStatus.PENDING), Compatibility.V31, NOT_PROBED)]
    assert exit_code(pending, FailOn.NON_COMPLIANT) is ExitCode.OK
    assert exit_code(pending, FailOn.UNKNOWN) is ExitCode.FINDINGS
    assert exit_code([], FailOn.UNKNOWN) is ExitCode.OK


def test_an_unreadable_list_entry_is_unknown_never_probed_and_makes_the_scan_partial() -> None:
    (placeholder,) = parse_clone_list([{"voiceId": 12345, "modelIds": ["lightning-v3.1"]}])
    assert not any(should_probe(placeholder, classify(placeholder), p) for p in ProbePolicy)
    result = decide(placeholder, classify(placeholder), NOT_PROBED)
    assert result.verdict is Verdict.UNKNOWN
    assert "could not be read (data[0]: voiceId is a number (12345)" in result.reason
    healthy = decide(clone(), Compatibility.V31, SPEAKS)
    for fail_on in FailOn:
        assert exit_code([healthy, result], fail_on) is ExitCode.PARTIAL


@pytest.mark.parametrize("policy", [ProbePolicy.NONE, ProbePolicy.LEGACY])
def test_drifted_metadata_never_makes_an_unprobed_voice_compliant(policy: ProbePolicy) -> None:
    drifted = parse_clone_list([
        {"voiceId": "voice_a", "modelIds": "lightning-v3.1", "status": "completed"},  # a string, not a list
        {"voiceId": "voice_b", "modelIds": ["lightning-v3.1"], "status": "archived"},  # undocumented status
        {"voiceId": "voice_c", "modelIds": ["lightning-v3.1"], "status": 3},
    ])
    for c in drifted:
        probed = should_probe(c, classify(c), policy)
        result = decide(c, classify(c), NOT_PROBED)
        assert probed or result.verdict is Verdict.UNKNOWN, (c.voice_id, result)
    a = decide(drifted[0], classify(drifted[0]), NOT_PROBED)
    assert classify(drifted[0]) is Compatibility.UNKNOWN
    assert "modelIds is a string ('lightning-v3.1'), not a list" in a.reason
    b = decide(drifted[1], classify(drifted[1]), NOT_PROBED)
    assert "status 'archived' is not one the API documents" in b.reason
    # the probe still decides when it ran: a drifted voice that really speaks is compliant
    assert decide(drifted[1], classify(drifted[1]), SPEAKS).verdict is Verdict.COMPLIANT
