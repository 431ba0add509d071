"""Checking an archived recording and making a fitted copy of it for upload.

This module owns the rules that decide whether a recording can seed a new clone
(docs/api-contract.md, §create: an allow-listed MIME type, at most 5 MB (5,000,000 bytes), 5–15 s of clean speech
recommended) and the fitted copy uploaded when the file itself cannot be.

- Only a regular file is opened (`open_regular`: never a folder, a named pipe or a device).
- The real type comes from the content (`audio.sniff` on the first 64 bytes), never from
  the extension. Bytes recognised as something else (an image, a document, text, an audio
  type the API refuses) are UNSUPPORTED, and so is a container with no audio stream (a
  video without sound); bytes recognised as nothing, an audio type that does not decode,
  a file with no audio frames, a sample rate outside 4–768 kHz, or NaN/infinite samples
  (a damaged float file) are CORRUPT.
- Bounded memory and time on any file. A file over MAX_SOURCE_BYTES (1 GiB), or whose
  header says it lasts more than MAX_SOURCE_S (10 min), is TOO_LONG before any audio is
  decoded: a one-hour interview is far from the 5–15 s of one voice the API wants, and
  picking 15 s out of it unseen could pick another speaker, so the operator trims it (to
  at most 10 min, and the tool fits it; or to 5–15 s). Headers can lie, so a header only
  decides whether to read: the decode itself streams block by block (`audio.Decoder`)
  and stops after MAX_SOURCE_S; a file that decodes to more is TOO_LONG too. Only the 20 ms
  frame levels are kept (`levels.LevelMeter`, ~400 bytes per second of audio), and the samples
  only while they are few (KEEP_SAMPLES, 11.5 MB). The sha256 of every file that decodes is computed by streaming (`hashlib.file_digest`).
- Duration and speech come from the decoded samples: `speech_s` is the number of active
  20 ms frames (`levels.speech_frames`) times 20 ms. No active frame is SILENT. Less than
  MIN_DURATION_S of audio, or less than MIN_SOURCE_SPEECH_S of active frames, is TOO_SHORT:
  speech is ~70–80 % active frames once the gaps between words are left out, so 3.5 s
  of active frames is about 5 s of talking.
- Speech, not energy: once a recording passes those checks, the span that would be uploaded
  (the whole file, or its fitted window: at most 15 s, cut from the kept samples or decoded
  again, never the whole file) goes through the speech detector (audit.fidelity.vad, Silero),
  which stops at the first run of speech long enough to count. A span in which it hears no
  speech (noise, hum, a tone, music) is SILENT, with the measured speech ratio in the detail.
  The window itself is chosen by level, so a recording whose longest loud stretch is not the
  voice is SILENT too (the operator trims it), never uploaded as a tone.
- A recording longer than 15 s, over 5 MB, or of a type the API does not accept (flac,
  ogg) gets a FitWindow: the ≤ 15 s span with the most active frames (ties: the
  earliest), trimmed to its speech plus PAD_S either side, never shorter than 5 s.
- `make_fitted` streams the file again, keeps only that window and cuts it into a mono
  PCM16 WAV at the source rate (resampled down to MAX_RATE above it): at most 15 s × 44.1
  kHz × 2 bytes ≈ 1.3 MB, and the same input always gives the same bytes. The archive
  itself is only ever read.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from audit.archive.cache import CheckCache, Remembered
from audit.archive.index import SourceMatch
from audit.archive.paths import NotRegularFile, open_regular
from audit.core import audio, levels
from audit.core.errors import AudioError
from audit.core.models import FitWindow, SourceCheck, SourceProblem
from audit.core.untrusted import visible_name
from audit.fidelity import vad

#: Container → Content-Type for the types the API accepts as they are.
ACCEPTED_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "mp4": "audio/mp4", "webm": "audio/webm"}
#: The API's "5 MB", read the smaller way (5,000,000 bytes, not 5 MiB): the vendor does not say which.
MAX_UPLOAD_BYTES = 5_000_000
MAX_CLIP_S = 15.0
MIN_DURATION_S = 5.0
MIN_SOURCE_SPEECH_S = 3.5
MAX_SOURCE_S = 600.0  # the longest recording the tool analyses and fits
MAX_SOURCE_BYTES = 1 << 30  # 10 min of 192 kHz stereo float is 0.9 GiB
SOURCE_RATES = (4000, 768000)  # sample rates a recording can have, in Hz
PAD_S = 0.2  # silence kept around the speech of a fitted window
KEEP_SAMPLES = 60 * 48000  # samples (11.5 MB) a check keeps to listen to, instead of decoding again
MAX_RATE = 44100
_HEAD = 64  # bytes `audio.sniff` looks at
_EXPORT = "export it as WAV or MP3"
_TRIM = (f"the API takes 5–15 s of one voice and this tool fits recordings of up to "
         f"{MAX_SOURCE_S / 60:.0f} min: trim it to a passage of the voice speaking")

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


def shown_name(match: SourceMatch) -> str:
    """The file's name as a check's detail shows it."""
    return visible_name(match.relative or str(match.path))


def check_source(match: SourceMatch, cache: CheckCache | None = None) -> SourceCheck:
    """Open, identify, measure (streaming, bounded) and hash the file a SourceMatch found.

    With a `cache`, a file whose fresh sha256 and size match a kept full check is not
    decoded again: that check is returned, with this match's path and name.
    """
    found = SourceCheck(match.problem, match.detail, path=match.relative, matched_by=match.matched_by)
    if match.problem is not None or match.path is None:
        return replace(found, problem=match.problem or SourceProblem.MISSING)
    name = shown_name(match)
    try:
        file = open_regular(match.path)
    except FileNotFoundError:
        return replace(found, problem=SourceProblem.MISSING,
                       detail=f"{name} was removed after the archive was indexed")
    except NotRegularFile as exc:
        return replace(found, problem=SourceProblem.MISSING,
                       detail=f"{name} is {exc.what}, not a recording file")
    except OSError as exc:
        return replace(found, problem=SourceProblem.CORRUPT,
                       detail=f"{name} cannot be read ({exc.strerror}); check its permissions")
    with file:
        try:
            return _check_file(found, name, file, cache)
        except OSError as exc:  # an I/O error part way: a failing disk, a vanished mount
            return replace(found, problem=SourceProblem.CORRUPT,
                           detail=f"{name} cannot be read ({exc.strerror}); check the disk it is on")


def _check_file(found: SourceCheck, name: str, file: io.BufferedReader, cache: CheckCache | None) -> SourceCheck:
    size = os.fstat(file.fileno()).st_size
    head = file.read(_HEAD)
    kind = audio.sniff(head)
    found = replace(found, n_bytes=size, kind=kind)
    if kind is None:
        problem, detail = _not_audio(name, head)
        return replace(found, problem=problem, detail=detail)
    if size > MAX_SOURCE_BYTES:
        return replace(found, problem=SourceProblem.TOO_LONG,
                       detail=f"{name} is a {size / 2**30:.1f} GiB {kind} file, more than "
                       f"{MAX_SOURCE_S / 60:.0f} min of audio takes; {_TRIM}")
    if cache is not None:
        file.seek(0)
        known = cache.recall(hashlib.file_digest(file, "sha256").hexdigest(), size)
        if known is not None and known.check.kind == kind:
            return _recalled(found, name, known)
    file.seek(0)
    try:
        decoder = audio.Decoder(file, kind)
    except audio.NoAudioStream as exc:
        return replace(found, problem=SourceProblem.UNSUPPORTED,
                       detail=f"{name} is a {kind} file with no audio stream (it holds "
                       f"{' and '.join(exc.streams) or 'no'} streams: a video without sound?); "
                       f"{_EXPORT} from the original")
    except AudioError:  # its text names no file: say it plainly
        return replace(found, problem=SourceProblem.CORRUPT,
                       detail=f"{name} looks like {kind} but does not decode; {_EXPORT} again")
    with decoder:
        return _measure(found, name, kind, decoder, file)


def _recalled(found: SourceCheck, name: str, known: Remembered) -> SourceCheck:
    """A kept check for this file's bytes, where and under which name it is found now."""
    detail = known.check.detail if known.name == name else known.check.detail.replace(known.name, name)
    return replace(known.check, path=found.path, matched_by=found.matched_by, detail=detail)


