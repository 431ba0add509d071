"""Listening clips: a short excerpt of a source recording and of its new clone, side by side.

Owns what a reviewer hears in report.html's listening section, and which voices get clips:
every voice whose fidelity is not `match` (a mismatch, or a check that could not be made) plus a
small fixed sample of the rest (`sampled`: the LISTEN_SAMPLE voice ids that come first by
sha256, so the same plan always samples the same voices), or every voice on request. Each clip
is at most CLIP_S of 16 kHz mono PCM16 WAV (~32 KB a second): at most ~0.4 MB per voice, so a
report of thousands of voices stays bounded by the flagged ones. Decoding goes through the
bounded decoder of audit.core.audio and never reads past CLIP_S.

Pure apart from decoding bytes in memory; the writer (`files.write_listen_clips`) puts the
clips where `RunFolder.listen_clip` says. The decoder (numpy, soundfile) is imported by `clip`
alone, when a clip is made: choosing voices and ordering the listening rows load neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from audit.core.errors import AudioError
from audit.core.models import Fidelity

CLIP_S = 6.0  # seconds of each side kept for listening
CLIP_RATE = 16000
LISTEN_SAMPLE = 10  # voices with a `match` verdict that get clips anyway, for spot checks
FLAGGED = (Fidelity.MISMATCH, Fidelity.UNCHECKED)


def sampled(voice_ids: Iterable[str], count: int = LISTEN_SAMPLE) -> frozenset[str]:
    """The `count` voice ids that come first by sha256: a stable, spread-out sample."""
    return frozenset(sorted(voice_ids, key=lambda v: hashlib.sha256(v.encode()).hexdigest())[:count])


def wanted(fidelity: str, voice_id: str, sample: frozenset[str], every: bool) -> bool:
    """Whether a voice gets listening clips: flagged, sampled, or every voice asked for."""
    return every or fidelity in FLAGGED or voice_id in sample


def clip(data: bytes, seconds: float = CLIP_S) -> bytes:
    """The first `seconds` of an audio file's bytes as 16 kHz mono PCM16 WAV; AudioError when not audio."""
    import numpy as np

    from audit.core import audio

    samples, rate = audio.decode_head(data, seconds)
    if samples.shape[0] == 0 or not rate:
        raise AudioError("no audio frames to listen to")
    samples = np.nan_to_num(samples)
    if rate != CLIP_RATE:
        samples = audio.resample(samples, rate, CLIP_RATE)
    return audio.wav_pcm16(samples, CLIP_RATE)


def listen_rows(mapping: Sequence[Mapping[str, Any]], clips: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Rows of the listening section: the mapping rows that have clips (old id → the source's
    and the clone's relative links), flagged voices first, then by similarity (lowest first)."""
    rows = [{**m, "source_clip": clips[m["old_voice_id"]][0], "clone_clip": clips[m["old_voice_id"]][1]}
            for m in mapping if m["old_voice_id"] in clips]

    def order(row: Mapping[str, Any]) -> tuple[int, float, str]:
        similarity = row.get("similarity")
        score = float(similarity) if isinstance(similarity, int | float) and similarity == similarity else -1.0
        return (0 if row.get("fidelity") in FLAGGED else 1, score, str(row["old_voice_id"]))

    return sorted(rows, key=order)
