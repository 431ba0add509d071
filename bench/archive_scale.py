"""Scale benchmark: indexing and checking an archive, time and peak memory, against baselines.

Builds archives of N small files (spread over folders of 500) in a temporary folder, plus
a few huge sparse files (os.truncate: gigabytes that take no disk), and measures each
step in a fresh child process, so each peak RSS (VmHWM, else ru_maxrss) is that step's alone:
- walk: a bare os.walk of the tree, the baseline of indexing;
- index: ArchiveIndex over the tree, then `find` for every voice (one per file);
- hash: open, read and sha256 each of a sample of real 8 s WAV recordings, the
  baseline of checking;
- check: check_source on the same recordings;
- long: check_source and make_fitted on a 9 min 48 kHz WAV (100 MB as float32
  samples), against reading and hashing the same file;
- huge: check_source on each huge sparse file (it must neither read it whole nor
  decode it).
Every child imports the same modules, so the RSS figures differ by what the step holds.

    python bench/archive_scale.py --sizes 10000 100000 --checks 200
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from audit.archive.checks import check_source, make_fitted
from audit.archive.index import ArchiveIndex
from audit.core.models import Clone

PER_FOLDER = 500
HUGE = 10**9  # voice numbers of the huge files
LONG = 10**8  # voice number of the 9 min recording
RATE = 16000


def voice_id(i: int) -> str:
    return f"voice_{i:010x}"


def build_small(folder: Path, n: int) -> None:
    """n tiny files named after n voices, 500 to a folder (contents do not matter to the index)."""
    for i in range(n):
        sub = folder / f"batch_{i // PER_FOLDER:04d}"
        if i % PER_FOLDER == 0:
            sub.mkdir()
        (sub / f"take {i} {voice_id(i)}.wav").write_bytes(b"RIFF")


def build_huge(folder: Path) -> list[str]:
    """Three 4 GiB sparse files: zeros, a WAV header, an MP3 frame header; their voice ids."""
    size = 4 * 2**30
    wav = (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt "
           + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16) + b"data" + struct.pack("<I", 0xFFFFFFF0))
    mp3 = bytes.fromhex("fffb9064") + bytes(413)  # MPEG-1 layer III, 128 kb/s, 44.1 kHz
    voices = []
    for k, (name, head) in enumerate((("zeros.wav", b""), ("header.wav", wav), ("frames.mp3", mp3))):
        voice = voice_id(HUGE + k)
        path = folder / "huge" / f"{voice} {name}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(head)
        os.truncate(path, size)
        voices.append(voice)
    return voices


def voiced(seconds: float, rate: int, pitch: float) -> np.ndarray:
    """Syllable-like bursts of a voiced tone, mono float32."""
    t = np.arange(round(seconds * rate)) / rate
    envelope = np.sin(2 * np.pi * 3.0 * t) > -0.2
    return (0.3 * np.sin(2 * np.pi * pitch * t) * envelope).astype(np.float32)


def build_recordings(folder: Path, n: int) -> None:
    """n real 8 s mono 16 kHz PCM16 WAVs, and one of 9 min at 48 kHz (voice number LONG)."""
    for i in range(n):
        sf.write(folder / f"{voice_id(i)}.wav", voiced(8, RATE, 140 + i % 50), RATE, subtype="PCM_16")
    sf.write(folder / f"{voice_id(LONG)}.wav", voiced(540, 48000, 150), 48000, subtype="PCM_16")


# -- the measured steps, each run in its own child process --------------------------------


def step(name: str, folder: Path, n: int, huge: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    if name == "walk":
        count = sum(len(files) for _, _, files in os.walk(folder))
        assert count >= n
    elif name == "index":
        index = ArchiveIndex(folder)
        built = time.perf_counter()
        found = sum(index.find(Clone(voice_id=voice_id(i))).problem is None for i in range(n))
        assert found == n, found
        return {"seconds": built - started, "find_s": time.perf_counter() - built, "rss_mb": rss_mb()}
    elif name in ("hash", "hash-long"):
        for i in range(n) if name == "hash" else [LONG]:
            with open(folder / f"{voice_id(i)}.wav", "rb") as file:
                hashlib.file_digest(file, "sha256")
    elif name == "long":
        match = ArchiveIndex(folder).find(Clone(voice_id=voice_id(LONG)))
        started = time.perf_counter()
        result = check_source(match)
        assert match.path is not None and result.fit is not None, result
        checked = time.perf_counter()
        make_fitted(match.path, result)
        return {"seconds": checked - started, "fit_s": time.perf_counter() - checked, "rss_mb": rss_mb()}
    elif name == "check":
        index = ArchiveIndex(folder)
        started = time.perf_counter()
        for i in range(n):
            result = check_source(index.find(Clone(voice_id=voice_id(i))))
            assert result.problem is None and result.duration_s == 8.0, result
    elif name == "huge":
        index = ArchiveIndex(folder)
        details = {}
        for voice in huge:
            match = index.find(Clone(voice_id=voice))
            one = time.perf_counter()
            result = check_source(match)
            details[match.relative or voice] = (round(time.perf_counter() - one, 4), str(result.problem))
        return {"seconds": time.perf_counter() - started, "rss_mb": rss_mb(), "details": details}  # type: ignore[dict-item]
    return {"seconds": time.perf_counter() - started, "rss_mb": rss_mb()}


def rss_mb() -> float:
    """Peak RSS of this process. VmHWM where there is /proc: ru_maxrss also counts the parent's
    peak, which a child inherits across fork and exec on Linux."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kilobytes) / 1024


