"""What the way to us did to a clip: its level, its clipping and its band. (pure numpy)

Owns the measurements that decide how two clips can be compared before any speaker is embedded:

- `normalize_volume` brings a clip's speech to one RMS level both ways (the encoder reads a mel
  *power* spectrogram and is level-sensitive: a probe 20 dB quieter or louder than its source
  must be heard as the same voice);
- `clipped_share` is the share of a clip's audible samples at or near full scale (a clip that
  was too loud for its format has its peaks cut flat, which changes the timbre it carries);
- `is_narrowband` says a clip carries (next to) nothing of a voice above the telephone band: by
  its rate (8 kHz and below can hold nothing above 4 kHz) or by its content: a cliff at the top
  of the band (an 8 kHz call upsampled to 16 or 48 kHz, MP3-coded or not), or nothing but
  steady noise above it (the same call with a recorder's hiss on top, or speech drowned in
  noise there);
- `band_pass` cuts a clip to the telephone band so that both clips of a pair are heard alike.

May import: audit.core only.
"""

from __future__ import annotations

import numpy as np

TELEPHONE_BAND_HZ = (300.0, 3400.0)
NARROWBAND_RATE = 8000  # at or below this sample rate nothing above 4 kHz can be carried
NORM_TARGET_DBFS = -30.0  # Resemblyzer's level (it only ever raised a clip to it)
FULL_SCALE = 0.99  # a sample this close to ±1 is at full scale
AUDIBLE = 1e-3  # samples quieter than this (-60 dBFS) are silence for `clipped_share`

# The content tests (measured in bench/fidelity.py's voices, 18 voices of 16 people):
# 1. the cliff: in the loud frames, the power density just below the top of the telephone band
#    (INSIDE_HZ) against the density just above it (ABOVE_HZ). Wideband speech falls off there by
#    -8 to 36 dB; a call upsampled has 88 dB or more, and 70 dB or more once MP3-coded (a few
#    MP3 files keep 25-40 dB of coding noise: those are missed, a rare wideband comparison);
# 2. the high band's life: per 64 ms frame the power from 4.3 to 7.5 kHz, the spread between
#    its 90th and 10th percentiles. Speech there comes and goes (fricatives, pauses: 20-50 dB);
#    the steady hiss over an upsampled call varies by under 1.2 dB. Wideband speech under noise
#    at 20 dB SNR spreads mostly 1.5-24 dB: under STEADY_DB its high band holds no voice, only
#    noise (2 of 54 such clips), and the telephone band is where it can be compared.
INSIDE_HZ = (2600.0, 3300.0)
ABOVE_HZ = (4300.0, 5500.0)
CLIFF_DB = 45.0
FRAME = 1024
LOUD_FRAMES = 0.3  # the loudest share of frames (speech, not the pauses' noise floor)
HIGH_HZ = (4300.0, 7500.0)
SPREAD_FRAME_S = 0.064  # per-frame band power over ~200 bins whatever the rate: steady noise stays steady
STEADY_DB = 1.35  # a high band spreading less than this over the frames is steady noise


def rms_dbfs(x: np.ndarray) -> float:
    """RMS level in dBFS (-inf for silence)."""
    rms = float(np.sqrt(np.mean(np.square(x.astype(np.float64))))) if x.size else 0.0
    return 20.0 * float(np.log10(rms)) if rms > 0.0 else float("-inf")


def normalize_volume(x: np.ndarray, target_dbfs: float = NORM_TARGET_DBFS) -> np.ndarray:
    """Raise or lower the clip's RMS level to `target_dbfs` (silence is left as it is)."""
    level = rms_dbfs(x)
    if not np.isfinite(level):
        return x
    return (x * 10 ** ((target_dbfs - level) / 20.0)).astype(np.float32)


def clipped_share(samples: np.ndarray) -> float:
    """The share of audible samples (above -60 dBFS) at or near full scale: 0.0 for a clean clip."""
    magnitude = np.abs(samples)
    audible = int(np.count_nonzero(magnitude > AUDIBLE))
    if audible == 0:
        return 0.0
    return int(np.count_nonzero(magnitude >= FULL_SCALE)) / audible


def band_cliff_db(samples: np.ndarray, sample_rate: int) -> float:
    """How many dB the loud frames' power density drops from just inside the telephone band to
    just above it (large: nothing is carried above the band)."""
    x = samples.astype(np.float64)
    n = x.shape[0] // FRAME
    if n == 0:
        return 0.0
    frames = x[: n * FRAME].reshape(n, FRAME) * np.hanning(FRAME)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    energy = power.sum(axis=1)
    loud = power[energy >= np.quantile(energy, 1.0 - LOUD_FRAMES)].sum(axis=0)
    hz = np.fft.rfftfreq(FRAME, 1.0 / sample_rate)
    inside = float(loud[(hz >= INSIDE_HZ[0]) & (hz < INSIDE_HZ[1])].mean())
    above = float(loud[(hz >= ABOVE_HZ[0]) & (hz < ABOVE_HZ[1])].mean())
    if inside <= 0.0:
        return 0.0
    return 10.0 * float(np.log10(inside / max(above, inside * 1e-12)))


def high_band_spread_db(samples: np.ndarray, sample_rate: int) -> float:
    """How many dB the frames' power in HIGH_HZ spreads (90th against 10th percentile) over the
    frames that are not digital silence: small when only steady noise lives there."""
    x = samples.astype(np.float64)
    size = round(SPREAD_FRAME_S * sample_rate)
    n = x.shape[0] // size
    if n == 0 or sample_rate < 2 * HIGH_HZ[1]:
        return float("inf")
    frames = x[: n * size].reshape(n, size) * np.hanning(size)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    hz = np.fft.rfftfreq(size, 1.0 / sample_rate)
    total = power.sum(axis=1)
    high = power[:, (hz >= HIGH_HZ[0]) & (hz < HIGH_HZ[1])].mean(axis=1)[total >= np.median(total) * 1e-3]
    p90, p10 = float(np.quantile(high, 0.9)), float(np.quantile(high, 0.1))
    if p90 <= 0.0:
        return float("inf")
    return 10.0 * float(np.log10(p90 / max(p10, p90 * 1e-12)))


def is_narrowband(samples: np.ndarray, sample_rate: int) -> bool:
    """Whether a clip carries (next to) nothing of a voice above the telephone band: a rate of
    8 kHz or less, a cliff of CLIFF_DB or more at the top of the band, or nothing but steady
    noise above it."""
    if sample_rate <= NARROWBAND_RATE:
        return True
    return band_cliff_db(samples, sample_rate) >= CLIFF_DB or high_band_spread_db(samples, sample_rate) < STEADY_DB


def band_pass(x: np.ndarray, low_hz: float, high_hz: float, rate: int) -> np.ndarray:
    """Zero every frequency outside [low_hz, high_hz] (FFT mask; deterministic)."""
    spectrum = np.fft.rfft(x.astype(np.float64))
    hz = np.fft.rfftfreq(x.shape[0], 1.0 / rate)
    spectrum[(hz < low_hz) | (hz > high_hz)] = 0.0
    return np.fft.irfft(spectrum, n=x.shape[0]).astype(np.float32)
