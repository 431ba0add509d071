"""Real audio for tests: the committed speech fixtures, files written by real encoders, codec
round trips, and the WAV bodies the probe must tell apart.

Speech is the committed espeak-ng fixture, tiled with short pauses; other formats are
encoded from it with soundfile (wav, flac, mp3) or PyAV (mp4/AAC, webm/Opus), so every
test reads a file a real encoder wrote. The codec round trips (for the fidelity tests) go
through real encoders too: MP3 at 32 kbit/s, the telephone band (300-3400 Hz, 8 kHz G.711
mu-law in a WAV) and resampling (to 44.1 kHz then 24 kHz, PCM16); bench/fidelity.py makes the
same round trips for calibration. `speech_en` and `speech_hi` are fixtures (registered in
tests/conftest.py).
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from audit.core.audio import decode, resample, wav_pcm16

FIXTURES = Path(__file__).parents[1] / "fixtures"
HELLO = FIXTURES / "espeak_en_hello.wav"
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


# -- codec round trips (fidelity) ----------------------------------------------------------

CODECS = ["none", "mp3", "phone", "resampled"]


def encode(samples: np.ndarray, rate: int, fmt: str, codec: str, bit_rate: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        if bit_rate:
            stream.bit_rate = bit_rate
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def mp3_bytes(samples: np.ndarray, rate: int) -> bytes:
    return encode(samples, rate, "mp3", "libmp3lame", bit_rate=32000)


def phone_bytes(samples: np.ndarray, rate: int) -> bytes:
    narrow = resample(samples, rate, 8000).astype(np.float64)
    spectrum = np.fft.rfft(narrow)
    hz = np.fft.rfftfreq(narrow.shape[0], 1 / 8000)
    spectrum[(hz < 300) | (hz > 3400)] = 0
    band = np.clip(np.fft.irfft(spectrum, n=narrow.shape[0]), -1, 1)
    return encode(band, 8000, "wav", "pcm_mulaw")


def round_trip(codec: str, samples: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """The samples after going through `codec` and back, decoded by the project's own decoder."""
    if codec == "mp3":
        return decode(mp3_bytes(samples, rate))
    if codec == "phone":
        return decode(phone_bytes(samples, rate))
    if codec == "resampled":
        return decode(wav_pcm16(resample(resample(samples, rate, 44100), 44100, 24000), 24000))
    return samples, rate


# -- bodies for the probe: real speech, and the short WAV symptom ----------------------------


@pytest.fixture
def speech_en() -> bytes:
    return (FIXTURES / "espeak_en_hello.wav").read_bytes()


@pytest.fixture
def speech_hi() -> bytes:
    return (FIXTURES / "espeak_hi_hello.wav").read_bytes()


def wav_bytes(samples: np.ndarray, sample_rate: int = 24000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def short_wav(n_samples: int = 50, claimed_bytes: int | None = None, sample_rate: int = 24000) -> bytes:
    """The symptom: a RIFF header and a few samples; the header may claim far more."""
    data = (np.sin(np.arange(n_samples) / 3.0) * 3000).astype("<i2").tobytes()
    size = len(data) if claimed_bytes is None else claimed_bytes
    header = (
        b"RIFF" + struct.pack("<I", min(36 + size, 0xFFFFFFFF)) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data" + struct.pack("<I", size)
    )
    return header + data