def run_child(name: str, folder: Path, n: int, huge: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", name, "--folder", str(folder), "--n", str(n), "--huge", *huge],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--huge", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.folder, args.n, args.huge)))
        return 0

    print(f"{'files':>8} {'walk s':>8} {'index s':>8} {'× walk':>7} {'find µs':>8} "
          f"{'walk MB':>8} {'index MB':>9} {'+MB':>6}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            build_small(folder, size)
            huge = build_huge(folder)
            walk = run_child("walk", folder, size, huge)
            index = run_child("index", folder, size, huge)
            print(f"{size:>8} {walk['seconds']:>8.3f} {index['seconds']:>8.3f} "
                  f"{index['seconds'] / walk['seconds']:>7.1f} {index['find_s'] / size * 1e6:>8.1f} "
                  f"{walk['rss_mb']:>8.1f} {index['rss_mb']:>9.1f} {index['rss_mb'] - walk['rss_mb']:>6.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build_recordings(folder, args.checks)
        huge = build_huge(folder)
        hashed = run_child("hash", folder, args.checks, huge)
        checked = run_child("check", folder, args.checks, huge)
        per_hash = hashed["seconds"] / args.checks * 1000
        per_check = checked["seconds"] / args.checks * 1000
        print(f"\ncheck of an 8 s WAV: {per_check:.2f} ms (read + sha256 alone: {per_hash:.2f} ms, "
              f"×{per_check / per_hash:.1f}); peak RSS {checked['rss_mb']:.1f} MB "
              f"(read + sha256: {hashed['rss_mb']:.1f} MB)")
        hashed = run_child("hash-long", folder, 1, huge)
        long = run_child("long", folder, 1, huge)
        print(f"check of a 9 min 48 kHz WAV: {long['seconds']:.2f} s, fitted copy {long['fit_s']:.2f} s "
              f"(read + sha256 alone: {hashed['seconds']:.2f} s); peak RSS {long['rss_mb']:.1f} MB "
              f"(read + sha256: {hashed['rss_mb']:.1f} MB)")
        sparse = run_child("huge", folder, args.checks, huge)
        for rel, (seconds, problem) in sparse["details"].items():  # type: ignore[attr-defined]
            print(f"check of 4 GiB sparse {rel}: {seconds * 1000:.1f} ms → {problem}")
        print(f"peak RSS checking the huge files: {sparse['rss_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
