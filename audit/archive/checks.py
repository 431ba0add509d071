"""Checking an archived recording and making a fitted copy of it for upload.

This module owns the rules that decide whether a recording can seed a new clone
(docs/api-contract.md, §create: an allow-listed MIME type, at most 5 MB, 5–15 s of clean speech
recommended) and the fitted copy uploaded when the file itself cannot be.

- The real type comes from the content (`audio.sniff`), never from the extension.
  Bytes recognised as something else (an image, a document, text, an audio type the
  API refuses) are UNSUPPORTED; bytes recognised as nothing, or an audio type that does
  not decode, or a file with no audio frames, are CORRUPT.
- Duration and speech come from the decoded samples: `speech_s` is the number of active
  20 ms frames (`audio.active_frames`) times 20 ms. No active frame is SILENT. Less than
  MIN_DURATION_S of audio, or less than MIN_SOURCE_SPEECH_S of active frames, is TOO_SHORT:
  speech is ~70–80 % active frames once the gaps between words are left out, so 3.5 s
  of active frames is about 5 s of talking.
- A recording longer than 15 s, over 5 MB, or of a type the API does not accept (flac,
  ogg) gets a FitWindow: the ≤ 15 s span with the most active frames (ties: the
  earliest), trimmed to its speech plus PAD_S either side, never shorter than 5 s.
- `make_fitted` cuts that window into a mono PCM16 WAV at the source rate (resampled
  down to MAX_RATE above it): at most 15 s × 44.1 kHz × 2 bytes ≈ 1.3 MB, and the same
  input always gives the same bytes. The archive itself is only ever read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from audit.core import audio
from audit.archive.index import SourceMatch
from audit.core.errors import AudioError
from audit.core.models import FitWindow, SourceCheck, SourceProblem

#: Container → Content-Type for the types the API accepts as they are.
ACCEPTED_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "mp4": "audio/mp4", "webm": "audio/webm"}
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_CLIP_S = 15.0
MIN_DURATION_S = 5.0
MIN_SOURCE_SPEECH_S = 3.5
PAD_S = 0.2  # silence kept around the speech of a fitted window
MAX_RATE = 44100
# PyAV for MP3 too: libsndfile's mpg123 prints decoder warnings straight to stderr.
_DECODED_BY_AV = frozenset({"mp3", "mp4", "webm"})
_EXPORT = "export it as WAV or MP3"

#: Signatures of other files, for a message that says what they are: (magic, what, is audio).
_OTHER_TYPES: tuple[tuple[bytes, str, bool], ...] = (
    (b"\x89PNG", "a PNG image", False),
    (b"\xff\xd8\xff", "a JPEG image", False),
    (b"GIF8", "a GIF image", False),
    (b"%PDF", "a PDF document", False),
    (b"PK\x03\x04", "a ZIP archive or Office document", False),
    (b"FORM", "AIFF audio", True),
    (b"\x30\x26\xb2\x75", "WMA/ASF audio", True),
    (b"#!AMR", "AMR audio", True),
)


@dataclass(frozen=True, slots=True)
class FittedAudio:
    """The copy uploaded instead of an archived file that cannot be uploaded as it is."""

    data: bytes
    mime: str
    filename: str
    sha256: str
    duration_s: float


def check_source(match: SourceMatch) -> SourceCheck:
    """Read, identify, decode and measure the file a SourceMatch found (each once)."""
    found = SourceCheck(match.problem, match.detail, path=match.relative, matched_by=match.matched_by)
    if match.problem is not None or match.path is None:
        return replace(found, problem=match.problem or SourceProblem.MISSING)
    name = match.relative or str(match.path)
    try:
        data = match.path.read_bytes()
    except FileNotFoundError:
        return replace(found, problem=SourceProblem.MISSING,
                       detail=f"{name} was removed after the archive was indexed")
    except OSError as exc:
        return replace(found, problem=SourceProblem.CORRUPT,
                       detail=f"{name} cannot be read ({exc.strerror}); check its permissions")
    kind = audio.sniff(data[:64])
    found = replace(found, sha256=hashlib.sha256(data).hexdigest(), n_bytes=len(data), kind=kind)
    if kind is None:
        problem, detail = _not_audio(name, data[:64])
        return replace(found, problem=problem, detail=detail)
    try:
        samples, rate = _decode(data, kind)
    except AudioError:  # its text names a memory buffer, not the file: say it plainly
        return replace(found, problem=SourceProblem.CORRUPT,
                       detail=f"{name} looks like {kind} but does not decode; {_EXPORT} again")
    if samples.shape[0] == 0:
        return replace(found, problem=SourceProblem.CORRUPT, detail=f"{name} is a {kind} file with "
                       f"no audio frames (truncated?); {_EXPORT} again")
    active = audio.active_frames(samples, rate)
    duration = samples.shape[0] / rate
    speech = float(np.count_nonzero(active)) * audio.FRAME_S
    found = replace(found, duration_s=round(duration, 2), speech_s=round(speech, 2))
    heard = f"{duration:.1f} s of audio, {speech:.1f} s of speech"
    if speech == 0:
        return replace(found, problem=SourceProblem.SILENT, detail=f"{name}: {duration:.1f} s with "
                       "no speech energy; use a recording of the voice speaking")
    if duration < MIN_DURATION_S or speech < MIN_SOURCE_SPEECH_S:
        return replace(found, problem=SourceProblem.TOO_SHORT, detail=f"{name}: {heard}; at least "
                       f"{MIN_DURATION_S:.0f} s holding {MIN_SOURCE_SPEECH_S} s of speech is needed "
                       "(5–15 s of clean speech is recommended)")
    reasons = []
    if duration > MAX_CLIP_S:
        reasons.append(f"{duration:.1f} s is longer than {MAX_CLIP_S:.0f} s")
    if len(data) > MAX_UPLOAD_BYTES:
        reasons.append(f"{len(data) / 2**20:.1f} MB is over {MAX_UPLOAD_BYTES // 2**20} MB")
    if kind not in ACCEPTED_MIME:
        reasons.append(f"{kind} is not accepted")
    if not reasons:
        return replace(found, detail=f"{name}: {kind}, {heard}; uploaded as it is",
                       mime=ACCEPTED_MIME[kind])
    start_s, end_s = best_window(active)
    fit = FitWindow(start_s, end_s, "; ".join(reasons))
    return replace(found, fit=fit, detail=f"{name}: {kind}, {heard}; {fit.reason}, so a fitted "
                   f"copy of {start_s:.2f}–{end_s:.2f} s is uploaded")


def best_window(active: np.ndarray) -> tuple[float, float]:
    """Start and end (s) of the ≤ 15 s span with the most active frames, trimmed to its speech.

    Ties go to the earliest span; the result is at least MIN_DURATION_S long when the
    recording is. `active` must hold at least one active frame.
    """
    n = active.shape[0]
    width = min(n, round(MAX_CLIP_S / audio.FRAME_S))
    totals = np.concatenate(([0], np.cumsum(active, dtype=np.int64)))
    first = int(np.argmax(totals[width:] - totals[: n - width + 1]))
    spoken = np.flatnonzero(active[first : first + width]) + first
    pad = round(PAD_S / audio.FRAME_S)
    start, end = max(0, int(spoken[0]) - pad), min(n, int(spoken[-1]) + 1 + pad)
    if end - start > width:  # the padding overflows: cut it evenly
        start += (end - start - width) // 2
        end = start + width
    need = min(round(MIN_DURATION_S / audio.FRAME_S), n)
    if end - start < need:  # widen around the speech, staying inside the recording
        start = max(0, min(start - (need - (end - start)) // 2, n - need))
        end = start + need
    return round(start * audio.FRAME_S, 2), round(end * audio.FRAME_S, 2)


def make_fitted(path: Path, check: SourceCheck) -> FittedAudio:
    """The fitted copy `check.fit` describes, as mono PCM16 WAV bytes (deterministic).

    Raises AudioError when the file changed since it was checked or cannot be decoded.
    """
    if check.fit is None or check.kind is None:
        raise ValueError(f"{check.path}: the check asks for no fitted copy")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioError(f"{path} cannot be read: {exc.strerror}",
                         hint="Check that the archive is mounted and readable.") from None
    if hashlib.sha256(data).hexdigest() != check.sha256:
        raise AudioError(f"{path} changed since it was checked (sha256 differs).",
                         hint="Run `clone-audit plan` again to check the new file.")
    samples, rate = _decode(data, check.kind)
    clip = samples[round(check.fit.start_s * rate) : round(check.fit.end_s * rate)]
    if rate > MAX_RATE:
        clip, rate = audio.resample(clip, rate, MAX_RATE), MAX_RATE
    wav = audio.wav_pcm16(clip, rate)
    return FittedAudio(
        data=wav,
        mime="audio/wav",
        filename=f"{path.stem}.fitted.wav",
        sha256=hashlib.sha256(wav).hexdigest(),
        duration_s=round(clip.shape[0] / rate, 3),
    )


def _decode(data: bytes, kind: str) -> tuple[np.ndarray, int]:
    return audio.decode_av(data) if kind in _DECODED_BY_AV else audio.decode(data)


def _not_audio(name: str, head: bytes) -> tuple[SourceProblem, str]:
    """UNSUPPORTED for bytes recognised as something else; CORRUPT for the unrecognisable."""
    shown = head[:8].hex(" ")
    if not head:
        return SourceProblem.CORRUPT, f"{name} is empty (0 bytes); {_EXPORT} again"
    known = [(what, is_audio) for magic, what, is_audio in _OTHER_TYPES if head.startswith(magic)]
    if head[:1] == b"\xff" and len(head) > 1 and head[1] & 0xF6 == 0xF0:
        known.append(("raw AAC (ADTS) audio", True))
    if _is_text(head):
        known.append(("text", False))
    if not known:
        return SourceProblem.CORRUPT, (f"{name} is not recognisable audio (first bytes {shown}): "
                                       f"damaged, or of an unknown type; {_EXPORT} again")
    what, is_audio = known[0]
    tail = "a type the API does not accept" if is_audio else "not audio"
    return SourceProblem.UNSUPPORTED, f"{name} looks like {what} (first bytes {shown}), {tail}; {_EXPORT}"


def _is_text(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace").rstrip("\ufffd")  # a cut multi-byte character
    return bool(text) and all((c.isprintable() and c != "\ufffd") or c in "\t\r\n" for c in text)