def _measure(found: SourceCheck, name: str, kind: str, decoder: audio.Decoder, file: io.BufferedReader) -> SourceCheck:
    if (bad := _bad_rate(name, decoder.sample_rate)) is not None:
        return replace(found, problem=SourceProblem.CORRUPT, detail=bad)
    if decoder.claimed_s is not None and decoder.claimed_s > MAX_SOURCE_S:
        return replace(found, problem=SourceProblem.TOO_LONG, detail=f"{name}: the recording is "
                       f"{_long(decoder.claimed_s)} long (its {kind} header says); {_TRIM}")
    meter: levels.LevelMeter | None = None
    kept: list[np.ndarray] | None = []  # the samples while they are few: the window is cut from them
    pending: list[np.ndarray] = []  # small (mp3) blocks fed to the meter 16 at a time
    seen = 0
    try:
        for block in decoder.blocks(MAX_SOURCE_S + levels.FRAME_S):  # a frame more tells "longer"
            if meter is None:
                if (bad := _bad_rate(name, decoder.sample_rate)) is not None:
                    return replace(found, problem=SourceProblem.CORRUPT, detail=bad)
                meter = levels.LevelMeter(decoder.sample_rate)
            pending.append(block)
            seen += block.shape[0]
            if len(pending) >= 16 or block.shape[0] >= decoder.sample_rate // 4:
                meter.feed(np.concatenate(pending))
                pending = []
            kept = kept if seen <= KEEP_SAMPLES else None
            if kept is not None:
                kept.append(block)
    except AudioError:
        return replace(found, problem=SourceProblem.CORRUPT,
                       detail=f"{name} looks like {kind} but does not decode; {_EXPORT} again")
    if meter is not None and pending:
        meter.feed(np.concatenate(pending))
    if meter is None or meter.frames == 0:
        return replace(found, problem=SourceProblem.CORRUPT, detail=f"{name} is a {kind} file with "
                       f"no audio frames (truncated?); {_EXPORT} again")
    rate = decoder.sample_rate
    if meter.frames > MAX_SOURCE_S * rate:
        return replace(found, problem=SourceProblem.TOO_LONG, detail=f"{name}: the recording decodes "
                       f"to more than {MAX_SOURCE_S / 60:.0f} min of audio; {_TRIM}")
    if meter.non_finite:
        return replace(found, problem=SourceProblem.CORRUPT, detail=f"{name}: {meter.non_finite} of "
                       f"{meter.frames} samples are NaN or infinite (damaged float audio); {_EXPORT} again")
    file.seek(0)
    found = replace(found, sha256=hashlib.file_digest(file, "sha256").hexdigest())
    judged = _judge(found, name, kind, levels.speech_frames(meter.levels()), meter.frames / rate)
    if judged.problem is not None:
        return judged
    return _hear(judged, name, kind, file, (np.concatenate(kept), rate) if kept else None)


