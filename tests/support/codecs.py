"""Codec round trips for the fidelity tests, each through a real encoder (FFmpeg via PyAV).

MP3 at 32 kbit/s, the telephone band (300-3400 Hz, 8 kHz G.711 mu-law in a WAV) and resampling
(to 44.1 kHz then 24 kHz, PCM16). bench/fidelity.py makes the same round trips for calibration.
"""

from __future__ import annotations

import io

import av
import numpy as np

from audit.core.audio import decode, resample, wav_pcm16

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
