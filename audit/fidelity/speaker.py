"""Who is speaking: a GE2E speaker embedding in numpy, and the cosine similarity of two of them.

Owns the speaker encoder. It is Resemblyzer's pretrained GE2E encoder (Apache-2.0; weights
converted from the `resemblyzer` 0.1.4 wheel by scripts/convert_resemblyzer_weights.py, notice in
weights/NOTICE) re-implemented with numpy so that neither torch nor librosa is needed:

- preprocessing as Resemblyzer's `preprocess_wav`, 16 kHz, long silences cut, with two changes
  the real-voice calibration asked for (issue 19): the silences are cut first and the speech
  that is left is brought to -30 dBFS both ways (Resemblyzer only raised the whole clip, and the
  encoder reads power, not log power: a loud probe scored as another person). Resemblyzer cuts
  with webrtcvad; here the Silero detector of `vad` decides, keeping about 100 ms around each
  run of speech;
- features as its `wav_to_mel_spectrogram`: 25 ms periodic Hann window, 10 ms hop, centred
  frames with zero padding, power spectrum, 40 Slaney mel bands from 0 to 8 kHz (not log);
- network as its `VoiceEncoder`: a 3-layer LSTM (hidden 256), the last layer's final hidden
  state through a linear layer (256) and a ReLU, L2-normalised;
- utterance as its `embed_utterance`: partials of 160 frames (1.6 s) every 77 frames (1.3 per
  second), the last kept when it is at least 75 % covered, averaged and L2-normalised.

May import: audit.core only (and `vad`, `channel` of this package).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from threadpoolctl import ThreadpoolController

from audit.fidelity import channel, vad
from audit.fidelity.channel import TELEPHONE_BAND_HZ, band_pass, is_narrowband, normalize_volume

__all__ = ["TELEPHONE_BAND_HZ", "Voiceprint", "band_pass", "embed_speech", "is_narrowband", "normalize_volume",
           "similarity", "voiceprint"]

N_FFT = 400  # 25 ms at 16 kHz
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s per partial utterance
PARTIAL_RATE = 1.3  # partials per second (Resemblyzer's default)
MIN_COVERAGE = 0.75
KEEP_AROUND_SPEECH_S = 0.1  # silence kept each side of speech when trimming
WEIGHTS = "resemblyzer_ge2e.npz"
KEPT_VOICEPRINTS = 256  # the latest clips' voiceprints a process keeps (each ~1 kB)
_INT16_MAX = 2**15 - 1


@dataclass(frozen=True, eq=False)
class Voiceprint:
    """A clip's speaker embedding (None when it holds no speech), how much speech it holds and
    the share of its audible samples clipped at full scale."""

    embedding: np.ndarray | None
    speech: vad.SpeechActivity
    clipped: float = 0.0


def voiceprint(samples: np.ndarray, sample_rate: int, telephone_band: bool = False) -> Voiceprint:
    """Detect speech in mono float samples at any rate and embed the speaker of that speech.

    With `telephone_band` the speech is cut to 300-3400 Hz before embedding: the encoder was
    trained on wideband speech and scores one voice heard wideband and through a telephone as
    two people, so a narrowband clip is compared with the other clip cut to the same band.

    A pure function of its arguments, and the costliest step of a fidelity check (the LSTM):
    the same samples (a source checked again on a rerun, a probe answer heard before) are
    embedded once per process, the latest KEPT_VOICEPRINTS kept.
    """
    data = np.ascontiguousarray(samples)
    key = (hashlib.sha256(data.tobytes()).digest(), str(data.dtype), data.shape, sample_rate, telephone_band)
    with _kept_lock:
        if (kept := _kept.get(key)) is not None:
            _kept.move_to_end(key)
            return kept
    made = compute_voiceprint(data, sample_rate, telephone_band)
    if made.embedding is not None:
        made.embedding.flags.writeable = False  # shared by every caller of the same clip
    with _kept_lock:
        _kept[key] = made
        while len(_kept) > KEPT_VOICEPRINTS:
            _kept.popitem(last=False)
    return made


_kept: OrderedDict[tuple[object, ...], Voiceprint] = OrderedDict()
_kept_lock = threading.Lock()


def compute_voiceprint(samples: np.ndarray, sample_rate: int, telephone_band: bool = False) -> Voiceprint:
    """`voiceprint`, computed every time."""
    clipped = round(channel.clipped_share(samples), 4)
    x = vad.to_rate(samples, sample_rate)
    flags = vad.speech_windows(vad.probabilities(x))
    speech = vad.activity(flags, x.shape[0])
    if not flags.any():
        return Voiceprint(None, speech, clipped)
    if telephone_band:
        x = band_pass(x, *TELEPHONE_BAND_HZ, rate=vad.RATE)
    return Voiceprint(embed_speech(normalize_volume(trim_to_speech(x, flags))), speech, clipped)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (1.0 same direction)."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def trim_to_speech(x: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """The samples of speech windows, each run widened by KEEP_AROUND_SPEECH_S on both sides."""
    pad = round(KEEP_AROUND_SPEECH_S / vad.WINDOW_S)
    keep = np.convolve(flags.astype(np.int32), np.ones(2 * pad + 1, dtype=np.int32), mode="same") > 0
    mask = np.repeat(keep, vad.WINDOW)
    return x[: mask.shape[0]][mask]


def embed_speech(wav: np.ndarray) -> np.ndarray:
    """The L2-normalised 256-d embedding of preprocessed 16 kHz speech (Resemblyzer's embed_utterance)."""
    starts = partial_starts(wav.shape[0])
    needed = (starts[-1] + PARTIAL_FRAMES) * HOP
    if needed >= wav.shape[0]:
        wav = np.pad(wav, (0, needed - wav.shape[0]))
    mel = mel_spectrogram(wav)
    batch = np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts])
    partials = encode(batch)
    mean = partials.mean(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def partial_starts(n_samples: int) -> list[int]:
    """First mel frame of each partial utterance (Resemblyzer's compute_partial_slices)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = round((vad.RATE / PARTIAL_RATE) / HOP)
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power spectrogram of 16 kHz samples, as librosa.feature.melspectrogram computes it."""
    padded = np.pad(wav.astype(np.float32), (N_FFT // 2, N_FFT // 2))
    n_frames = 1 + wav.shape[0] // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n_frames]
    power = np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2
    return (power @ _mel_basis().T).astype(np.float32)


def encode(mels: np.ndarray) -> np.ndarray:
    """Embeddings of a batch of partials (batch, 160, 40) → (batch, 256), each L2-normalised."""
    w = _weights()
    h = mels.astype(np.float32)
    # 480 small sequential matrix products: BLAS threads cost far more than they bring (7x here)
    with _blas().limit(limits=1, user_api="blas"):
        for layer in range(3):
            h = _lstm_layer(h, w[f"lstm.weight_ih_l{layer}"], w[f"lstm.weight_hh_l{layer}"], w[f"lstm.bias_l{layer}"])
    raw = np.maximum(h[:, -1] @ w["linear.weight"].T + w["linear.bias"], 0.0)
    return raw / (np.linalg.norm(raw, axis=1, keepdims=True) + 1e-12)


def _lstm_layer(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """One torch.nn.LSTM layer (gates i, f, g, o), batch first; returns every step's hidden state."""
    batch, steps, _ = x.shape
    size = w_hh.shape[1]
    # sigmoid(z) = 0.5 * tanh(z / 2) + 0.5, so one tanh call serves all four gates once the
    # sigmoid gates' weights are halved; the input half of every step is computed at once.
    scale = np.full(4 * size, 0.5, dtype=np.float32)
    scale[2 * size : 3 * size] = 1.0
    projected = np.ascontiguousarray(((x @ w_ih.T + bias) * scale).transpose(1, 0, 2))  # (steps, batch, 4H)
    w_hh_t = np.ascontiguousarray((w_hh * scale[:, None]).T)
    h: np.ndarray = np.zeros((batch, size), dtype=np.float32)
    c = np.zeros((batch, size), dtype=np.float32)
    z = np.empty((batch, 4 * size), dtype=np.float32)
    out = np.empty((steps, batch, size), dtype=np.float32)
    for t in range(steps):
        np.dot(h, w_hh_t, out=z)
        z += projected[t]
        np.tanh(z, out=z)
        sig = 0.5 * z + 0.5  # i, f, o as sigmoids (the g slice of it is unused)
        c *= sig[:, size : 2 * size]
        c += sig[:, :size] * z[:, 2 * size : 3 * size]
        h = sig[:, 3 * size :] * np.tanh(c)
        out[t] = h
    return out.transpose(1, 0, 2)


@cache
def _weights() -> dict[str, np.ndarray]:
    """The converted weights as float32, with each layer's two LSTM biases summed."""
    with resources.files("audit.fidelity").joinpath("weights", WEIGHTS).open("rb") as f, np.load(f) as npz:
        raw = {name: npz[name].astype(np.float32) for name in npz.files}
    for layer in range(3):
        raw[f"lstm.bias_l{layer}"] = raw.pop(f"lstm.bias_ih_l{layer}") + raw.pop(f"lstm.bias_hh_l{layer}")
    return raw


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


@cache
def _hann() -> np.ndarray:
    """Periodic Hann window of N_FFT samples (scipy.signal.get_window('hann', N_FFT))."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


@cache
def _mel_basis() -> np.ndarray:
    """(40, 201) Slaney-scale, Slaney-normalised triangular filters, 0-8 kHz (librosa.filters.mel)."""
    fft_hz = np.fft.rfftfreq(N_FFT, d=1.0 / vad.RATE)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(vad.RATE / 2), N_MELS + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    basis = np.maximum(0.0, np.minimum(lower, upper))
    basis *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return basis.astype(np.float32)


_F_SP = 200.0 / 3  # Slaney: linear below 1 kHz ...
_LOG_STEP = np.log(6.4) / 27.0  # ... logarithmic above


def _hz_to_mel(hz: float) -> float:
    return hz / _F_SP if hz < 1000.0 else 1000.0 / _F_SP + float(np.log(hz / 1000.0)) / _LOG_STEP


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    linear = mels * _F_SP
    return np.where(mels >= 1000.0 / _F_SP, 1000.0 * np.exp(_LOG_STEP * (mels - 1000.0 / _F_SP)), linear)
