"""A voiceprint is computed once per clip in a process (the speaker encoder is the costliest
step of a fidelity check): the same samples again get the voiceprint computing them gives, and
any other clip (one sample changed, another rate, the telephone band) is computed afresh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audit.fidelity import speaker

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many clips the encoder really ran on, by their length."""
    runs: list[int] = []
    compute = speaker.compute_voiceprint

    def counting(samples: np.ndarray, sample_rate: int, telephone_band: bool = False) -> speaker.Voiceprint:
        runs.append(samples.shape[0])
        return compute(samples, sample_rate, telephone_band)

    monkeypatch.setattr(speaker, "compute_voiceprint", counting)
    return runs


def test_the_same_clip_again_is_not_embedded_again(computed: list[int]) -> None:
    samples, rate = sf.read(FIXTURES / "flite_awb_probe.wav", dtype="float32")
    samples = samples[: rate * 2] * np.float32(0.9)  # a clip no other test embeds
    first = speaker.voiceprint(samples, rate)
    again = speaker.voiceprint(samples.copy(), rate)  # equal samples, another array
    assert len(computed) == 1
    assert first.embedding is not None and again.embedding is not None
    np.testing.assert_array_equal(again.embedding, first.embedding)
    assert again.speech == first.speech


def test_any_other_clip_is_embedded_afresh(computed: list[int]) -> None:
    samples, rate = sf.read(FIXTURES / "flite_slt_probe.wav", dtype="float32")
    samples = samples[: rate * 2] * np.float32(0.8)
    changed = samples.copy()
    changed[len(changed) // 2] += np.float32(0.25)
    prints = [speaker.voiceprint(samples, rate), speaker.voiceprint(changed, rate),
              speaker.voiceprint(samples, rate, telephone_band=True),
              speaker.voiceprint(samples[::2].copy(), rate // 2)]
    assert len(computed) == 4
    embeddings = [p.embedding for p in prints]
    assert all(e is not None for e in embeddings)
    assert not np.array_equal(embeddings[0], embeddings[2])  # the telephone band is another voiceprint


def test_a_kept_voiceprint_cannot_be_changed_by_one_caller_for_the_next() -> None:
    samples, rate = sf.read(FIXTURES / "flite_slt_source.wav", dtype="float32")
    embedding = speaker.voiceprint(samples[: rate * 2] * np.float32(0.7), rate).embedding
    assert embedding is not None
    with pytest.raises(ValueError, match="read-only"):
        embedding[0] = 1.0
