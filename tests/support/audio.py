"""Builders of real audio files for the archive and source tests.

Speech is the committed espeak-ng fixture, tiled with short pauses; other formats are
encoded from it with soundfile (wav, flac, mp3) or PyAV (mp4/AAC, webm/Opus), so every
test reads a file a real encoder wrote.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf

HELLO = Path(__file__).parents[1] / "fixtures" / "espeak_en_hello.wav"
RATE = 16000  # the fixture's sample rate


def hello() -> np.ndarray:
    """2.6 s of real English speech, mono float32 at 16 kHz."""
    samples, rate = sf.read(HELLO, dtype="float32")
    assert rate == RATE
    return samples


def speech(seconds: float, pause_s: float = 0.3) -> np.ndarray:
    """The fixture repeated with pauses between, cut to exactly `seconds` at 16 kHz."""
    one = np.concatenate([hello(), silence(pause_s)])
    repeats = int(np.ceil(seconds * RATE / one.shape[0]))
    return np.tile(one, repeats)[: round(seconds * RATE)]


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(round(seconds * rate), dtype=np.float32)


def noise_floor(seconds: float, level: float = 1e-4) -> np.ndarray:
    """Near-zero samples (about -80 dBFS): a recording of nothing."""
    rng = np.random.default_rng(7)
    return (rng.standard_normal(round(seconds * RATE)) * level).astype(np.float32)


def upsample(samples: np.ndarray, rate_out: int) -> np.ndarray:
    """Linear interpolation from 16 kHz: plumbing only, enough to make big or 48 kHz files."""
    n_out = round(samples.shape[0] * rate_out / RATE)
    positions = np.arange(n_out) * (RATE / rate_out)
    return np.interp(positions, np.arange(samples.shape[0]), samples).astype(np.float32)


def write_sf(path: Path, samples: np.ndarray, rate: int = RATE, *, format: str = "WAV",
             subtype: str = "PCM_16") -> Path:
    """Write with libsndfile: WAV, FLAC or MP3 (subtype MPEG_LAYER_III)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, rate, format=format, subtype=subtype)
    return path


def write_mp3(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    return write_sf(path, samples, rate, format="MP3", subtype="MPEG_LAYER_III")


def write_av(path: Path, samples: np.ndarray, *, container: str, codec: str, rate: int) -> Path:
    """Encode 16 kHz mono samples with FFmpeg (via PyAV) into `container` at `rate`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)[np.newaxis, :]
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
    frame.sample_rate = RATE
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        for converted in av.AudioResampler(format=stream.format.name, layout="mono", rate=rate).resample(frame):
            out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return path
