"""What the emulator's TTS sounds like: deterministic speech-like signals and their encodings.

This module owns the audio the emulated `POST /waves/v1/tts` answers: `speech` (a voiced
signal whose pitch depends on the voice, amplitude-modulated in ~4 Hz syllables with pauses
between words, about -20 dBFS RMS while speaking), `silence` (full length, ±1 LSB dither),
`encode` (the five output formats) and `short_answer` (the legacy-clone symptom: a ~100-200
byte answer, sometimes with a streaming header that claims ~2 GB). Signals are generated
directly at the requested sample rate rather than resampled, which is equivalent for a
synthetic signal and cheaper. Same inputs, same bytes.
"""

from __future__ import annotations

import hashlib
import io
import struct
from typing import Literal

import numpy as np
import soundfile as sf

OutputFormat = Literal["pcm", "wav", "mp3", "ulaw", "alaw"]

CHARS_PER_SECOND = 14.0
MIN_UTTERANCE_S = 0.8
WORD_GAP_S = 0.08
SYLLABLE_HZ = 4.0
SPEECH_RMS_DBFS = -20.0
STREAMING_DATA_SIZE = 0x7FFFFFFF
TABLE_SIZE = 4096


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "little")


def base_pitch_hz(voice_id: str) -> float:
    """Each voice has its own pitch, between 90 and 250 Hz."""
    return 90.0 + (_digest("pitch", voice_id) % 1601) / 10.0


def speech_duration_s(text: str, speed: float = 1.0) -> float:
    return max(MIN_UTTERANCE_S, len(text.strip()) / CHARS_PER_SECOND) / speed


def _word_envelope(text: str, n: int, sample_rate: int) -> np.ndarray:
    """Syllable-shaped loudness, 0 in the gaps between words."""
    words = text.split() or [text]
    weights = np.array([len(w) + 1.0 for w in words])
    gap = int(WORD_GAP_S * sample_rate)
    speaking = max(n - gap * (len(words) - 1), len(words))
    lengths = np.maximum((weights / weights.sum() * speaking).astype(int), 1)
    envelope = np.zeros(n)
    start = 0
    for length in lengths:
        stop = min(start + length, n)
        if stop <= start:
            break
        position = np.linspace(0.0, 1.0, stop - start)
        syllables = max(1, round(length / sample_rate * SYLLABLE_HZ))
        envelope[start:stop] = np.sin(np.pi * syllables * position) ** 2
        start = stop + gap
    return envelope


def _harmonic_table(n_harmonics: int) -> np.ndarray:
    """One period of the voiced waveform (harmonics falling off as 1/k), for table lookup."""
    grid = 2 * np.pi * np.arange(TABLE_SIZE) / TABLE_SIZE
    harmonics = np.arange(1, n_harmonics + 1)[:, np.newaxis]
    return np.asarray(np.sum(np.sin(harmonics * grid) / harmonics, axis=0))


def speech(voice_id: str, text: str, sample_rate: int, speed: float = 1.0) -> np.ndarray:
    """A speech-like float32 signal in [-1, 1] whose length grows with the text."""
    n = int(speech_duration_s(text, speed) * sample_rate)
    rng = np.random.default_rng(_digest("speech", voice_id, text))
    t = np.arange(n) / sample_rate
    f0 = base_pitch_hz(voice_id) * (1.0 + 0.08 * np.sin(2 * np.pi * 0.7 * t) - 0.05 * t / max(t[-1], 1e-9))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    n_harmonics = max(1, min(12, int(sample_rate / 2 / (f0.max() * 1.1))))
    voiced = _harmonic_table(n_harmonics)[(phase * (TABLE_SIZE / (2 * np.pi))).astype(np.int64) % TABLE_SIZE]
    signal = voiced * _word_envelope(text, n, sample_rate) + 0.02 * rng.standard_normal(n)
    active = np.abs(signal) > 1e-3
    rms = np.sqrt(np.mean(signal[active] ** 2)) if active.any() else 1.0
    signal *= 10 ** (SPEECH_RMS_DBFS / 20) / rms
    return np.asarray(np.clip(signal, -1.0, 1.0), dtype=np.float32)


def silence(voice_id: str, text: str, sample_rate: int, speed: float = 1.0) -> np.ndarray:
    """Audio of the normal length whose samples are ±1 LSB of dither: no speech energy."""
    n = int(speech_duration_s(text, speed) * sample_rate)
    rng = np.random.default_rng(_digest("silence", voice_id, text))
    return np.asarray(rng.integers(-1, 2, n) / 32768.0, dtype=np.float32)


def encode(samples: np.ndarray, sample_rate: int, output_format: OutputFormat) -> bytes:
    """Mono float samples → the bytes of one output format (pcm/ulaw/alaw have no header)."""
    if output_format == "pcm":
        return _pcm16(samples).tobytes()
    buffer = io.BytesIO()
    if output_format == "wav":
        sf.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    elif output_format == "mp3":
        sf.write(buffer, samples, sample_rate, format="MP3")
    else:
        sf.write(buffer, samples, sample_rate, format="RAW", subtype=output_format.upper())
    return buffer.getvalue()


def _pcm16(samples: np.ndarray) -> np.ndarray:
    return np.asarray(np.round(np.clip(samples, -1.0, 1.0) * 32767), dtype="<i2")


def wav_header(sample_rate: int, data_size: int) -> bytes:
    """The canonical 44-byte RIFF header of mono PCM16."""
    riff_size = min(36 + data_size, 0xFFFFFFFF)
    return (
        struct.pack("<4sI4s", b"RIFF", riff_size, b"WAVE")
        + struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + struct.pack("<4sI", b"data", data_size)
    )


def claims_streaming_size(voice_id: str) -> bool:
    """About a third of legacy clones answer a header that claims ~2 GB of data."""
    return _digest("streaming", voice_id) % 3 == 0


def short_answer(voice_id: str, sample_rate: int, output_format: OutputFormat) -> bytes:
    """The symptom: HTTP 200 with next to no audio.

    A 44-byte WAV header plus a few dozen samples (pcm/ulaw/alaw: ~50-100 raw bytes). An MP3
    request gets the short WAV too: the legacy pool does not transcode.
    """
    n_samples = 28 + _digest("short", voice_id) % 48
    rng = np.random.default_rng(_digest("short-samples", voice_id))
    samples = (rng.standard_normal(n_samples) * 0.002).astype(np.float32)
    if output_format in ("pcm", "ulaw", "alaw"):
        return encode(samples, sample_rate, output_format)
    data = _pcm16(samples).tobytes()
    claimed = STREAMING_DATA_SIZE if claims_streaming_size(voice_id) else len(data)
    return wav_header(sample_rate, claimed) + data
