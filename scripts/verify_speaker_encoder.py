"""Check the numpy speaker encoder against the real Resemblyzer (torch) on the same audio.

Run once, in a throwaway virtual environment, never in the project's own (it needs torch):

    python3 -m venv /path/to/venv && /path/to/venv/bin/pip install torch resemblyzer==0.1.4 "setuptools<81" -e .
    /path/to/venv/bin/python scripts/verify_speaker_encoder.py tests/fixtures/*.wav

Prints, per file, the largest absolute difference between the two embeddings of the same
preprocessed waveform (encoder and mel features, with the shipped float16 weights), and the
cosine between the two full pipelines (Resemblyzer trims silences with webrtcvad, this project
with Silero, so that figure also includes the different trimming).
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.ndimage
import soundfile as sf

sys.modules.setdefault("scipy.ndimage.morphology", scipy.ndimage)  # resemblyzer 0.1.4 imports the old name

from resemblyzer import VoiceEncoder, preprocess_wav  # noqa: E402
from resemblyzer import audio as reference_audio  # noqa: E402

from audit.fidelity import speaker  # noqa: E402


def main(paths: list[str]) -> None:
    encoder = VoiceEncoder("cpu", verbose=False)
    worst_diff, worst_cos = 0.0, 1.0
    for path in paths:
        wav = preprocess_wav(path)
        mel_ref, mel_own = reference_audio.wav_to_mel_spectrogram(wav), speaker.mel_spectrogram(wav)
        mel_rel = float(np.abs(mel_ref - mel_own).max() / np.abs(mel_ref).max())
        diff = float(np.abs(encoder.embed_utterance(wav) - speaker.embed_speech(wav.astype(np.float32))).max())
        samples, rate = sf.read(path, dtype="float32")
        own = speaker.voiceprint(samples, rate).embedding
        cos = float(encoder.embed_utterance(preprocess_wav(samples, rate)) @ own) if own is not None else float("nan")
        worst_diff, worst_cos = max(worst_diff, diff), min(worst_cos, cos)
        print(f"{path}: mel max rel diff {mel_rel:.1e}; same input max |diff| {diff:.2e}; full pipelines cos {cos:.4f}")
    print(f"worst: max |diff| {worst_diff:.2e}, full-pipeline cosine {worst_cos:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
