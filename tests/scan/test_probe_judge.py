"""The probe judges audio by the frames really present, not by status or header."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audit.core.audio import wav_pcm16
from audit.core.models import ProbeVerdict
from audit.fidelity import vad
from audit.scan import probe
from audit.scan.probe import judge_body
from tests.support.audio import short_wav, wav_bytes


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


def test_an_empty_body_is_the_accept_trap_not_the_symptom() -> None:
    result = judge_body(b"", "audio/wav")
    assert result.verdict is ProbeVerdict.ERROR
    assert "Accept trap" in result.reason and "says nothing about the voice" in result.reason


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


@pytest.mark.parametrize(
    ("body", "content_type", "shown"),
    [
        (b'{"error":"Internal"}', "application/json", '{"error":"Internal"}'),
        (b'{"audio": null}', "audio/wav", '{"audio": null}'),  # the header lies; the bytes decide
        (b"<html><body>Bad gateway</body></html>", "text/html; charset=utf-8", "<html><body>Bad gateway</bod"),
        (b"OK", "text/plain", "OK"),
        (b"\x00\x01garbage\xff\n", None, "\\x00\\x01garbage\\xff\\x0a"),
        (b"\x00garbage" * 1000, "audio/wav", "\\x00garbage"),
    ],
)
def test_a_body_that_is_not_audio_is_an_error_naming_what_came_back(body: bytes, content_type, shown) -> None:
    result = judge_body(body, content_type)
    assert result.verdict is ProbeVerdict.ERROR  # whatever its size: never short-wav
    assert "not audio" in result.reason and shown in result.reason
    assert (content_type or "no Content-Type") in result.reason and f"{len(body):,} bytes" in result.reason


def test_a_riff_wave_that_does_not_decode_is_an_error() -> None:
    result = judge_body(b"RIFF\x24\x00\x00\x00WAVEjunk" + b"\x00" * 20, "audio/wav")
    assert result.verdict is ProbeVerdict.ERROR
    assert "wav body that does not decode" in result.reason


def test_short_audio_that_is_not_a_wav_is_not_the_symptom() -> None:
    body = io.BytesIO()
    sf.write(body, np.zeros(100), 24000, format="FLAC")
    result = judge_body(body.getvalue(), "audio/flac")
    assert result.verdict is ProbeVerdict.ERROR
    assert "flac audio, though the probe asked for wav" in result.reason


# -- speech, not energy: the speech detector decides once the levels pass ---------------------


def _loud(kind: str, seconds: float = 3.0, rate: int = 24000) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    rng = np.random.default_rng(11)
    signals = {
        "white noise": rng.standard_normal(t.shape[0]) * 0.1,
        "a 440 Hz tone": 0.3 * np.sin(2 * np.pi * 440 * t),
        "50 Hz mains hum": 0.3 * np.sin(2 * np.pi * 50 * t) + 0.1 * np.sin(2 * np.pi * 150 * t),
        "a chord": sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)),
    }
    return np.asarray(signals[kind], dtype=np.float32)


@pytest.mark.parametrize("kind", ["white noise", "a 440 Hz tone", "50 Hz mains hum", "a chord"])
def test_loud_audio_without_speech_is_silent_with_its_speech_ratio(kind: str) -> None:
    result = judge_body(wav_bytes(_loud(kind)))
    assert result.verdict is ProbeVerdict.SILENT, result.reason
    assert result.stats is not None and result.stats.active_ratio > 0.5  # the energy checks alone pass it
    assert "speech ratio 0.00" in result.reason and "without speech" in result.reason


@pytest.mark.parametrize("fixture", ["espeak_en_hello", "espeak_hi_hello", "flite_awb_probe", "flite_slt_probe"])
def test_real_speech_fixtures_speak_from_their_first_words(fixture: str) -> None:
    """The probe stops listening at the first speech it is sure of, and says where that began."""
    from tests.support.audio import HELLO

    data = (HELLO.parent / f"{fixture}.wav").read_bytes()
    result = judge_body(data)
    assert result.verdict is ProbeVerdict.SPEAKS, result.reason
    onset = float(result.reason.split("speech from ")[1].split()[0])
    assert 0.0 <= onset < 1.0, result.reason


def test_speech_then_a_tone_still_speaks() -> None:
    """Speech followed by a tone: the detector hears the speech part, the probe says it speaks."""
    from tests.support.audio import hello

    speech = hello()
    tone = _loud("a 440 Hz tone", 1.0, 16000)
    result = judge_body(wav_bytes(np.concatenate([speech, tone]), sample_rate=16000))
    assert result.verdict is ProbeVerdict.SPEAKS, result.reason


def test_a_short_wav_stays_the_symptom_without_asking_the_detector() -> None:
    result = judge_body(short_wav(40))
    assert result.verdict is ProbeVerdict.SHORT_WAV and "speech ratio" not in result.reason


FIXTURES = Path(__file__).parents[1] / "fixtures"
ROOT = Path(__file__).parents[2]


def _speech() -> tuple[np.ndarray, int]:
    samples, rate = sf.read(FIXTURES / "flite_slt_probe.wav", dtype="float32")
    return samples, rate


def _float_wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def test_speech_followed_by_one_over_full_scale_float_sample_still_speaks() -> None:
    """A float WAV may hold a sample above 1.0 (an over, a glitch): `first_speech` measures its
    lead-in against that unclipped peak, starts listening 0.1 s before it, and never hears the
    ordinary speech before it. `detect` (and the probe before the change) hears it."""
    speech, rate = _speech()
    samples = np.concatenate([speech, np.zeros(rate // 4, np.float32)])
    samples[-rate // 8] = 60.0  # one damaged sample after the sentence
    assert vad.detect(samples, rate).speaks
    assert vad.first_speech(samples, rate).speaks == vad.detect(samples, rate).speaks
    result = judge_body(_float_wav(samples, rate), "audio/wav")
    assert result.verdict is ProbeVerdict.SPEAKS, result.reason


def test_quiet_speech_followed_by_a_click_still_speaks() -> None:
    """Speech peaking at -36 dBFS then a one-sample click at full scale: the click is 35 dB
    above the speech's samples (so the lead-in skips all of it) but not above its 20 ms frames
    (so the level checks pass). A working voice is then reported `silent`."""
    speech, rate = _speech()
    quiet = speech / np.abs(speech).max() * 10 ** (-36 / 20)
    tail = np.zeros(rate // 2, np.float32)
    tail[rate // 4] = 0.99
    samples = np.concatenate([quiet, tail]).astype(np.float32)
    assert vad.detect(samples, rate).speaks
    assert judge_body(wav_pcm16(quiet, rate), "audio/wav").verdict is ProbeVerdict.SPEAKS  # without the click
    result = judge_body(wav_pcm16(samples, rate), "audio/wav")
    assert result.verdict is ProbeVerdict.SPEAKS, result.reason


def test_a_low_sample_rate_answer_costs_the_probe_seconds_not_hours() -> None:
    """A 40 kB 8-bit WAV of loud noise declared at 2 Hz holds 20,000 s of "audio": the level
    checks pass, and `first_speech` now resamples and scores all of it (to 16 kHz, one input
    sample at a time). Before the change the detector heard at most the first 60 s. At the
    8 MiB `max_audio_bytes` cap this is hours of CPU on the one judging thread, so every other
    probe of the scan waits behind it."""
    script = textwrap.dedent("""
        import io, sys, time
        import numpy as np, soundfile as sf
        from audit.scan.probe import judge_body
        noise = (np.random.default_rng(0).standard_normal(40_000) * 0.3).astype(np.float32)
        buffer = io.BytesIO()
        sf.write(buffer, noise, 2, format="WAV", subtype="PCM_U8")
        started = time.process_time()
        result = judge_body(buffer.getvalue(), "audio/wav")
        print(result.verdict.value, round(time.process_time() - started, 2))
    """)
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail("judging one 40 kB answer took more than 30 s")
    verdict, seconds = done.stdout.split()
    assert done.returncode == 0, done.stderr
    assert verdict == "silent" and float(seconds) < 5.0


def _libsndfile(body: bytes) -> tuple[np.ndarray, int]:
    with sf.SoundFile(io.BytesIO(body)) as f:
        return f.read(dtype="float32", always_2d=True).mean(axis=1).astype(np.float32), f.samplerate


def _canonical(samples: np.ndarray, rate: int = 24000, channels: int = 1, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples.reshape(-1, channels) if channels > 1 else samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


@pytest.mark.parametrize("frames", [0, 1, 50, 7_201, 72_000])
def test_a_plain_tts_wav_is_read_to_the_very_samples_libsndfile_gives(frames: int) -> None:
    """TTS answers (canonical 16-bit mono WAV) skip libsndfile's block reads, to the same samples,
    full scale both ways included: every measure and so every verdict is unchanged."""
    rng = np.random.default_rng(frames)
    samples = np.concatenate([[-1.0, 32767 / 32768], rng.uniform(-1, 1, frames)])[:frames]
    body = _canonical(samples)
    from audit.core import audio

    assert audio._pcm16_mono(body) is not None  # the direct read is taken
    got, rate = audio.decode(body)
    want, want_rate = _libsndfile(body)
    assert rate == want_rate == 24000 and got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize("body", [
    short_wav(50, claimed_bytes=0x7FFFFFFF),  # a data size that lies
    short_wav(50, claimed_bytes=0xFFFFFFFF - 36),
    _canonical(np.linspace(-1, 1, 4_000), channels=2),  # stereo
    _canonical(np.linspace(-1, 1, 4_000), subtype="PCM_24"),
    _canonical(np.linspace(-1, 1, 4_000), subtype="FLOAT"),
    _canonical(np.linspace(-1, 1, 4_001))[:-1],  # cut off in the middle of a frame
    _canonical(np.linspace(-1, 1, 4_000)) + b"LIST\x04\x00\x00\x00abcd",  # a chunk after the data
], ids=["lying-size", "streaming-size", "stereo", "pcm24", "float", "cut-frame", "trailing-chunk"])
def test_any_other_wav_is_left_to_libsndfile(body: bytes) -> None:
    from audit.core import audio

    assert audio._pcm16_mono(body) is None
    got, rate = audio.decode(body)
    want, want_rate = _libsndfile(body)
    assert rate == want_rate and np.array_equal(got, want)


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of what probes hand to the judging thread (it still runs it)."""
    names: list[str] = []
    run = probe._JUDGE.run

    def recorded(fn: object, *args: object) -> object:
        names.append(getattr(fn, "__name__", repr(fn)))
        return run(fn, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(probe._JUDGE, "run", recorded)
    return names


async def test_a_plain_wav_is_judged_on_the_loop_anything_else_whole_on_the_judging_thread(
        speech_en: bytes, handed: list[str]) -> None:
    """The event loop is held only by what the answer's length bounds: a plain PCM16 WAV that
    speaks early is judged where it arrived, with no hop to the judging thread; the same voice
    as FLAC (a small FLAC may hold hours of audio) goes to the thread whole; and both speak."""
    samples, rate = sf.read(io.BytesIO(speech_en), dtype="float32")
    flac = io.BytesIO()
    sf.write(flac, samples, rate, format="FLAC")
    plain = await probe.judge_answer(wav_pcm16(samples, rate))
    assert (plain.verdict, handed) == (ProbeVerdict.SPEAKS, [])
    packed = await probe.judge_answer(flac.getvalue())
    assert (packed.verdict, handed) == (ProbeVerdict.SPEAKS, ["judge_body"])


async def test_a_voice_that_starts_late_is_finished_on_the_judging_thread_with_the_same_verdict(
        speech_en: bytes, handed: list[str]) -> None:
    """Speech after 1.5 s of silence is not decided in the chunks heard on the loop: the rest
    is listened to on the judging thread, and the verdict is the one `judge_body` gives at once."""
    samples, rate = sf.read(io.BytesIO(speech_en), dtype="float32")
    late = wav_pcm16(np.concatenate([np.zeros(int(1.5 * rate), np.float32), samples]), rate)
    judged = await probe.judge_answer(late)
    assert handed == ["listen"]
    assert judged == judge_body(late)
    assert judged.verdict is ProbeVerdict.SPEAKS and "speech from 1." in judged.reason
