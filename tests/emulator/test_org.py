"""The fake-organisation and archive generators: reproducible, complete, their truth follows the rules."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import soundfile as sf

from audit.api.wire import parse_clone
from audit.core.models import CloneStatus, ProbeVerdict, Verdict
from audit.emulator.org import CATEGORIES, HOSTILE_NAMES, UNICODE_NAMES, generate_org
from audit.emulator.recordings import generate_archive
from audit.emulator.state import EmulatorState

# What a correct scan (probe policy "all") concludes for each kind of clone, written out
# independently of the generator's own rule function.
EXPECTED = {
    "v3.1": (ProbeVerdict.SPEAKS, Verdict.COMPLIANT),
    "v3.1-pro": (ProbeVerdict.SPEAKS, Verdict.COMPLIANT),
    "both": (ProbeVerdict.SPEAKS, Verdict.COMPLIANT),
    "legacy-only": (ProbeVerdict.SHORT_WAV, Verdict.NON_COMPLIANT),
    "lying-metadata": (ProbeVerdict.SHORT_WAV, Verdict.NON_COMPLIANT),
    "odd-models": (ProbeVerdict.SHORT_WAV, Verdict.NON_COMPLIANT),
    "silent": (ProbeVerdict.SILENT, Verdict.NON_COMPLIANT),
    "failed": (ProbeVerdict.NOT_PROBED, Verdict.NON_COMPLIANT),
    "pending": (ProbeVerdict.NOT_PROBED, Verdict.UNKNOWN),
    "processing": (ProbeVerdict.NOT_PROBED, Verdict.UNKNOWN),
}


def test_same_seed_same_org_other_seed_other_org() -> None:
    assert generate_org(120, seed=5) == generate_org(120, seed=5)
    assert generate_org(120, seed=5).clones != generate_org(120, seed=6).clones


@pytest.mark.parametrize("n", [30, 300])
def test_every_category_appears(n: int) -> None:
    assert set(generate_org(n, seed=1).categories.values()) == {c.name for c in CATEGORIES}


def test_the_mix_is_realistic() -> None:
    counts = Counter(generate_org(1000, seed=2).categories.values())
    assert 250 <= counts["v3.1"] <= 420
    assert 200 <= counts["legacy-only"] <= 360


def test_truth_follows_the_scanner_rules() -> None:
    org = generate_org(300, seed=3)
    for clone in org.clones:
        category = org.categories[clone.voice_id]
        expected = (
            EXPECTED.get(category)
            or {
                "v3.1": (ProbeVerdict.SPEAKS, Verdict.COMPLIANT),
                "legacy": (ProbeVerdict.SHORT_WAV, Verdict.NON_COMPLIANT),
            }[clone.engine]
        )
        assert org.truth[clone.voice_id] == expected, category


def test_every_verdict_pair_occurs() -> None:
    assert set(generate_org(300, seed=4).truth.values()) == set(EXPECTED.values())


def test_voice_ids_are_unique_and_well_formed() -> None:
    clones = generate_org(2000, seed=5).clones
    assert len({c.voice_id for c in clones}) == 2000
    assert len({c.fields["_id"] for c in clones}) == 2000
    assert all(re.fullmatch(r"voice_[A-Za-z0-9]{10}", c.voice_id) for c in clones)


def test_names_include_unicode_and_hostile_ones() -> None:
    names = {c.fields["displayName"] for c in generate_org(300, seed=6).clones}
    assert set(UNICODE_NAMES) | set(HOSTILE_NAMES) <= names
    assert max(len(n) for n in names) == 500


def test_fields_can_be_absent_null_or_empty() -> None:
    clones = generate_org(300, seed=7).clones
    assert any("modelIds" not in c.fields for c in clones)
    assert any("status" not in c.fields for c in clones)
    assert any("language" not in c.fields for c in clones)
    assert any(c.fields.get("modelIds", ...) is None for c in clones)
    assert any(c.fields.get("modelIds") == [] for c in clones)
    assert any(c.fields.get("tags") == [] for c in clones)
    assert len({c.fields.get("language") for c in clones}) >= 6


def test_created_at_spans_2024_to_2026() -> None:
    years = {c.fields["createdAt"][:4] for c in generate_org(300, seed=8).clones}
    assert years == {"2024", "2025", "2026"}
    assert all(c.fields["createdAt"].endswith(".000Z") for c in generate_org(30, seed=8).clones)


def test_generated_clones_keep_their_status() -> None:
    state = EmulatorState(clones=generate_org(300, seed=9).clones)
    far_future = state.now() + 10**6
    waiting = [c for c in state.clones() if c.fields.get("status") in ("pending", "processing")]
    assert waiting and all(c.status(far_future) == c.fields["status"] for c in waiting)


def test_the_shared_parser_reads_every_generated_entry() -> None:
    state = EmulatorState(clones=generate_org(300, seed=10).clones)
    parsed = [parse_clone(c.to_json(state.now())) for c in state.clones()]
    assert len(parsed) == 300
    assert {p.status for p in parsed} == set(CloneStatus)


def test_archive_matches_its_truth(tmp_path: Path) -> None:
    org = generate_org(40, seed=12)
    truth = generate_archive(org, tmp_path, seed=12)
    assert set(truth.outcomes) == {c.voice_id for c in org.clones if c.engine == "legacy"}
    assert set(truth.outcomes.values()) == {"ok", "fit", "missing", "corrupt", "too-short", "silent"}
    for voice, outcome in truth.outcomes.items():
        path = truth.paths[voice]
        assert (path is None) == (outcome == "missing")
        if path is None:
            continue
        if outcome == "corrupt":
            with pytest.raises(sf.LibsndfileError):
                sf.info(path)
            continue
        info = sf.info(path)
        if outcome == "ok":
            assert 8 <= info.duration <= 12.5
        elif outcome == "too-short":
            assert info.duration < 3
        elif outcome == "fit":
            assert info.duration > 30 or path.stat().st_size > 5 * 1024 * 1024
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in truth.paths.values() if p)


def test_archive_is_reproducible(tmp_path: Path) -> None:
    org = generate_org(40, seed=13)
    first = generate_archive(org, tmp_path / "a", seed=13)
    second = generate_archive(org, tmp_path / "b", seed=13)
    assert first.outcomes == second.outcomes
    assert [p and p.name for p in first.paths.values()] == [p and p.name for p in second.paths.values()]
    for path in filter(None, first.paths.values()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_archive_recordings_are_speech_of_different_people(tmp_path: Path) -> None:
    """The speech detector hears every usable recording speak, and the speaker encoder hears
    more than one person among them (a re-clone can then be told from a mix-up)."""
    from audit.fidelity import check, vad
    from audit.fidelity.verdict import Fidelity

    org = generate_org(60, seed=12)
    truth = generate_archive(org, tmp_path, seed=12)
    usable = [truth.paths[v] for v, outcome in truth.outcomes.items() if outcome == "ok"]
    assert len(usable) >= 4
    clips = [check.load(p.read_bytes()) for p in usable if p is not None]
    for samples, rate in clips:
        assert vad.detect(samples, rate).ratio > 0.6
    verdicts = {check.compare_clips(clips[0], other).fidelity for other in clips[1:]}
    assert Fidelity.MISMATCH in verdicts
    silent = [truth.paths[v] for v, outcome in truth.outcomes.items() if outcome == "silent"]
    for path in silent:
        assert path is not None and not check.speech(path.read_bytes()).speaks
