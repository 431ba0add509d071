"""The speaker check on what a channel does to a voice: level both ways, clipping, the band, and a
verdict that knows its band (a gray zone where a person listens).

Speech is the committed flite fixtures (regenerate with tests/fixtures/make_fidelity_fixtures.py);
channels go through real encoders (tests/support/audio.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audit.core.audio import decode, resample, wav_pcm16
from audit.fidelity import channel, check, speaker, verdict
from audit.fidelity.verdict import Band, Fidelity, Thresholds
from tests.support.audio import round_trip

FIXTURES = Path(__file__).parents[1] / "fixtures"


def clip(name: str) -> tuple[np.ndarray, int]:
    samples, rate = sf.read(FIXTURES / name, dtype="float32")
    return samples, rate


SOURCE = "flite_slt_source.wav"
PROBE = "flite_slt_probe.wav"
OTHER = "flite_awb_probe.wav"


def gain(name: str, db: float) -> tuple[np.ndarray, int]:
    """The fixture `db` louder (clipped at full scale, as a PCM16 file would be) or quieter, as WAV bytes decode."""
    samples, rate = clip(name)
    return decode(wav_pcm16(np.clip(samples * 10 ** (db / 20), -1.0, 1.0).astype(np.float32), rate))


def hiss(samples: np.ndarray, snr_db: float, seed: int = 5) -> np.ndarray:
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    noise = np.random.default_rng(seed).standard_normal(samples.shape[0]) * rms * 10 ** (-snr_db / 20)
    return (samples + noise).astype(np.float32)


# -- level both ways, clipping said --------------------------------------------------------


def test_a_quiet_probe_is_judged_as_the_clean_one() -> None:
    clean = check.compare_clips(clip(SOURCE), clip(PROBE))
    quiet = check.compare_clips(clip(SOURCE), gain(PROBE, -20))
    assert quiet.fidelity is clean.fidelity, quiet.reason
    assert clean.similarity is not None and quiet.similarity is not None
    assert abs(quiet.similarity - clean.similarity) <= 0.01, (clean.reason, quiet.reason)


def test_a_quiet_source_is_judged_as_the_clean_one() -> None:
    clean = check.compare_clips(clip(SOURCE), clip(OTHER))
    quiet = check.compare_clips(gain(SOURCE, -20), clip(OTHER))
    assert quiet.fidelity is clean.fidelity is Fidelity.MISMATCH, quiet.reason
    assert clean.similarity is not None and quiet.similarity is not None
    assert abs(quiet.similarity - clean.similarity) <= 0.01


def test_louder_speech_is_lowered_to_the_same_level_as_quieter_speech_is_raised() -> None:
    samples, _ = clip(PROBE)
    for db in (-20, 0, 12):
        level = channel.rms_dbfs(speaker.normalize_volume(samples * np.float32(10 ** (db / 20))))
        assert abs(level - speaker.channel.NORM_TARGET_DBFS) < 0.01, db


@pytest.mark.parametrize("db", [6, 20])
def test_a_loud_clipped_probe_says_it_is_clipped_and_is_never_taken_for_another_voice(db: int) -> None:
    clean = check.compare_clips(clip(SOURCE), clip(PROBE))
    loud = check.compare_clips(clip(SOURCE), gain(PROBE, db))
    assert "clone is clipped" in loud.reason and "% of its samples at full scale" in loud.reason
    if loud.fidelity is Fidelity.UNCHECKED:
        assert "listen" in loud.reason
    else:
        assert loud.fidelity is clean.fidelity, loud.reason


def test_a_loud_clipped_impostor_is_never_a_match() -> None:
    loud = check.compare_clips(clip(SOURCE), gain(OTHER, 20))
    assert loud.fidelity is not Fidelity.MATCH, loud.reason
    assert "clipped" in loud.reason


def test_a_heavily_clipped_impostor_is_a_mismatch_and_the_reason_says_it_is_clipped() -> None:
    loud = gain(OTHER, 20)
    assert channel.clipped_share(loud[0]) >= verdict.CLIPPED_UNRELIABLE  # once always left to a person
    result = check.compare_clips(clip(SOURCE), loud)
    assert result.fidelity is Fidelity.MISMATCH, result.reason
    assert "clone is clipped" in result.reason


def test_a_heavily_clipped_pair_is_judged_by_the_clipped_cut_offs_up_to_half_the_samples_clipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, probe, score = _prints()
    clipped = replace(probe, clipped=0.2)
    monkeypatch.setitem(verdict.CLIPPED_THRESHOLDS, Band.WIDE, Thresholds(accept=score + 0.02, reject=score + 0.001))
    below = verdict.judge(source, clipped)
    assert below.fidelity is Fidelity.MISMATCH and "clone is clipped (20.0%" in below.reason
    monkeypatch.setitem(verdict.CLIPPED_THRESHOLDS, Band.WIDE, Thresholds(accept=score, reject=score - 0.3))
    above = verdict.judge(source, clipped)
    assert above.fidelity is Fidelity.MATCH and "clipped" in above.reason
    monkeypatch.setitem(verdict.CLIPPED_THRESHOLDS, Band.WIDE, Thresholds(accept=score + 0.02, reject=score - 0.3))
    between = verdict.judge(source, clipped)
    assert between.fidelity is Fidelity.UNCHECKED and "listen" in between.reason and "clipped" in between.reason
    crushed = verdict.judge(source, replace(probe, clipped=verdict.CLIPPED_BEYOND))
    assert crushed.fidelity is Fidelity.UNCHECKED and "listen" in crushed.reason and "clipped" in crushed.reason


def test_the_clipped_cut_offs_never_match_below_the_bands_own_accept() -> None:
    for band in Band:
        cut, hard = verdict.THRESHOLDS[band], verdict.CLIPPED_THRESHOLDS[band]
        assert hard.accept is not None and hard.reject is not None
        assert cut.accept is None or hard.accept >= cut.accept
        assert cut.reject is None or hard.reject < cut.reject


def test_a_clean_clip_is_not_called_clipped() -> None:
    result = check.compare_clips(clip(SOURCE), clip(PROBE))
    assert "clipped" not in result.reason
    assert channel.clipped_share(clip(PROBE)[0]) == 0.0


# -- narrowband by rate and by content -------------------------------------------------------


def test_an_8000_hz_file_is_narrowband_by_its_rate() -> None:
    samples, rate = clip(PROBE)
    eight = hiss(resample(samples, rate, 8000), 20)  # content up to 4 kHz: nothing else can say it is narrow
    assert speaker.is_narrowband(*decode(wav_pcm16(eight, 8000)))
    result = check.compare_clips(clip(SOURCE), decode(wav_pcm16(eight, 8000)))
    assert "telephone band" in result.reason


@pytest.mark.parametrize("rate", [16000, 44100])
@pytest.mark.parametrize("after", ["nothing", "mp3", "a recorder's hiss"])
def test_a_call_upsampled_to_a_wideband_rate_is_narrowband_by_its_content(rate: int, after: str) -> None:
    samples, native = clip(PROBE)
    call = resample(round_trip("phone", samples, native)[0], 8000, rate)
    if after == "a recorder's hiss":
        call = hiss(call, 30)
    heard = round_trip("mp3", call, rate) if after == "mp3" else (call, rate)
    assert speaker.is_narrowband(*heard)
    assert "telephone band" in check.compare_clips(clip(SOURCE), heard).reason


@pytest.mark.parametrize("how", ["as recorded", "resampled", "mp3", "with noise at 20 dB SNR"])
def test_wideband_speech_is_not_narrowband(how: str) -> None:
    samples, rate = clip(PROBE)
    heard = {"as recorded": (samples, rate), "resampled": round_trip("resampled", samples, rate),
             "mp3": round_trip("mp3", samples, rate), "with noise at 20 dB SNR": (hiss(samples, 20), rate)}[how]
    assert not speaker.is_narrowband(*heard)


# -- a verdict that knows its band ------------------------------------------------------------


def _prints() -> tuple[speaker.Voiceprint, speaker.Voiceprint, float]:
    source, probe = speaker.voiceprint(*clip(SOURCE)), speaker.voiceprint(*clip(PROBE))
    assert source.embedding is not None and probe.embedding is not None
    return source, probe, round(speaker.similarity(source.embedding, probe.embedding), 3)


def test_a_score_in_the_gray_zone_is_unchecked_and_asks_a_person_to_listen() -> None:
    source, probe, score = _prints()
    result = verdict.judge(source, probe, thresholds=Thresholds(accept=score + 0.02, reject=score - 0.02))
    assert result.fidelity is Fidelity.UNCHECKED
    assert "listen" in result.reason
    assert f"{score:.3f}" in result.reason and f"{score + 0.02:.3f}" in result.reason
    assert result.similarity == score
    assert verdict.judge(source, probe, thresholds=Thresholds(score, score - 0.02)).fidelity is Fidelity.MATCH
    assert verdict.judge(source, probe, thresholds=Thresholds(score + 0.02, score + 0.001)).fidelity is Fidelity.MISMATCH


def test_a_band_that_cannot_tell_voices_apart_is_always_unchecked() -> None:
    source, probe, _ = _prints()
    result = verdict.judge(source, probe, thresholds=Thresholds(None, None))
    assert result.fidelity is Fidelity.UNCHECKED and "listen" in result.reason


def test_every_band_has_an_accept_threshold_at_or_above_its_reject_threshold() -> None:
    for band in Band:
        cut = verdict.THRESHOLDS[band]
        assert (cut.accept is None) == (cut.reject is None)
        if cut.accept is not None and cut.reject is not None:
            assert 0.5 < cut.reject <= cut.accept < 1.0


def test_the_telephone_band_is_judged_with_its_own_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A strict telephone band and a lenient wideband: the same voice through a phone is held for
    a person while the same voice wideband is a match."""
    monkeypatch.setitem(verdict.THRESHOLDS, Band.TELEPHONE, Thresholds(accept=0.999, reject=0.5))
    monkeypatch.setitem(verdict.THRESHOLDS, Band.WIDE, Thresholds(accept=0.5, reject=0.4))
    samples, rate = clip(PROBE)
    phone = check.compare_clips(clip(SOURCE), round_trip("phone", samples, rate))
    wide = check.compare_clips(clip(SOURCE), (samples, rate))
    assert phone.fidelity is Fidelity.UNCHECKED and "0.999" in phone.reason and "telephone band" in phone.reason
    assert wide.fidelity is Fidelity.MATCH and ">= 0.500" in wide.reason


def test_file_bytes_come_out_as_match_mismatch_or_unchecked() -> None:
    source = (FIXTURES / SOURCE).read_bytes()
    assert check.compare(source, (FIXTURES / PROBE).read_bytes()).fidelity is Fidelity.MATCH
    assert check.compare(source, (FIXTURES / OTHER).read_bytes()).fidelity is Fidelity.MISMATCH
    samples, rate = clip(PROBE)
    crushed = wav_pcm16(np.clip(samples * 100.0, -1.0, 1.0).astype(np.float32), rate)  # +40 dB: most peaks cut
    result = check.compare(source, crushed)
    assert result.fidelity is Fidelity.UNCHECKED
    assert "listen" in result.reason and "clipped" in result.reason
