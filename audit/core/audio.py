"""Decoding audio, trusting the samples, never the header.

A WAV header can claim anything (streaming answers claim ~2 GB of data); what counts
is the frames actually decoded. This module owns turning bytes into mono float samples
(soundfile; a plain PCM16 WAV, what TTS answers are, straight from its bytes); measuring
them is `levels`'s (`inspect` does both). It knows nothing of HTTP or verdicts.

For archived recordings it also tells the real container from magic bytes (`sniff`),
streams a file block by block with bounded memory (`Decoder`: soundfile for wav, flac
and ogg, PyAV for mp3, mp4 and webm; the header is read first and only tells what to
expect), resamples, and writes PCM16 WAV deterministically (`wav_pcm16`).
"""

from __future__ import annotations

import importlib
import io
import math
import struct
import sys
import wave
from collections.abc import Iterator
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import soundfile as sf
import soxr

from audit.core import levels
from audit.core.errors import AudioError
from audit.core.models import AudioStats

if TYPE_CHECKING:
    import av

_BLOCK = 65536
_BLOCK_SAMPLES = 1 << 18  # samples over all channels per streamed read: 1 MB of float32
_UNKNOWN_FRAMES = 1 << 62  # libsndfile's frame count for a stream of unknown length
# PyAV for MP3 too: libsndfile's mpg123 prints decoder warnings straight to stderr.
READ_BY_AV = frozenset({"mp3", "mp4", "webm"})
_LIBSNDFILE_ERRORS: tuple[type[BaseException], ...] = (sf.LibsndfileError, RuntimeError, ValueError, IndexError)


def _pyav() -> ModuleType:
    """PyAV, imported on first use: FFmpeg costs ~17 MB and a scan never needs it (TTS answers
    are WAV, which libsndfile reads); only archived mp3/mp4/webm recordings do."""
    return importlib.import_module("av")


def _decode_errors() -> tuple[type[BaseException], ...]:
    """What a decoder raises on bad bytes: libsndfile's errors, and FFmpeg's once PyAV is loaded."""
    pyav = sys.modules.get("av")
    return _LIBSNDFILE_ERRORS if pyav is None else (*_LIBSNDFILE_ERRORS, pyav.FFmpegError)


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Decode any format libsndfile reads into mono float32 samples and the sample rate.

    Reads block by block until the decoder runs dry, so the result holds the frames
    present in `data`, whatever the header claims. A canonical PCM16 mono WAV (what TTS
    answers are) is read straight from its bytes, to the same samples libsndfile gives.
    """
    canonical = _pcm16_mono(data)
    if canonical is not None:
        return canonical
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            sample_rate = f.samplerate
            blocks = []
            while True:
                block = f.read(_BLOCK, dtype="float32", always_2d=True)
                if not len(block):
                    break
                blocks.append(block[:, 0] if block.shape[1] == 1 else block.mean(axis=1))
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"not decodable audio ({len(data)} bytes): {exc}") from None
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    return samples, sample_rate


#: A canonical WAV header: RIFF, WAVE, a 16-byte PCM `fmt ` chunk, then the `data` chunk.
_CANONICAL = struct.Struct("<4sI4s4sIHHIIHH4sI")


def plain_pcm16_rate(data: bytes) -> int | None:
    """The sample rate of a canonical 16-bit PCM mono WAV whose sizes agree with its bytes (what
    TTS answers are: two bytes a sample, so its length says how much audio it holds); None for
    anything else. Reads the 44-byte header only."""
    if len(data) < _CANONICAL.size:
        return None
    riff, riff_size, wave, fmt, fmt_size, encoding, channels, rate, byte_rate, align, bits, tag, size = (
        _CANONICAL.unpack_from(data))
    if (riff, wave, fmt, tag) != (b"RIFF", b"WAVE", b"fmt ", b"data") or (fmt_size, encoding, channels, align,
                                                                          bits) != (16, 1, 1, 2, 16):
        return None
    if rate <= 0 or byte_rate != 2 * rate or riff_size != len(data) - 8 or size != len(data) - _CANONICAL.size \
            or size % 2:
        return None
    return int(rate)


def _pcm16_mono(data: bytes) -> tuple[np.ndarray, int] | None:
    """The samples of a WAV whose header is exactly the canonical 44 bytes of 16-bit PCM mono and
    whose sizes all agree with the bytes present (RIFF size, data size, whole frames); None for
    anything else (an odd or lying header, other encodings, extra chunks), which libsndfile reads.
    The same values libsndfile gives: each sample / 32768, as float32."""
    rate = plain_pcm16_rate(data)
    if rate is None:
        return None
    # int16 times a float32 scalar is float32: cast and scaled in one pass, the same values
    samples = np.multiply(np.frombuffer(data, dtype="<i2", offset=_CANONICAL.size), np.float32(1.0 / 32768.0))
    return samples, rate


def inspect(data: bytes) -> AudioStats:
    """Decode and measure; raises AudioError when the bytes are not audio."""
    samples, sample_rate = decode(data)
    return levels.measure(samples, sample_rate, len(data))


# -- archived recordings: real type from content, PyAV decoding, PCM16 WAV ---


def sniff(head: bytes) -> str | None:
    """The audio container a file's first bytes announce (wav, mp3, flac, ogg, mp4, webm).

    Decided from magic bytes only, never from a file name; None when no known audio
    signature is present.
    """
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM (or Matroska, which FFmpeg reads alike)
        return "webm"
    if head[:3] == b"ID3" or _mpeg_audio_sync(head):
        return "mp3"
    return None


def _mpeg_audio_sync(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, a valid version and a layer (ADTS AAC has none)."""
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    return (head[1] >> 3) & 0b11 != 0b01 and (head[1] >> 1) & 0b11 != 0b00