def _hear(found: SourceCheck, name: str, kind: str, file: io.BufferedReader,
          decoded: tuple[np.ndarray, int] | None) -> SourceCheck:
    """SILENT when the speech detector hears nobody in the span that would be uploaded.

    Only that span is listened to: the fitted window, or the whole file when it is uploaded
    as it is, cut from the samples the measuring pass kept (`decoded`, up to KEEP_SAMPLES),
    or decoded again up to the window's end for a longer recording.
    The detector stops at the first run of speech long enough to count (`vad.first_speech`:
    the same rule as scoring every window, so the same verdict).
    """
    assert found.duration_s is not None
    start_s, end_s = (found.fit.start_s, found.fit.end_s) if found.fit else (0.0, found.duration_s)
    if decoded is not None:
        samples, rate = decoded
        clip = samples[round(start_s * rate):round(end_s * rate)]
    else:
        file.seek(0)
        try:
            with audio.Decoder(file, kind) as decoder:
                clip, rate = _window(decoder, start_s, end_s)
        except AudioError:
            return replace(found, problem=SourceProblem.CORRUPT,
                           detail=f"{name} looks like {kind} but does not decode; {_EXPORT} again")
    heard = vad.first_speech(clip, rate)
    if heard.speaks:
        return found
    if found.fit:
        return replace(found, problem=SourceProblem.SILENT, detail=f"{name}: the span it would upload "
                       f"({start_s:.1f}–{end_s:.1f} s, the most active by level) holds no speech "
                       f"({heard.describe()}): noise, hum, a tone or music; trim the recording to the "
                       "voice speaking")
    return replace(found, problem=SourceProblem.SILENT, detail=f"{name}: {end_s:.1f} s with no speech "
                   f"({heard.describe()}): noise, hum, a tone or music, not a voice; use a recording "
                   "of the voice speaking")


