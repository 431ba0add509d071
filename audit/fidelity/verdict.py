"""The fidelity verdict: does the new clone's voice match its source recording? (pure)

Owns turning measurements into `match`, `mismatch` or `unchecked` with a reason a person can
act on. It computes nothing from audio: it takes two `Voiceprint`s (or the fact that one is
missing or undecodable) and compares their cosine similarity with THRESHOLD.

THRESHOLD is calibrated, not guessed: `bench/fidelity.py` builds same-speaker and
different-speaker pairs from espeak-ng and flite voices (different sentences, MP3, 8 kHz
mu-law telephone band, resampling) and picks the lowest threshold with under 1 % false
accepts; its table is in the README.

May import: audit.core only (and the types of this package).
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.core.models import Fidelity
from audit.fidelity.speaker import Voiceprint, similarity

THRESHOLD = 0.84  # cosine similarity at or above which two clips are the same speaker (bench/fidelity.py)
MIN_SPEECH_S = 1.0  # less speech than this in either clip is too little to tell a speaker by


@dataclass(frozen=True)
class FidelityVerdict:
    """`similarity` is None when unchecked; `reason` always says why, with the figures."""

    fidelity: Fidelity
    similarity: float | None
    reason: str


def unchecked(why: str) -> FidelityVerdict:
    return FidelityVerdict(Fidelity.UNCHECKED, None, why)


def no_source() -> FidelityVerdict:
    return unchecked("no source recording to compare the clone with")


def undecodable(which: str, error: str) -> FidelityVerdict:
    """`which` is 'source' or 'clone'; `error` the decoder's message."""
    return unchecked(f"{which} audio is not decodable: {error}")


def judge(
    source: Voiceprint | None,
    clone: Voiceprint | None,
    threshold: float = THRESHOLD,
    telephone_band: bool = False,
) -> FidelityVerdict:
    """Compare the clone's voice with its source's; too little speech in either makes it unchecked.

    `telephone_band` says the voiceprints were taken in the telephone band (one clip is narrowband);
    the reason then says so.
    """
    if source is None:
        return no_source()
    if clone is None:
        return unchecked("no clone audio to compare with the source")
    for which, print_ in (("source", source), ("clone", clone)):
        if print_.embedding is None or print_.speech.seconds < MIN_SPEECH_S:
            return unchecked(
                f"too little speech in the {which} to tell the speaker (needs {MIN_SPEECH_S:.1f} s): "
                f"{print_.speech.describe()}"
            )
    assert source.embedding is not None and clone.embedding is not None
    score = round(similarity(source.embedding, clone.embedding), 3)
    band = " (compared in the telephone band)" if telephone_band else ""
    if score >= threshold:
        return FidelityVerdict(Fidelity.MATCH, score, f"same speaker: similarity {score:.3f} >= {threshold:.2f}{band}")
    return FidelityVerdict(
        Fidelity.MISMATCH,
        score,
        f"the clone does not sound like its source: similarity {score:.3f} < {threshold:.2f}{band}",
    )
