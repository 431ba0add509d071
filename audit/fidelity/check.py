"""The calls a stage makes: decode a clip, say whether it speaks, judge a clone against its source.

Owns the glue between bytes and the verdict: decoding with audit.core.audio (soundfile, PyAV for
mp4/webm), the band two clips are compared in (the telephone band when either is narrowband),
voice-activity and speaker embedding, and turning every per-voice failure (no source,
undecodable audio, too little speech, heavy clipping, a score a person must hear) into an
`unchecked` verdict rather than an exception.

May import: audit.core only (and this package).
"""

from __future__ import annotations

import numpy as np

from audit.core.audio import decode_head
from audit.core.errors import AudioError
from audit.fidelity import speaker, vad, verdict

Clip = tuple[np.ndarray, int]  # mono float samples and their sample rate


#: The most audio a clip is decoded to: a source is 5–15 s and a probe a sentence, so this
#: only bounds what a hostile or mistaken file can cost.
MAX_DECODE_S = 60.0


def load(data: bytes) -> Clip:
    """Mono float samples and rate from any audio file's bytes, at most MAX_DECODE_S of them;
    raises AudioError when the bytes are not audio."""
    return decode_head(data, MAX_DECODE_S)


def speech(data: bytes) -> vad.SpeechActivity:
    """How much of an audio file is speech (raises AudioError when the bytes are not audio)."""
    samples, rate = load(data)
    return vad.detect(samples, rate)


def compare_clips(source: Clip | None, clone: Clip | None) -> verdict.FidelityVerdict:
    """Judge decoded clips; None for a missing one. When either clip is narrowband (by its rate
    or its content) both are compared in the telephone band, with that band's thresholds."""
    if source is None:
        return verdict.no_source()
    if clone is None:
        return verdict.judge(speaker.voiceprint(*source), None)
    narrow = speaker.is_narrowband(*source) or speaker.is_narrowband(*clone)
    return verdict.judge(
        speaker.voiceprint(*source, telephone_band=narrow),
        speaker.voiceprint(*clone, telephone_band=narrow),
        band=verdict.Band.TELEPHONE if narrow else verdict.Band.WIDE,
    )


def compare(source: bytes | None, clone: bytes | None) -> verdict.FidelityVerdict:
    """Judge a clone's probe answer against its source recording, both as file bytes.

    Never raises for bad audio: a missing source, undecodable bytes or too little speech
    become an `unchecked` verdict naming which clip and why.
    """
    if source is None:
        return verdict.no_source()
    clips: list[Clip | None] = []
    for which, data in (("source", source), ("clone", clone)):
        if data is None:
            clips.append(None)
            continue
        try:
            clips.append(load(data))
        except AudioError as exc:
            return verdict.undecodable(which, str(exc))
    return compare_clips(clips[0], clips[1])
