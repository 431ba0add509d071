"""check_source and make_fitted on real files: every BLOCKED reason, every accepted type, fitting."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audit.archive.checks import MAX_UPLOAD_BYTES, best_window, check_source, make_fitted
from audit.archive.index import ArchiveIndex
from audit.core import levels
from audit.core.errors import AudioError
from audit.core.models import Clone, SourceCheck, SourceProblem

from tests.support import audio as files

VOICE = "voice_dLP5T67Qw7"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "archive"
    path.mkdir()
    return path


def check(folder: Path) -> SourceCheck:
    """Index the folder and check what it holds for VOICE, as plan does."""
    return check_source(ArchiveIndex(folder).find(Clone(voice_id=VOICE, display_name="Emma")))


def wav(folder: Path, samples: np.ndarray, name: str = f"{VOICE}.wav", **kw: object) -> Path:
    return files.write_sf(folder / name, samples, **kw)  # type: ignore[arg-type]


# -- blocked ---------------------------------------------------------------------------


def test_missing_and_matching_problems_carry_through(folder: Path) -> None:
    assert check(folder).problem is SourceProblem.MISSING
    wav(folder, files.speech(8), f"a_{VOICE}.wav")
    wav(folder, files.speech(8), f"b_{VOICE}.wav")
    result = check(folder)
    assert result.problem is SourceProblem.AMBIGUOUS and result.sha256 is None
    assert f"a_{VOICE}.wav" in result.detail


def test_path_escape_carries_through(folder: Path) -> None:
    outside = wav(folder.parent, files.speech(8), "outside.wav")
    (folder / "manifest.csv").write_text(f"{VOICE},../outside.wav\n", encoding="utf-8")
    via_manifest = check_source(ArchiveIndex(folder, Path("manifest.csv")).find(Clone(voice_id=VOICE)))
    assert via_manifest.problem is SourceProblem.PATH_ESCAPE and via_manifest.sha256 is None
    (folder / "manifest.csv").unlink()
    (folder / f"{VOICE}.wav").symlink_to(outside)
    via_link = check(folder)
    assert via_link.problem is SourceProblem.PATH_ESCAPE and via_link.sha256 is None


def test_random_bytes_named_wav_are_corrupt(folder: Path) -> None:
    (folder / f"{VOICE}.wav").write_bytes(np.random.default_rng(3).bytes(4000))
    result = check(folder)
    assert result.problem is SourceProblem.CORRUPT and "not recognisable audio" in result.detail
    assert result.n_bytes == 4000 and result.kind is None


def test_wav_truncated_in_its_header_is_corrupt(folder: Path) -> None:
    whole = files.write_sf(folder.parent / "whole.wav", files.speech(8)).read_bytes()
    (folder / f"{VOICE}.wav").write_bytes(whole[:30])
    result = check(folder)
    assert (result.problem, result.kind) == (SourceProblem.CORRUPT, "wav")
    assert "does not decode" in result.detail


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"Hello, this is a note about the voice, not a recording.\n", "looks like text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "looks like a PNG image (first bytes 89 50 4e 47"),
    ],
)
def test_non_audio_named_mp3_is_unsupported(folder: Path, content: bytes, what: str) -> None:
    (folder / f"{VOICE}.mp3").write_bytes(content)
    result = check(folder)
    assert result.problem is SourceProblem.UNSUPPORTED
    assert what in result.detail and result.detail.endswith("not audio; export it as WAV or MP3")


@pytest.mark.parametrize(
    "samples",
    [files.speech(2), np.concatenate([files.silence(3), files.speech(2), files.silence(3)])],
    ids=["2s-file", "2s-speech-in-8s"],
)
def test_too_little_speech_is_too_short(folder: Path, samples: np.ndarray) -> None:
    wav(folder, samples)
    result = check(folder)
    assert result.problem is SourceProblem.TOO_SHORT and result.speech_s is not None
    assert result.speech_s < 2.0 and "s of speech is needed" in result.detail


def test_near_zero_samples_are_silent(folder: Path) -> None:
    wav(folder, files.noise_floor(10))
    result = check(folder)
    assert (result.problem, result.speech_s, result.duration_s) == (SourceProblem.SILENT, 0.0, 10.0)


# -- usable as they are ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "write", "kind", "mime"),
    [
        (f"{VOICE}.wav", lambda p: files.write_sf(p, files.speech(10)), "wav", "audio/wav"),
        (f"{VOICE}.mp3", lambda p: files.write_mp3(p, files.speech(10)), "mp3", "audio/mpeg"),
        (f"{VOICE}.wav", lambda p: files.write_mp3(p, files.speech(10)), "mp3", "audio/mpeg"),  # a lie
        (f"{VOICE}.m4a", lambda p: files.write_av(p, files.speech(10), container="mp4", codec="aac",
                                                 rate=16000), "mp4", "audio/mp4"),
        (f"{VOICE}.webm", lambda p: files.write_av(p, files.speech(10), container="webm",
                                                  codec="libopus", rate=48000), "webm", "audio/webm"),
    ],
    ids=["wav", "mp3", "mp3-named-wav", "mp4-aac", "webm-opus"],
)
def test_accepted_types_pass_as_they_are(folder: Path, name: str, write, kind: str, mime: str) -> None:
    path = write(folder / name)
    result = check(folder)
    assert (result.problem, result.kind, result.mime, result.fit) == (None, kind, mime, None)
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.n_bytes == path.stat().st_size and result.matched_by == "voice-id"
    assert result.duration_s == pytest.approx(10, abs=0.15)
    assert 6.0 < (result.speech_s or 0) < 9.0


# -- fitted ----------------------------------------------------------------------------


def decoded(data: bytes) -> tuple[np.ndarray, int]:
    return sf.read(io.BytesIO(data), dtype="float32")


def test_long_recording_gets_a_window_on_its_speech(folder: Path) -> None:
    source = wav(folder, np.concatenate([files.silence(15), files.speech(10), files.silence(15)]))
    result = check(folder)
    assert result.problem is None and result.mime is None and result.fit is not None
    fit = result.fit
    assert "40.0 s is longer than 15 s" in fit.reason
    assert 14.7 <= fit.start_s <= 15.0 and 24.8 <= fit.end_s <= 25.3
    first, second = make_fitted(source, result), make_fitted(source, result)
    assert first.data == second.data and first.sha256 == hashlib.sha256(first.data).hexdigest()
    assert (first.mime, first.filename) == ("audio/wav", f"{VOICE}.fitted.wav")
    samples, rate = decoded(first.data)
    assert rate == 16000 and samples.shape[0] / rate == pytest.approx(fit.end_s - fit.start_s)
    assert len(first.data) < MAX_UPLOAD_BYTES and first.duration_s <= 15.0
    assert levels.active_frames(samples, rate).mean() > 0.6


def test_long_speech_is_cut_to_fifteen_seconds(folder: Path) -> None:
    source = wav(folder, files.speech(40))
    result = check(folder)
    assert result.fit is not None and result.fit.end_s - result.fit.start_s == pytest.approx(15.0)
    assert make_fitted(source, result).duration_s == pytest.approx(15.0)


def test_big_stereo_wav_under_fifteen_seconds_is_fitted(folder: Path) -> None:
    left = files.upsample(files.speech(14.9), 44100)
    source = wav(folder, np.stack([left, left * 0.5], axis=1), rate=44100, subtype="FLOAT")
    assert source.stat().st_size > MAX_UPLOAD_BYTES
    result = check(folder)
    assert result.fit is not None and "MB is over 5 MB" in result.fit.reason and result.mime is None
    fitted = make_fitted(source, result)
    samples, rate = decoded(fitted.data)
    assert (rate, samples.ndim) == (44100, 1) and len(fitted.data) < MAX_UPLOAD_BYTES


def test_flac_is_fitted_and_a_48k_source_comes_out_at_44k1(folder: Path) -> None:
    source = wav(folder, files.upsample(files.speech(9), 48000), f"{VOICE}.flac", rate=48000,
                 format="FLAC")
    result = check(folder)
    assert (result.kind, result.mime) == ("flac", None)
    assert result.fit is not None and result.fit.reason == "flac is not accepted"
    fitted = make_fitted(source, result)
    samples, rate = decoded(fitted.data)
    assert rate == 44100 and samples.shape[0] / rate == pytest.approx(fitted.duration_s, abs=1e-3)
    assert make_fitted(source, result).sha256 == fitted.sha256


def test_make_fitted_refuses_a_file_changed_since_the_check(folder: Path) -> None:
    source = wav(folder, files.speech(20))
    result = check(folder)
    wav(folder, files.speech(21))
    with pytest.raises(AudioError, match="changed since it was checked"):
        make_fitted(source, result)


def test_best_window_prefers_the_earliest_of_equal_spans_and_keeps_five_seconds() -> None:
    active = np.zeros(3000, dtype=bool)  # 60 s of 20 ms frames
    active[100:200] = active[2000:2100] = True  # two 2 s bursts, far apart
    assert best_window(active) == (0.5, 5.5)  # widened evenly around the first burst to 5 s
    active[2500:2560] = True  # the later span now holds more speech
    start, end = best_window(active)
    assert (start, end) == (39.8, 51.4)


@pytest.mark.parametrize("block", [7, 319, 320, 4096])
def test_level_meter_gives_the_same_frames_whatever_the_blocks(block: int) -> None:
    """Streaming a recording in blocks measures exactly what one pass over it measures."""
    samples = files.speech(3)
    streamed, whole = levels.LevelMeter(files.RATE), levels.LevelMeter(files.RATE)
    for at in range(0, samples.shape[0], block):
        streamed.feed(samples[at : at + block])
    whole.feed(samples)
    assert np.array_equal(streamed.levels(), whole.levels()) and streamed.frames == samples.shape[0]
    assert streamed.levels().shape[0] == samples.shape[0] // 320


# -- speech, not energy ----------------------------------------------------------------------


def test_a_loud_recording_without_speech_is_silent_with_its_speech_ratio(folder: Path) -> None:
    """Ten seconds of a steady tone and noise: energy says 'active', the speech detector says nobody speaks."""
    rate = files.RATE
    t = np.arange(10 * rate) / rate
    hum = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.02 * np.random.default_rng(3).standard_normal(t.shape[0]))
    wav(folder, hum.astype(np.float32))
    result = check(folder)
    assert result.problem is SourceProblem.SILENT, result.detail
    assert result.speech_s is not None and result.speech_s > 5  # the energy measure alone would take it
    assert "no speech" in result.detail and "speech ratio 0.00" in result.detail


def test_a_fitted_window_that_is_a_tone_is_never_uploaded(folder: Path) -> None:
    """40 s: 12 s of speech, then 28 s of a steady tone. By level the tone is the most active
    15 s, so that is the window; the speech detector hears nobody in it: SILENT, trim it."""
    rate = files.RATE
    t = np.arange(28 * rate) / rate
    tone = (0.05 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    wav(folder, np.concatenate([files.speech(12), tone]))
    result = check(folder)
    assert result.problem is SourceProblem.SILENT, result.detail
    assert "span it would upload (12.0–27.0 s" in result.detail and "trim the recording" in result.detail


def test_a_long_recording_of_speech_is_heard_in_its_window_and_fitted(folder: Path) -> None:
    wav(folder, files.speech(40))
    result = check(folder)
    assert result.problem is None, result.detail
    assert result.fit is not None and result.fit.end_s - result.fit.start_s == pytest.approx(15.0)
