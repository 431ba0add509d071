"""Levels of decoded samples: duration, RMS and peak, and which 20 ms frames carry speech-like energy.

Owns `measure` (an answer's or a clip's `AudioStats`), `LevelMeter` (frame levels of samples
fed block by block, for recordings streamed from the archive) and the activity rule both use
(`speech_frames`: above SILENCE_FLOOR_DBFS and within ACTIVE_BELOW_PEAK_DB of the loudest
frame). Each frame's energy is its sum of exact float64 squares, 32k samples at a time.
Non-finite samples (NaN, inf from a damaged float file) are measured as silence, so no
measure is ever NaN. Pure: numbers in, numbers out.

May import: numpy and audit.core.models only.
"""

from __future__ import annotations

import math

import numpy as np

from audit.core.models import AudioStats

FRAME_S = 0.020  # analysis frame for the activity measure
SILENCE_FLOOR_DBFS = -60.0  # a frame below this is silent whatever the rest does
ACTIVE_BELOW_PEAK_DB = 35.0  # a frame within this of the loudest frame counts as active
FLOOR_DBFS = -120.0  # reported for digital silence (keeps JSON finite)
_EPS = 1e-12


def measure(samples: np.ndarray, sample_rate: int, n_bytes: int) -> AudioStats:
    """Duration, level and activity of mono float samples in [-1, 1]."""
    frames = int(samples.shape[0])
    if frames == 0:
        return AudioStats(n_bytes, 0, sample_rate, 0.0, FLOOR_DBFS, FLOOR_DBFS, 0.0)
    # Measured as float32 (any other dtype cast, as decoded audio is): each 20 ms frame's sum of
    # squares (exact squares, float64 sums: no float32 value overflows them), then the whole
    # clip's from those and the trailing partial frame, so the samples are squared once. A
    # damaged sample (NaN, inf) makes the sum not finite: then it is 0.0 in a copy and measures
    # as silence, never as NaN.
    hop = max(1, int(sample_rate * FRAME_S))
    x = samples if samples.dtype == np.float32 else samples.astype(np.float32)
    energies, total = _energies(x, hop)
    if not math.isfinite(total):
        x = x.copy()
        x[~np.isfinite(x)] = 0.0
        energies, total = _energies(x, hop)
    rms_dbfs = _dbfs(math.sqrt(total / frames))
    peak_dbfs = _dbfs(max(float(x.max()), -float(x.min())))  # max |x| without an |x| array
    active = speech_frames(_levels(energies, hop))
    active_ratio = float(active.mean()) if active.size else 0.0
    return AudioStats(
        n_bytes=n_bytes,
        frames=frames,
        sample_rate=sample_rate,
        duration_s=frames / sample_rate,
        rms_dbfs=round(rms_dbfs, 2),
        peak_dbfs=round(peak_dbfs, 2),
        active_ratio=round(active_ratio, 3),
    )


def _dbfs(amplitude: float) -> float:
    return max(FLOOR_DBFS, float(20.0 * np.log10(amplitude + _EPS)))


class LevelMeter:
    """Levels (dBFS) of the 20 ms frames of mono samples fed block by block.

    The frames are those `active_frames` cuts (from the first sample; a trailing partial
    frame is not counted), and between blocks it holds less than one frame of samples.
    Non-finite samples are counted in `non_finite` and measured as 0.
    """

    def __init__(self, sample_rate: int) -> None:
        self.hop = max(1, int(sample_rate * FRAME_S))
        self.frames = 0  # samples fed
        self.non_finite = 0
        self._rest = np.zeros(0, dtype=np.float32)
        self._levels: list[np.ndarray] = []

    def feed(self, samples: np.ndarray) -> None:
        self.frames += samples.shape[0]
        finite = np.isfinite(samples)
        if not finite.all():
            self.non_finite += int(samples.shape[0] - np.count_nonzero(finite))
            samples = np.where(finite, samples, 0).astype(samples.dtype)
        joined = np.concatenate((self._rest, samples)) if self._rest.size else samples
        usable = (joined.shape[0] // self.hop) * self.hop
        if usable:
            self._levels.append(_frame_levels(joined[:usable], self.hop))
        self._rest = joined[usable:].copy()

    def levels(self) -> np.ndarray:
        return np.concatenate(self._levels) if self._levels else np.zeros(0, dtype=np.float64)


def _frame_levels(samples: np.ndarray, hop: int) -> np.ndarray:
    """Levels (dBFS) of the whole frames of `hop` finite samples (a trailing partial frame is not
    counted): each frame's mean square in float64, its root, in dB."""
    energies, _ = _energies(samples, hop)
    return _levels(energies, hop)


#: Samples squared at a time: a block's float64 copy (256 kB) stays in the CPU's cache.
_SQUARED_BLOCK = 1 << 15


def _energies(x: np.ndarray, hop: int) -> tuple[np.ndarray, float]:
    """Each whole frame's sum of squares of the samples `x` in float64 (exact squares of float32
    samples), and the sum over all of `x` (the trailing partial frame included)."""
    count = x.shape[0] // hop
    energies = np.empty(count, np.float64)
    per = max(1, _SQUARED_BLOCK // hop)  # whole frames a block
    for first in range(0, count, per):
        block = x[first * hop:min(first + per, count) * hop].astype(np.float64).reshape(-1, hop)
        np.einsum("ij,ij->i", block, block, out=energies[first:first + per])
    tail = x[count * hop:].astype(np.float64)
    return energies, float(energies.sum()) + float(tail @ tail)


def _levels(energies: np.ndarray, hop: int) -> np.ndarray:
    """Frame levels (dBFS) from their sums of squares over `hop` samples; in place."""
    levels = energies / hop
    np.sqrt(levels, out=levels)
    levels += _EPS
    np.log10(levels, out=levels)
    levels *= 20.0
    return levels


def speech_frames(levels: np.ndarray) -> np.ndarray:
    """Per frame level, whether it carries speech-like energy: above SILENCE_FLOOR_DBFS and
    within ACTIVE_BELOW_PEAK_DB of the loudest frame."""
    if levels.size == 0:
        return np.zeros(0, dtype=bool)
    threshold = max(SILENCE_FLOOR_DBFS, float(levels.max()) - ACTIVE_BELOW_PEAK_DB)
    return levels > threshold


def active_frames(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per 20 ms frame, whether it carries speech-like energy (the rule `measure` uses).

    A trailing partial frame is not counted; non-finite samples count as silence.
    """
    meter = LevelMeter(sample_rate)
    meter.feed(samples)
    return speech_frames(meter.levels())
