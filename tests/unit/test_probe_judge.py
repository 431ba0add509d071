"""The probe judges audio by the frames really present, not by status or header."""

from __future__ import annotations

import numpy as np
import pytest

from audit.core.models import ProbeVerdict
from audit.scan.probe import judge_body
from tests.conftest import short_wav, wav_bytes


def test_real_speech_in_english_speaks(speech_en: bytes) -> None:
    result = judge_body(speech_en)
    assert result.verdict is ProbeVerdict.SPEAKS
    assert result.stats is not None and 2.0 < result.stats.duration_s < 3.0


def test_real_speech_in_hindi_speaks(speech_hi: bytes) -> None:
    assert judge_body(speech_hi).verdict is ProbeVerdict.SPEAKS


@pytest.mark.parametrize("claimed", [None, 0x7FFFFFFF, 0xFFFFFFFF - 36])
def test_the_symptom_is_a_short_wav_whatever_the_header_claims(claimed: int | None) -> None:
    body = short_wav(50, claimed_bytes=claimed)
    assert 100 <= len(body) <= 200
    result = judge_body(body)
    assert result.verdict is ProbeVerdict.SHORT_WAV
    assert result.stats is not None and result.stats.frames == 50
    assert "symptom" in result.reason


def test_a_header_with_no_samples_is_a_short_wav() -> None:
    result = judge_body(short_wav(0, claimed_bytes=0x7FFFFFFF))
    assert result.verdict is ProbeVerdict.SHORT_WAV


def test_an_empty_body_is_a_short_wav() -> None:
    result = judge_body(b"")
    assert result.verdict is ProbeVerdict.SHORT_WAV
    assert "0 bytes" in result.reason


def test_full_length_digital_silence_is_silent() -> None:
    rng = np.random.default_rng(1)
    dither = rng.integers(-1, 2, 24000 * 2) / 32768.0
    result = judge_body(wav_bytes(dither))
    assert result.verdict is ProbeVerdict.SILENT
    assert result.stats is not None and result.stats.duration_s == pytest.approx(2.0)


def test_silence_with_one_click_is_still_silent() -> None:
    samples = np.zeros(24000 * 2)
    samples[1000:1010] = 0.5
    assert judge_body(wav_bytes(samples)).verdict is ProbeVerdict.SILENT


def test_a_large_undecodable_body_is_an_error_not_a_verdict_on_the_voice() -> None:
    result = judge_body(b"\x00garbage" * 1000)
    assert result.verdict is ProbeVerdict.ERROR
    assert "not decodable" in result.reason
