"""Decoding and measuring audio from bytes, trusting the samples, never the header.

A WAV header can claim anything (streaming answers claim ~2 GB of data); what counts
is the frames actually decoded. This module owns turning bytes into mono float samples
(soundfile) and measuring them: duration, RMS and peak level, and the share of 20 ms
frames that carry speech-like energy. It knows nothing of HTTP or verdicts.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from .errors import AudioError
from .models import AudioStats

FRAME_S = 0.020  # analysis frame for the activity measure
SILENCE_FLOOR_DBFS = -60.0  # a frame below this is silent whatever the rest does
ACTIVE_BELOW_PEAK_DB = 35.0  # a frame within this of the loudest frame counts as active
FLOOR_DBFS = -120.0  # reported for digital silence (keeps JSON finite)
_BLOCK = 65536
_EPS = 1e-12


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Decode any format libsndfile reads into mono float32 samples and the sample rate.

    Reads block by block until the decoder runs dry, so the result holds the frames
    present in `data`, whatever the header claims.
    """
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            sample_rate = f.samplerate
            blocks = []
            while True:
                block = f.read(_BLOCK, dtype="float32", always_2d=True)
                if not len(block):
                    break
                blocks.append(block.mean(axis=1))
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"not decodable audio ({len(data)} bytes): {exc}") from None
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    return samples, sample_rate


def measure(samples: np.ndarray, sample_rate: int, n_bytes: int) -> AudioStats:
    """Duration, level and activity of mono float samples in [-1, 1]."""
    frames = int(samples.shape[0])
    if frames == 0:
        return AudioStats(n_bytes, 0, sample_rate, 0.0, FLOOR_DBFS, FLOOR_DBFS, 0.0)
    x = samples.astype(np.float64)
    rms_dbfs = _dbfs(np.sqrt(np.mean(x * x)))
    peak_dbfs = _dbfs(np.max(np.abs(x)))
    hop = max(1, int(sample_rate * FRAME_S))
    usable = (frames // hop) * hop
    if usable == 0:
        frame_db = np.array([rms_dbfs])
    else:
        chunks = x[:usable].reshape(-1, hop)
        frame_db = 20.0 * np.log10(np.sqrt(np.mean(chunks * chunks, axis=1)) + _EPS)
    threshold = max(SILENCE_FLOOR_DBFS, float(frame_db.max()) - ACTIVE_BELOW_PEAK_DB)
    active_ratio = float(np.mean(frame_db > threshold)) if frame_db.max() > SILENCE_FLOOR_DBFS else 0.0
    return AudioStats(
        n_bytes=n_bytes,
        frames=frames,
        sample_rate=sample_rate,
        duration_s=frames / sample_rate,
        rms_dbfs=round(rms_dbfs, 2),
        peak_dbfs=round(peak_dbfs, 2),
        active_ratio=round(active_ratio, 3),
    )


def inspect(data: bytes) -> AudioStats:
    """Decode and measure; raises AudioError when the bytes are not audio."""
    samples, sample_rate = decode(data)
    return measure(samples, sample_rate, len(data))


def _dbfs(amplitude: float) -> float:
    return max(FLOOR_DBFS, float(20.0 * np.log10(amplitude + _EPS)))
