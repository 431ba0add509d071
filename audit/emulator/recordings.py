"""A seeded archive of original recordings for a generated org's legacy voices.

This module owns `generate_archive(org, folder, seed)`: for every clone whose engine is
"legacy" it writes (or deliberately leaves out) the recording an operator would have kept,
and returns `ArchiveTruth`, the planning outcome each voice must get:
"ok" (8-12 s of speech, WAV or MP3; real speech of the voice's stock speaker, voice.py, so
voices sound like different people to a speaker encoder and a re-clone comes back as its source), "fit" (usable once trimmed or re-encoded: 40 s long,
or over 5 MB as 44.1 kHz stereo WAV), "missing", "corrupt" (random bytes named .wav),
"too-short" (2 s) and "silent"; every outcome appears once there are 7 legacy voices (the
draw of kinds is archivekinds.py's, so the outcomes are known without writing the files).
Files are named by voice id, or by display name when that name is unique and file-safe.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from audit.emulator import voice
from audit.emulator.archivekinds import OUTCOME, ArchiveOutcome, Kind, draw_kinds
from audit.emulator.org import Org

SAFE_NAME = re.compile(r"[\w][\w .-]{0,80}")
ARCHIVE_TEXT = "This is the original recording kept for the voice clone archive. "


@dataclass(frozen=True)
class ArchiveTruth:
    """Per legacy voice: the expected planning outcome and the file written (None: missing)."""

    outcomes: Mapping[str, ArchiveOutcome]
    paths: Mapping[str, Path | None]


def _text_for(seconds: float) -> str:
    n_chars = int(seconds * voice.CHARS_PER_SECOND)
    return (ARCHIVE_TEXT * (n_chars // len(ARCHIVE_TEXT) + 1))[:n_chars]


def _stem(voice_id: str, name: str, unique_names: set[str], rng: random.Random) -> str:
    if name in unique_names and SAFE_NAME.fullmatch(name) and rng.random() < 0.4:
        return name
    return voice_id


def _write(path: Path, kind: Kind, voice_id: str, rng: random.Random) -> None:
    if kind == "corrupt":
        path.write_bytes(rng.randbytes(rng.randrange(2_000, 40_000)))
        return
    seconds = {"long": 40.0, "big": 40.0, "too-short": 2.0}.get(kind, rng.uniform(8.0, 12.0))
    rate = 44100 if kind == "big" else 24000
    if kind == "silent":
        samples = voice.silence(voice_id, _text_for(seconds), rate)
    else:
        samples = voice.speech(voice.stock(voice_id), voice_id, _text_for(seconds), rate)
    data = np.column_stack([samples, samples]) if kind == "big" else samples
    audio_format = "MP3" if path.suffix == ".mp3" else "WAV"
    sf.write(path, data, rate, format=audio_format, **({"subtype": "PCM_16"} if audio_format == "WAV" else {}))


def generate_archive(org: Org, folder: Path, seed: int) -> ArchiveTruth:
    """Write the archive for `org`'s legacy voices into `folder`; same seed, same files."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    legacy = [c for c in org.clones if c.engine == "legacy"]
    name_counts = Counter(str(c.fields.get("displayName", "")) for c in legacy)
    unique_names = {name for name, count in name_counts.items() if count == 1}
    outcomes: dict[str, ArchiveOutcome] = {}
    paths: dict[str, Path | None] = {}
    for clone, kind in zip(legacy, draw_kinds(len(legacy), rng), strict=True):
        outcomes[clone.voice_id] = OUTCOME[kind]
        if kind == "missing":
            paths[clone.voice_id] = None
            continue
        suffix = ".mp3" if kind in ("ok", "long") and rng.random() < 0.3 else ".wav"
        stem = _stem(clone.voice_id, str(clone.fields.get("displayName", "")), unique_names, rng)
        path = folder / f"{stem}{suffix}"
        _write(path, kind, clone.voice_id, rng)
        paths[clone.voice_id] = path
    return ArchiveTruth(outcomes=outcomes, paths=paths)
