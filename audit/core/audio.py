"""Decoding and measuring audio from bytes, trusting the samples, never the header.

A WAV header can claim anything (streaming answers claim ~2 GB of data); what counts
is the frames actually decoded. This module owns turning bytes into mono float samples
(soundfile) and measuring them: duration, RMS and peak level, and the share of 20 ms
frames that carry speech-like energy. It knows nothing of HTTP or verdicts.

For archived recordings it also tells the real container from magic bytes (`sniff`),
decodes mp4/webm with PyAV (`decode_av`), marks active frames, resamples, and writes
PCM16 WAV deterministically (`wav_pcm16`).
"""

from __future__ import annotations

import io
import wave

import av
import numpy as np
import soundfile as sf

from audit.core.errors import AudioError
from audit.core.models import AudioStats

FRAME_S = 0.020  # analysis frame for the activity measure
SILENCE_FLOOR_DBFS = -60.0  # a frame below this is silent whatever the rest does
ACTIVE_BELOW_PEAK_DB = 35.0  # a frame within this of the loudest frame counts as active
FLOOR_DBFS = -120.0  # reported for digital silence (keeps JSON finite)
_BLOCK = 65536
_EPS = 1e-12


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Decode any format libsndfile reads into mono float32 samples and the sample rate.

    Reads block by block until the decoder runs dry, so the result holds the frames
    present in `data`, whatever the header claims.
    """
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            sample_rate = f.samplerate
            blocks = []
            while True:
                block = f.read(_BLOCK, dtype="float32", always_2d=True)
                if not len(block):
                    break
                blocks.append(block.mean(axis=1))
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"not decodable audio ({len(data)} bytes): {exc}") from None
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    return samples, sample_rate


def measure(samples: np.ndarray, sample_rate: int, n_bytes: int) -> AudioStats:
    """Duration, level and activity of mono float samples in [-1, 1]."""
    frames = int(samples.shape[0])
    if frames == 0:
        return AudioStats(n_bytes, 0, sample_rate, 0.0, FLOOR_DBFS, FLOOR_DBFS, 0.0)
    x = samples.astype(np.float64)
    rms_dbfs = _dbfs(np.sqrt(np.mean(x * x)))
    peak_dbfs = _dbfs(np.max(np.abs(x)))
    active = active_frames(x, sample_rate)
    active_ratio = float(active.mean()) if active.size else 0.0
    return AudioStats(
        n_bytes=n_bytes,
        frames=frames,
        sample_rate=sample_rate,
        duration_s=frames / sample_rate,
        rms_dbfs=round(rms_dbfs, 2),
        peak_dbfs=round(peak_dbfs, 2),
        active_ratio=round(active_ratio, 3),
    )


def inspect(data: bytes) -> AudioStats:
    """Decode and measure; raises AudioError when the bytes are not audio."""
    samples, sample_rate = decode(data)
    return measure(samples, sample_rate, len(data))


def _dbfs(amplitude: float) -> float:
    return max(FLOOR_DBFS, float(20.0 * np.log10(amplitude + _EPS)))


# -- archived recordings: real type from content, PyAV decoding, activity, PCM16 WAV ---


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


def decode_av(data: bytes) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of a container soundfile cannot open (mp4, webm) with PyAV.

    Returns mono float32 samples (the channels' mean, as `decode` does) and the sample rate.
    """
    blocks: list[np.ndarray] = []
    sample_rate = 0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioError(f"no audio stream in the container ({len(data)} bytes)")
            stream = container.streams.audio[0]
            planar = av.AudioResampler(format="fltp")
            for frame in container.decode(stream):
                sample_rate = frame.sample_rate
                for out in planar.resample(frame):
                    blocks.append(out.to_ndarray().mean(axis=0).astype(np.float32))
    except (av.FFmpegError, ValueError, IndexError) as exc:
        raise AudioError(f"not decodable audio ({len(data)} bytes): {exc}") from None
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    return samples, sample_rate


def active_frames(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per 20 ms frame, whether it carries speech-like energy (the rule `measure` uses).

    A frame is active when it is above SILENCE_FLOOR_DBFS and within ACTIVE_BELOW_PEAK_DB
    of the loudest frame. A trailing partial frame is not counted.
    """
    hop = max(1, int(sample_rate * FRAME_S))
    usable = (samples.shape[0] // hop) * hop
    if usable == 0:
        return np.zeros(0, dtype=bool)
    chunks = samples[:usable].astype(np.float64).reshape(-1, hop)
    frame_db = 20.0 * np.log10(np.sqrt(np.mean(chunks * chunks, axis=1)) + _EPS)
    threshold = max(SILENCE_FLOOR_DBFS, float(frame_db.max()) - ACTIVE_BELOW_PEAK_DB)
    return frame_db > threshold


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling of mono samples by FFT (deterministic; numpy only)."""
    n = samples.shape[0]
    m = round(n * rate_out / rate_in)
    if n == 0 or m == n:
        return samples.astype(np.float32)
    spectrum = np.fft.rfft(samples.astype(np.float64))
    return (np.fft.irfft(spectrum[: m // 2 + 1], n=m) * (m / n)).astype(np.float32)


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
