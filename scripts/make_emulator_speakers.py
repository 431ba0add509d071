"""Regenerate the emulator's stock speakers: real synthetic speech from Debian's flite and espeak-ng.

Needs: apt-get install -y flite espeak-ng     Run from the repository root:
    python scripts/make_emulator_speakers.py

Six people, chosen so that the speaker encoder (audit.fidelity.speaker) tells every pair apart
(cosine similarity at most ~0.72, against the 0.84 threshold): flite's awb, rms, kal16 (men) and
slt (a woman), espeak-ng's `announcer` (a man) and `Annie` (a woman). Each reads the same two
Harvard sentences (~9 s), stored as 16 kHz mono Ogg Vorbis (~30 KB each) in
audit/emulator/speakers/. The emulator cuts every TTS answer and archived recording out of these.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from audit.core.audio import resample

OUT = Path(__file__).resolve().parent.parent / "audit" / "emulator" / "speakers"
TEXT = ("The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
        "It is easy to tell the depth of a well. Four hours of steady work faced us.")
SPEAKERS = {
    "awb": ["flite", "-voice", "awb", "-t", TEXT, "-o"],
    "rms": ["flite", "-voice", "rms", "-t", TEXT, "-o"],
    "kal16": ["flite", "-voice", "kal16", "-t", TEXT, "-o"],
    "slt": ["flite", "-voice", "slt", "-t", TEXT, "-o"],
    "announcer": ["espeak-ng", "-v", "en-us+announcer", "-w"],
    "annie": ["espeak-ng", "-v", "en-us+Annie", "-w"],
}
RATE = 16000


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, command in SPEAKERS.items():
            raw = Path(tmp) / f"{name}.wav"
            args = [*command, str(raw)] + ([TEXT] if command[0] == "espeak-ng" else [])
            subprocess.run(args, check=True)
            samples, rate = sf.read(raw, dtype="float32")
            samples = resample(samples, rate, RATE) if rate != RATE else samples
            samples = samples / max(float(np.abs(samples).max()), 1e-6) * 0.7
            target = OUT / f"{name}.ogg"
            sf.write(target, samples, RATE, format="OGG", subtype="VORBIS", compression_level=0.9)
            print(f"{target.name}: {samples.shape[0] / RATE:.2f} s, {target.stat().st_size} bytes")


if __name__ == "__main__":
    main()