class NoAudioStream(AudioError):
    """A container that opened fine but holds no audio stream (a video without sound)."""

    def __init__(self, streams: list[str]) -> None:
        held = ", ".join(streams) if streams else "no"
        super().__init__(f"no audio stream in the container ({held} streams only)")
        self.streams = streams  # the kinds of stream it holds: "video", "subtitle", ...


class Decoder:
    """One audio file opened for streaming: what its header claims, then mono float32 blocks.

    Opening reads the header only. `blocks(max_s)` decodes block by block and stops after
    `max_s` seconds of audio, so memory stays at one block (`_BLOCK_SAMPLES` samples, or
    one codec frame) whatever the header claims or the file holds. `sample_rate` is the
    header's until the first block, then the decoded one's (a PyAV stream whose rate
    changes half way is an AudioError). Blocks are the channels' mean, as `decode` gives.
    """

    def __init__(self, file: BinaryIO, kind: str) -> None:
        self._sf: sf.SoundFile | None = None
        self._av: av.container.InputContainer | None = None
        self.claimed_s: float | None = None  # duration the header claims; None when it does not say
        try:
            if kind in READ_BY_AV:
                self._av = _pyav().open(file, mode="r")
                if not self._av.streams.audio:
                    raise NoAudioStream(sorted({str(s.type) for s in self._av.streams}))
                stream = self._av.streams.audio[0]
                self.sample_rate = int(stream.codec_context.sample_rate or 0)
                if stream.duration is not None and stream.time_base is not None:
                    self.claimed_s = float(stream.duration * stream.time_base)
                elif self._av.duration is not None:
                    self.claimed_s = self._av.duration / _pyav().time_base
            else:
                self._sf = sf.SoundFile(file)
                self.sample_rate = int(self._sf.samplerate)
                if self.sample_rate > 0 and 0 <= self._sf.frames < _UNKNOWN_FRAMES:
                    self.claimed_s = self._sf.frames / self.sample_rate
        except AudioError:
            self.close()
            raise
        except _decode_errors() as exc:
            self.close()
            raise AudioError(f"not decodable audio: {exc}") from None

    def blocks(self, max_s: float) -> Iterator[np.ndarray]:
        """Mono float32 blocks from the start, at most `max_s` seconds in all; AudioError on
        a decoding failure part way."""
        try:
            yield from (self._av_blocks(max_s) if self._av is not None else self._sf_blocks(max_s))
        except _decode_errors() as exc:
            raise AudioError(f"decoding failed part way: {exc}") from None

    def _sf_blocks(self, max_s: float) -> Iterator[np.ndarray]:
        assert self._sf is not None
        left = math.ceil(max_s * self.sample_rate)
        size = max(1, _BLOCK_SAMPLES // max(1, self._sf.channels))
        while left > 0:
            block = self._sf.read(min(size, left), dtype="float32", always_2d=True)
            if not len(block):
                return
            left -= len(block)
            yield block[:, 0].copy() if block.shape[1] == 1 else block.mean(axis=1)  # mono: the same values

    def _av_blocks(self, max_s: float) -> Iterator[np.ndarray]:
        assert self._av is not None
        stream = self._av.streams.audio[0]
        planar = _pyav().AudioResampler(format="fltp")
        left: int | None = None
        for frame in self._av.decode(stream):
            if left is None:
                self.sample_rate = int(frame.sample_rate)
                left = math.ceil(max_s * self.sample_rate)
            elif frame.sample_rate != self.sample_rate:
                raise AudioError(f"the sample rate changes from {self.sample_rate} to "
                                 f"{frame.sample_rate} Hz part way")
            for out in planar.resample(frame):
                planes = out.to_ndarray()  # mono: the one plane as it is, the same values as its mean
                samples = (planes[0] if planes.shape[0] == 1 else planes.mean(axis=0)).astype(np.float32)
                if samples.shape[0] >= left:
                    yield samples[:left]
                    return
                left -= samples.shape[0]
                yield samples

    def close(self) -> None:
        if self._sf is not None:
            self._sf.close()
        if self._av is not None:
            self._av.close()

    def __enter__(self) -> Decoder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling of mono samples (libsoxr, high quality; deterministic), as float32."""
    x = np.ascontiguousarray(samples, dtype=np.float32)
    if x.shape[0] == 0 or rate_in == rate_out:
        return x
    return soxr.resample(x, rate_in, rate_out, quality="HQ")


def wav_pcm16(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono float samples → a PCM16 WAV file; the same samples always give the same bytes."""
    pcm = np.rint(np.clip(samples.astype(np.float64), -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def decode_head(data: bytes, max_s: float) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the rate of at most the first `max_s` seconds of an audio
    file's bytes, whatever its container (streamed through `Decoder`, so a long or lying file
    costs no more than the window); AudioError when the bytes are not audio."""
    kind = sniff(data[:64])
    if kind is None:  # soundfile may still read what no signature announces, or says why not
        samples, rate = decode(data)
        return samples[: int(max_s * rate)], rate
    with Decoder(io.BytesIO(data), kind) as decoder:
        blocks = list(decoder.blocks(max_s))
        rate = decoder.sample_rate
    return (np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)), rate
