"""Fidelity: speech is told from noise, and a clone is judged by whether it sounds like its source.

Speech is real synthetic speech committed under tests/fixtures (flite's slt and awb voices,
espeak-ng's English voice; regenerate with tests/fixtures/make_fidelity_fixtures.py). Codec
variants go through real encoders (tests/unit/py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audit.core.audio import resample, wav_pcm16
from audit.fidelity import check, speaker, vad, verdict
from audit.fidelity.verdict import Fidelity
from tests.support.audio import CODECS, mp3_bytes, round_trip

FIXTURES = Path(__file__).parents[1] / "fixtures"
RATE = 16000


def clip(name: str) -> tuple[np.ndarray, int]:
    samples, rate = sf.read(FIXTURES / name, dtype="float32")
    return samples, rate


SLT_SOURCE = "flite_slt_source.wav"  # the person's archived recording
SLT_PROBE = "flite_slt_probe.wav"  # the same person, another sentence
AWB_PROBE = "flite_awb_probe.wav"  # another person, the probe's sentence
ESPEAK = "espeak_en_hello.wav"  # a third voice


# -- speech, not energy -----------------------------------------------------------------


def _t(seconds: float = 4.0) -> np.ndarray:
    return np.arange(round(seconds * RATE)) / RATE


def _music(seconds: float = 4.0) -> np.ndarray:
    """A melody of plucked notes with harmonics and decaying envelopes: music without voice."""
    rng = np.random.default_rng(3)
    note_s = 0.25
    out = np.zeros(round(seconds * RATE))
    t = np.arange(round(note_s * RATE)) / RATE
    for k in range(int(seconds / note_s)):
        f0 = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        note = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6)) * np.exp(-t * 8)
        out[k * len(t) : (k + 1) * len(t)] += note
    return 0.3 * out / np.abs(out).max()


NOT_SPEECH = {
    "white noise": lambda: np.random.default_rng(0).standard_normal(4 * RATE) * 0.3,
    "brown noise": lambda: np.cumsum(np.random.default_rng(1).standard_normal(4 * RATE)) * 0.005,
    "mains hum with harmonics": lambda: sum(0.3 / h * np.sin(2 * np.pi * 50 * h * _t()) for h in (1, 2, 3, 5)),
    "1 kHz test tone": lambda: 0.5 * np.sin(2 * np.pi * 1000 * _t()),
    "frequency sweep": lambda: 0.5 * np.sin(2 * np.pi * (100 * _t() + 500 * _t() ** 2)),
    "major chord": lambda: sum(0.2 * np.sin(2 * np.pi * f * _t()) for f in (261.6, 329.6, 392.0)),
    "melody": _music,
}


@pytest.mark.parametrize("name", list(NOT_SPEECH))
def test_loud_signals_without_a_voice_are_no_speech(name: str) -> None:
    samples = np.asarray(NOT_SPEECH[name](), dtype=np.float32)
    assert 20 * np.log10(np.sqrt(np.mean(samples**2))) > -30  # loud: an energy rule would call it speech
    found = vad.detect(samples, RATE)
    assert not found.speaks
    assert found.ratio == 0.0 and found.seconds == 0.0
    assert found.describe().startswith("speech ratio 0.00")


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_real_speech_is_speech_at_any_sample_rate(rate: int) -> None:
    samples, native = clip(SLT_SOURCE)
    found = vad.detect(resample(samples, native, rate), rate)
    assert found.speaks
    assert found.ratio > 0.6
    assert 2.0 < found.seconds <= found.duration_s


def test_speech_seconds_count_the_voice_not_the_pauses() -> None:
    samples, rate = clip(SLT_PROBE)
    alone = vad.detect(samples, rate)
    padded = vad.detect(np.concatenate([np.zeros(3 * rate, np.float32), samples, np.zeros(3 * rate, np.float32)]), rate)
    assert abs(padded.seconds - alone.seconds) < 0.2
    assert padded.ratio < alone.ratio / 2


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 44100])
@pytest.mark.parametrize("before", ["nothing", "3 s of silence", "2 s of white noise", "2 s of a tone"])
def test_listening_until_the_first_speech_answers_what_listening_to_all_of_it_does(rate: int, before: str) -> None:
    """The probe's early stop (`first_speech`) hears speech exactly when the full detector does,
    wherever the speech starts, and says where it began."""
    samples, native = clip(SLT_PROBE)
    lead = {"nothing": np.zeros(0), "3 s of silence": np.zeros(3 * native),
            "2 s of white noise": NOT_SPEECH["white noise"]()[: 2 * native],
            "2 s of a tone": NOT_SPEECH["1 kHz test tone"]()[: 2 * native]}[before]
    joined = resample(np.concatenate([lead, samples]).astype(np.float32), native, rate)
    early, full = vad.first_speech(joined, rate), vad.detect(joined, rate)
    assert early.speaks and full.speaks
    assert early.onset_s is not None and lead.shape[0] / native - 0.1 <= early.onset_s < lead.shape[0] / native + 1.0
    assert early.describe() == f"speech from {early.onset_s:.2f} s"


@pytest.mark.parametrize("name", list(NOT_SPEECH))
def test_listening_until_the_first_speech_hears_none_in_loud_non_speech(name: str) -> None:
    samples = np.asarray(NOT_SPEECH[name](), dtype=np.float32)
    found = vad.first_speech(samples, RATE)
    assert not found.speaks and found.onset_s is None
    assert found.describe().startswith("speech ratio 0.00")


def test_speech_in_file_bytes_of_any_format() -> None:
    samples, rate = clip(SLT_PROBE)
    assert check.speech(mp3_bytes(samples, rate)).speaks
    noise = np.random.default_rng(0).standard_normal(3 * RATE).astype(np.float32) * 0.3
    assert not check.speech(wav_pcm16(noise, RATE)).speaks


# -- the speaker embedding ----------------------------------------------------------------


def test_embeddings_are_unit_norm_and_deterministic() -> None:
    samples, rate = clip(SLT_SOURCE)
    first = speaker.voiceprint(samples, rate).embedding
    again = speaker.compute_voiceprint(samples.copy(), rate).embedding  # computed, not the one kept
    assert first is not None and again is not None
    assert first.shape == (256,) and first.dtype == np.float32
    assert abs(float(np.linalg.norm(first)) - 1.0) < 1e-5
    assert np.all(first >= 0)  # a ReLU before the normalisation, as in the reference encoder
    np.testing.assert_array_equal(first, again)


def test_a_clip_without_speech_has_no_embedding() -> None:
    print_ = speaker.voiceprint(np.asarray(NOT_SPEECH["white noise"](), dtype=np.float32), RATE)
    assert print_.embedding is None
    assert print_.speech.seconds == 0.0


def test_narrowband_is_told_from_wideband() -> None:
    samples, rate = clip(SLT_PROBE)
    assert not speaker.is_narrowband(samples, rate)
    assert speaker.is_narrowband(*round_trip("phone", samples, rate))
    assert not speaker.is_narrowband(*round_trip("mp3", samples, rate))


# -- the verdict ----------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_the_same_person_over_another_sentence_and_a_codec_is_a_match(codec: str) -> None:
    result = check.compare_clips(clip(SLT_SOURCE), round_trip(codec, *clip(SLT_PROBE)))
    assert result.fidelity is Fidelity.MATCH, result.reason
    band = verdict.Band.TELEPHONE if codec == "phone" else verdict.Band.WIDE
    accept = verdict.THRESHOLDS[band].accept
    assert result.similarity is not None and accept is not None and result.similarity >= accept
    assert ("telephone band" in result.reason) == (codec == "phone")


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("impostor", [AWB_PROBE, ESPEAK])
def test_another_person_is_a_mismatch_even_saying_the_same_words(impostor: str, codec: str) -> None:
    result = check.compare_clips(clip(SLT_SOURCE), round_trip(codec, *clip(impostor)))
    assert result.fidelity is Fidelity.MISMATCH, result.reason
    band = verdict.Band.TELEPHONE if codec == "phone" else verdict.Band.WIDE
    reject = verdict.THRESHOLDS[band].reject
    assert result.similarity is not None and reject is not None and result.similarity < reject
    assert f"{result.similarity:.3f}" in result.reason


def test_file_bytes_are_judged_like_decoded_clips() -> None:
    source = (FIXTURES / SLT_SOURCE).read_bytes()
    same = mp3_bytes(*clip(SLT_PROBE))
    other = (FIXTURES / AWB_PROBE).read_bytes()
    assert check.compare(source, same).fidelity is Fidelity.MATCH
    assert check.compare(source, other).fidelity is Fidelity.MISMATCH


def test_without_a_source_it_is_unchecked() -> None:
    result = check.compare(None, (FIXTURES / SLT_PROBE).read_bytes())
    assert result.fidelity is Fidelity.UNCHECKED and result.similarity is None
    assert "no source" in result.reason


@pytest.mark.parametrize("which", ["source", "clone"])
def test_undecodable_audio_is_unchecked_and_names_the_clip(which: str) -> None:
    good = (FIXTURES / SLT_PROBE).read_bytes()
    junk = b"<html>not audio</html>" * 20
    result = check.compare(junk, good) if which == "source" else check.compare(good, junk)
    assert result.fidelity is Fidelity.UNCHECKED
    assert result.reason.startswith(f"{which} audio is not decodable")


@pytest.mark.parametrize("which", ["source", "clone"])
def test_a_clip_of_noise_is_too_little_speech_to_tell_with_its_speech_ratio(which: str) -> None:
    speech = clip(SLT_SOURCE)
    hum = (np.asarray(NOT_SPEECH["mains hum with harmonics"](), dtype=np.float32), RATE)
    result = check.compare_clips(hum, speech) if which == "source" else check.compare_clips(speech, hum)
    assert result.fidelity is Fidelity.UNCHECKED
    assert f"too little speech in the {which}" in result.reason
    assert "speech ratio 0.00" in result.reason


def test_half_a_second_of_speech_is_too_little_to_tell() -> None:
    samples, rate = clip(SLT_PROBE)
    words = samples[int(0.25 * rate) : int(0.85 * rate)]
    short = np.concatenate([np.zeros(rate, np.float32), words, np.zeros(rate, np.float32)])
    result = check.compare_clips(clip(SLT_SOURCE), (short, rate))
    assert result.fidelity is Fidelity.UNCHECKED
    assert f"needs {verdict.MIN_SPEECH_S:.1f} s" in result.reason


def test_the_threshold_is_where_the_verdict_turns() -> None:
    source = speaker.voiceprint(*clip(SLT_SOURCE))
    probe = speaker.voiceprint(*clip(SLT_PROBE))
    assert source.embedding is not None and probe.embedding is not None
    score = round(speaker.similarity(source.embedding, probe.embedding), 3)
    single = verdict.Thresholds  # one cut: accept and reject at the same score
    assert verdict.judge(source, probe, thresholds=single(score, score)).fidelity is Fidelity.MATCH
    assert verdict.judge(source, probe, thresholds=single(score + 0.001, score + 0.001)).fidelity is Fidelity.MISMATCH