def _judge(found: SourceCheck, name: str, kind: str, active: np.ndarray, duration: float) -> SourceCheck:
    """The verdict on a measured recording: SILENT, TOO_SHORT, as it is, or fitted."""
    speech = float(np.count_nonzero(active)) * levels.FRAME_S
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
    assert found.n_bytes is not None
    if found.n_bytes > MAX_UPLOAD_BYTES:
        reasons.append(f"{found.n_bytes / 1e6:.2f} MB is over {MAX_UPLOAD_BYTES / 1e6:g} MB "
                       f"({MAX_UPLOAD_BYTES:,} bytes)")
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
    width = min(n, round(MAX_CLIP_S / levels.FRAME_S))
    totals = np.concatenate(([0], np.cumsum(active, dtype=np.int64)))
    first = int(np.argmax(totals[width:] - totals[: n - width + 1]))
    spoken = np.flatnonzero(active[first : first + width]) + first
    pad = round(PAD_S / levels.FRAME_S)
    start, end = max(0, int(spoken[0]) - pad), min(n, int(spoken[-1]) + 1 + pad)
    if end - start > width:  # the padding overflows: cut it evenly
        start += (end - start - width) // 2
        end = start + width
    need = min(round(MIN_DURATION_S / levels.FRAME_S), n)
    if end - start < need:  # widen around the speech, staying inside the recording
        start = max(0, min(start - (need - (end - start)) // 2, n - need))
        end = start + need
    return round(start * levels.FRAME_S, 2), round(end * levels.FRAME_S, 2)


def make_fitted(path: Path, check: SourceCheck) -> FittedAudio:
    """The fitted copy `check.fit` describes, as mono PCM16 WAV bytes (deterministic).

    Streams the file: hashes it, then decodes from the start up to the window's end,
    keeping only the window. Raises AudioError when the file changed since it was
    checked or cannot be decoded.
    """
    if check.fit is None or check.kind is None:
        raise ValueError(f"{check.path}: the check asks for no fitted copy")
    try:
        file = open_regular(path)
    except OSError as exc:
        raise AudioError(f"{visible_name(str(path))} cannot be read: {exc.strerror}",
                         hint="Check that the archive is mounted and readable.") from None
    with file:
        if hashlib.file_digest(file, "sha256").hexdigest() != check.sha256:
            raise AudioError(f"{visible_name(str(path))} changed since it was checked (sha256 differs).",
                             hint="Run `clone-audit plan` again to check the new file.")
        file.seek(0)
        try:
            with audio.Decoder(file, check.kind) as decoder:
                clip, rate = _window(decoder, check.fit.start_s, check.fit.end_s)
        except AudioError as exc:
            raise AudioError(f"{visible_name(str(path))} no longer decodes: {exc.message}",
                             hint=f"{_EXPORT.capitalize()} again, then run `clone-audit plan` again.") from None
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


def _window(decoder: audio.Decoder, start_s: float, end_s: float) -> tuple[np.ndarray, int]:
    """The samples from start_s to end_s, decoding no further than end_s."""
    pieces: list[np.ndarray] = []
    at = 0
    for block in decoder.blocks(end_s + levels.FRAME_S):
        start, end = round(start_s * decoder.sample_rate), round(end_s * decoder.sample_rate)
        low, high = max(0, start - at), min(block.shape[0], end - at)
        if high > low:
            pieces.append(block[low:high])
        at += block.shape[0]
        if at >= end:
            break
    clip = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return clip, decoder.sample_rate


def _bad_rate(name: str, rate: int) -> str | None:
    low, high = SOURCE_RATES
    if low <= rate <= high or rate == 0:  # 0: not known before the first block
        return None
    return f"{name}: a sample rate of {rate} Hz is not a recording's ({low}–{high} Hz); {_EXPORT} again"


def _long(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


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
