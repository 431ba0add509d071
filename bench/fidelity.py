"""Calibrate the fidelity threshold on labelled same-speaker and different-speaker pairs.

Speakers are Debian's speech synthesisers: espeak-ng's English voice with several of its voice
variants (each variant is a distinct timbre, a distinct "person") and flite's voices. Each speaker
reads "source" clips (two sentences, clean, like an archived recording) and "probe" clips (one
other sentence, like a clone's probe answer) that go through a codec round trip: none, MP3 at
32 kbit/s, the telephone band (300-3400 Hz, 8 kHz mu-law) or resampling (to 44.1 kHz then 24 kHz).
Every source is paired with every probe: the same speaker over different sentences and codecs
must match, different speakers must not.

Each pair is judged as audit.fidelity.check judges it (in the telephone band when either clip is
narrowband). Prints the pairs, a table of false accepts and false rejects per threshold, the
chosen threshold (the lowest with under 1 % false accepts, plus a 0.02 margin, because a wrong
voice in production costs more than a review) and the time to embed one clip.

Needs: apt-get install -y espeak-ng flite   (root; Debian)
Run:   python bench/fidelity.py [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from audit.core.audio import decode, resample, wav_pcm16
from audit.fidelity import speaker, verdict

# espeak-ng voice variants as people: each differs from every other chosen one by at least 10 % in
# one of its first three formant frequencies (the vocal tract) or 20 % in base pitch. Variants that
# share a vocal tract and pitch and change only breath, echo, flutter or the synthesis engine
# (f2/f5, m1/m3/m8, klatt..klatt6) would be one person under two labels and are left out.
ESPEAK_VARIANTS = ["m1", "m2", "m5", "gustave", "david", "Marco", "announcer",
                   "f1", "f3", "Annie", "Alicia", "belinda", "anika", "shelby"]
FLITE_VOICES = ["awb", "rms", "slt", "kal16"]  # kal is kal16's speaker at 8 kHz: left out, not a new person
SOURCE_TEXTS = [
    ("The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",),
    ("It is easy to tell the depth of a well. These days a chicken leg is a rare dish.",),
]
PROBE_TEXTS = [
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
]
CODECS = ["none", "mp3", "phone", "resampled"]
FA_GOAL = 0.01
MARGIN = 0.02  # added to the lowest threshold meeting the goal: a wrong voice in production costs more than a review


@dataclass(frozen=True)
class Clip:
    speaker: str
    kind: str  # "source" or "probe"
    text: int
    codec: str
    samples: np.ndarray
    rate: int


def synthesise(voice: str, text: str, folder: Path) -> tuple[np.ndarray, int]:
    out = folder / "say.wav"
    if voice.startswith("flite:"):
        subprocess.run(["flite", "-voice", voice.removeprefix("flite:"), "-t", text, "-o", str(out)], check=True)
    else:
        subprocess.run(["espeak-ng", "-v", f"en-us+{voice}", "-w", str(out), text], check=True)
    samples, rate = sf.read(out, dtype="float32")
    return samples, rate


def mp3_round_trip(samples: np.ndarray, rate: int, bit_rate: int = 32000) -> tuple[np.ndarray, int]:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate)
        stream.bit_rate = bit_rate
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return decode(buffer.getvalue())


def phone_round_trip(samples: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """300-3400 Hz band, 8 kHz, G.711 mu-law in a WAV (encoded by FFmpeg through PyAV)."""
    narrow = resample(samples, rate, 8000).astype(np.float64)
    spectrum = np.fft.rfft(narrow)
    hz = np.fft.rfftfreq(narrow.shape[0], 1 / 8000)
    spectrum[(hz < 300) | (hz > 3400)] = 0
    band = np.clip(np.fft.irfft(spectrum, n=narrow.shape[0]), -1, 1).astype(np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="wav") as out:
        stream = out.add_stream("pcm_mulaw", rate=8000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(band[None, :], format="flt", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return decode(buffer.getvalue())


def round_trip(codec: str, samples: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    if codec == "mp3":
        return mp3_round_trip(samples, rate)
    if codec == "phone":
        return phone_round_trip(samples, rate)
    if codec == "resampled":
        up = resample(samples, rate, 44100)
        return decode(wav_pcm16(resample(up, 44100, 24000), 24000))
    return samples, rate


def build_clips(speakers: list[str]) -> list[Clip]:
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for who in speakers:
            for i, texts in enumerate(SOURCE_TEXTS):
                samples, rate = synthesise(who, " ".join(texts), Path(tmp))
                clips.append(Clip(who, "source", i, "none", samples, rate))
            for i, text in enumerate(PROBE_TEXTS):
                samples, rate = synthesise(who, text, Path(tmp))
                codec = CODECS[(i + speakers.index(who)) % len(CODECS)]  # every codec, spread over speakers
                clips.append(Clip(who, "probe", i, codec, *round_trip(codec, samples, rate)))
    return clips


def rates(same: np.ndarray, different: np.ndarray, threshold: float) -> tuple[float, float]:
    false_accept = float(np.mean(different >= threshold))
    false_reject = float(np.mean(same < threshold))
    return false_accept, false_reject


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    speakers = ESPEAK_VARIANTS + [f"flite:{v}" for v in FLITE_VOICES]
    clips = build_clips(speakers)
    speaker.compute_voiceprint(clips[0].samples, clips[0].rate)  # load the models before timing
    started = time.perf_counter()
    wide = [speaker.compute_voiceprint(c.samples, c.rate) for c in clips]
    elapsed = time.perf_counter() - started
    audio_s = sum(c.samples.shape[0] / c.rate for c in clips)
    ms_per_clip = 1000 * elapsed / len(clips)
    ms_per_6s = 1000 * elapsed / audio_s * 6
    narrowband = [speaker.is_narrowband(c.samples, c.rate) for c in clips]
    phone = [speaker.voiceprint(c.samples, c.rate, telephone_band=True) if any(narrowband) else None for c in clips]

    # Each pair is judged as audit.fidelity.check.compare_clips judges it (telephone band when
    # either clip is narrowband); a clip whose speech the detector misses is counted apart.
    same, different, by_codec = [], [], {c: [] for c in CODECS}
    unchecked = 0
    confusions: dict[tuple[str, str], float] = {}
    for i, j in itertools.product(range(len(clips)), repeat=2):
        a, b = clips[i], clips[j]
        if a.kind != "source" or b.kind != "probe":
            continue
        narrow = narrowband[i] or narrowband[j]
        pa, pb = (phone[i], phone[j]) if narrow else (wide[i], wide[j])
        result = verdict.judge(pa, pb, threshold=-1.0)
        if result.similarity is None:
            unchecked += 1
            continue
        if a.speaker == b.speaker:
            same.append(result.similarity)
            by_codec[b.codec].append(result.similarity)
        else:
            different.append(result.similarity)
            confusions[(a.speaker, b.speaker)] = max(confusions.get((a.speaker, b.speaker), -1.0), result.similarity)
    same_a, diff_a = np.array(same), np.array(different)

    grid = np.round(np.arange(0.50, 0.991, 0.01), 2)
    table = [(float(t), *rates(same_a, diff_a, t)) for t in grid]
    lowest = next(t for t, fa, _ in table if fa < FA_GOAL)
    chosen = round(lowest + MARGIN, 2)
    fa, fr = rates(same_a, diff_a, chosen)

    print(f"speakers {len(speakers)} ({len(ESPEAK_VARIANTS)} espeak-ng variants, {len(FLITE_VOICES)} flite voices); "
          f"clips {len(clips)} ({audio_s:.0f} s of audio)")
    print(f"pairs: {len(same)} same-speaker, {len(different)} different-speaker (source x probe, different sentences); "
          f"{unchecked} unchecked (too little speech detected)")
    print(f"same-speaker similarity: min {same_a.min():.3f}  p1 {np.percentile(same_a, 1):.3f}  "
          f"median {np.median(same_a):.3f}")
    print(f"different-speaker similarity: median {np.median(diff_a):.3f}  p99 {np.percentile(diff_a, 99):.3f}  "
          f"max {diff_a.max():.3f}")
    for codec, scores in by_codec.items():
        print(f"  same speaker, probe via {codec:9s}: n {len(scores):3d}  min {min(scores):.3f}  "
              f"median {float(np.median(scores)):.3f}")
    print("\n| threshold | false accepts | false rejects |\n|---|---|---|")
    for t, fa_t, fr_t in table:
        if abs(t - chosen) <= 0.055 or t == verdict.THRESHOLD:
            mark = " (chosen)" if t == chosen else " (lowest under the goal)" if t == lowest else ""
            print(f"| {t:.2f}{mark} | {fa_t:.2%} ({round(fa_t * len(different))}) | "
                  f"{fr_t:.2%} ({round(fr_t * len(same))}) |")
    worst = sorted(confusions.items(), key=lambda kv: -kv[1])[:5]
    print("closest different speakers (source, probe: max similarity): "
          + ", ".join(f"{a}/{b} {v:.3f}" for (a, b), v in worst))
    print(f"\nchosen threshold {chosen:.2f} (lowest under the goal {lowest:.2f} + margin {MARGIN:.2f}): "
          f"false accepts {fa:.2%}, false rejects {fr:.2%} (goal: false accepts under {FA_GOAL:.0%})")
    print(f"shipped verdict.THRESHOLD {verdict.THRESHOLD:.2f}: false accepts "
          f"{rates(same_a, diff_a, verdict.THRESHOLD)[0]:.2%}, false rejects {rates(same_a, diff_a, verdict.THRESHOLD)[1]:.2%}")
    print(f"time: {ms_per_clip:.0f} ms per clip (mean {audio_s / len(clips):.1f} s), {ms_per_6s:.0f} ms per 6 s of audio")
    if args.json:
        args.json.write_text(json.dumps({
            "pairs_same": len(same), "pairs_different": len(different), "chosen": chosen,
            "false_accepts": fa, "false_rejects": fr, "ms_per_clip": ms_per_clip, "ms_per_6s": ms_per_6s,
            "table": table,
        }, indent=1))


if __name__ == "__main__":
    main()
