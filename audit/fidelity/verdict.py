"""The fidelity verdict: does the new clone's voice match its source recording? (pure)

Owns turning measurements into `match`, `mismatch` or `unchecked` with a reason a person can
act on. It computes nothing from audio: it takes two `Voiceprint`s (or the fact that one is
missing or undecodable), the band they were compared in and their clipping, and places their
cosine similarity against that band's two thresholds: at or above `accept` the same speaker
(match), below `reject` another speaker (mismatch), in between `unchecked` with a reason that
asks a person to listen. A band with no thresholds cannot be told apart reliably and is always
`unchecked`. A pair where either clip is clipped beyond CLIPPED_UNRELIABLE is judged by the
band's CLIPPED_THRESHOLDS instead (clipping drags one voice's score far down: a match still needs
the band's accept, a mismatch a score far below its reject, most of them in between go to a
person), and one clipped beyond CLIPPED_BEYOND is always `unchecked`; every such reason says
the clip is clipped.

The thresholds are calibrated, not guessed: `bench/fidelity.py` builds same-speaker and
different-speaker pairs from voices of real people (Debian's festival and flite voices, each
built from one person's recordings, in six languages; the same person through two engines is
an imperfect imitation), several sentences each, through the channels a re-clone meets
(resampling, MP3 32/64 kbit/s, 8 kHz mu-law and plain 8 kHz, noise at 20 dB SNR, -20/+20 dB
level, clipping, pitch/tempo/tilt). Thresholds are chosen on the calibration speakers only:
`accept` 0.01 above the highest score two different calibration speakers reached (a wrong voice
costs more than a review), `reject` the highest with at most 2 % (wideband) or 3 % (telephone
band) false rejects; five held-out speakers (two women, five languages) are reported apart.
CLIPPED_UNRELIABLE is where the same speaker's scores fall apart in the bench's loud probes (up
to 8 % of the samples clipped they hold). CLIPPED_THRESHOLDS come from the calibration pairs
clipped beyond it: `accept` the band's, or 0.01 above the highest clipped impostor when that is
higher; `reject` the highest with at most 2 % of the clipped same-speaker pairs below it.
Setting the telephone band's accept by a 0.5 % calibration false-accept target (0.852) instead
was measured and not taken: 3.98 % false accepts on the held-out speakers.
Its table is in the README.

May import: audit.core only (and the types of this package).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from audit.core.models import Fidelity
from audit.fidelity.speaker import Voiceprint, similarity



class Band(StrEnum):
    """Where two clips were compared: full band, or cut to 300-3400 Hz because one is narrowband."""

    WIDE = "wideband"
    TELEPHONE = "telephone band"


@dataclass(frozen=True)
class Thresholds:
    """A band's cut-offs: at or above `accept` a match, below `reject` a mismatch, in between a
    person listens. None for both: the band cannot tell people apart reliably (always listen)."""

    accept: float | None
    reject: float | None


# bench/fidelity.py on its calibration speakers. Held-out speakers, wideband: 0.00 % false
# accepts, 3.70 % false rejects, 4.27 % unchecked; telephone band: 0.14 %, 4.65 %, 21.55 % (equal
# error rates 3.2 % and 9.6 %: the telephone band tells people apart far worse, hence its wide gray zone).
WIDEBAND = Thresholds(accept=0.81, reject=0.793)
TELEPHONE = Thresholds(accept=0.895, reject=0.814)
THRESHOLDS = {Band.WIDE: WIDEBAND, Band.TELEPHONE: TELEPHONE}
# Heavily clipped pairs (CLIPPED_UNRELIABLE to CLIPPED_BEYOND), bench/fidelity.py on its calibration speakers.
CLIPPED_THRESHOLDS = {Band.WIDE: Thresholds(accept=0.81, reject=0.61), Band.TELEPHONE: Thresholds(accept=0.895, reject=0.632)}
MIN_SPEECH_S = 1.0  # less speech than this in either clip is too little to tell a speaker by
CLIPPED_NOTED = 0.001  # a clip with this share of its audible samples at full scale is said to be clipped
CLIPPED_UNRELIABLE = 0.08  # ... with this share it is judged by CLIPPED_THRESHOLDS (bench/fidelity.py)
CLIPPED_BEYOND = 0.5  # ... and with half its samples at full scale it is not judged at all (the bench's go to 65 %)


@dataclass(frozen=True)
class FidelityVerdict:
    """`similarity` is None when no score was computed; `reason` always says why, with the figures."""

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
    band: Band = Band.WIDE,
    thresholds: Thresholds | None = None,
) -> FidelityVerdict:
    """Compare the clone's voice with its source's in `band` (the band's calibrated thresholds
    unless `thresholds` are given); too little speech in either makes it unchecked, and so does
    a score between the thresholds, heavy clipping or a band that cannot be told apart: each
    reason says to listen and gives the figures."""
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
    cut = thresholds or THRESHOLDS[band]
    score = round(similarity(source.embedding, clone.embedding), 3)
    where = " (compared in the telephone band)" if band is Band.TELEPHONE else ""
    clipping = _clipping(source, clone)
    if clipping and max(source.clipped, clone.clipped) >= CLIPPED_BEYOND:
        return FidelityVerdict(Fidelity.UNCHECKED, score, f"listen: {clipping}, too distorted to tell the speaker "
                                                          f"(similarity {score:.3f}{where})")
    if clipping and max(source.clipped, clone.clipped) >= CLIPPED_UNRELIABLE:
        return _judge_clipped(score, CLIPPED_THRESHOLDS[band], clipping, where)
    note = f"; {clipping}" if clipping else ""
    if cut.accept is None or cut.reject is None:
        return FidelityVerdict(Fidelity.UNCHECKED, score, f"listen: the {band.value} cannot tell these voices apart "
                                                          f"reliably (similarity {score:.3f}){note}")
    if score >= cut.accept:
        return FidelityVerdict(Fidelity.MATCH, score, f"same speaker: similarity {score:.3f} >= {cut.accept:.3f}{where}{note}")
    if score < cut.reject:
        return FidelityVerdict(
            Fidelity.MISMATCH, score,
            f"the clone does not sound like its source: similarity {score:.3f} < {cut.reject:.3f}{where}{note}",
        )
    return FidelityVerdict(
        Fidelity.UNCHECKED, score,
        f"listen: similarity {score:.3f} is between {cut.reject:.3f} (another speaker) and {cut.accept:.3f} "
        f"(the same speaker){where}{note}",
    )


def _judge_clipped(score: float, cut: Thresholds, clipping: str, where: str) -> FidelityVerdict:
    """A heavily clipped pair: clipping drags one voice's score far down, so only a score above
    the clipped cut-off's accept is a match and only one below its (much lower) reject another
    speaker; in between a person listens. Every reason says the clip is clipped."""
    if cut.accept is not None and score >= cut.accept:
        return FidelityVerdict(Fidelity.MATCH, score, f"same speaker: similarity {score:.3f} >= {cut.accept:.3f}"
                                                      f"{where}, although {clipping}")
    if cut.reject is not None and score < cut.reject:
        return FidelityVerdict(
            Fidelity.MISMATCH, score,
            f"the clone does not sound like its source: similarity {score:.3f} < {cut.reject:.3f}, far below "
            f"what clipping alone costs{where}; {clipping}",
        )
    return FidelityVerdict(Fidelity.UNCHECKED, score, f"listen: {clipping}, too distorted to tell the speaker "
                                                      f"(similarity {score:.3f}{where})")


def _clipping(source: Voiceprint, clone: Voiceprint) -> str:
    """'the clone is clipped (12.0 % of its samples at full scale)', or '' when neither is."""
    said = [f"the {which} is clipped ({p.clipped:.1%} of its samples at full scale)"
            for which, p in (("source", source), ("clone", clone)) if p.clipped >= CLIPPED_NOTED]
    return " and ".join(said)
