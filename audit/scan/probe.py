"""The probe stage: ask lightning-v3.1 to speak as a clone and judge the audio itself.

Owns the choice of sentence and language for a clone, the TTS call, and the judgement
of the answer from the frames actually decoded (never from the status code or the
WAV header): `speaks`, `short-wav` (the legacy-clone symptom), `silent`, or `error`.
A per-voice failure becomes a ProbeResult; only an authentication failure, which would
fail every other voice too, propagates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from audit.core import audio
from audit.api.client import WavesClient
from audit.core.config import ProbeSettings
from audit.core.errors import ApiError, AudioError, AuthError, TransportError
from audit.core.languages import PROBE_TEXTS, V31_LANGUAGES
from audit.core.models import AudioStats, Clone, ProbeResult, ProbeVerdict

#: Less than this much decoded audio is the symptom, whatever the header says.
SHORT_WAV_S = 0.30
#: An undecodable 200 answer shorter than this is the symptom too (a bare header).
SHORT_BODY_BYTES = 1024
#: Audio whose loudest sample is below this carries no speech.
SILENT_PEAK_DBFS = -50.0
#: Audio with fewer active 20 ms frames than this share is silence with a click in it.
MIN_ACTIVE_RATIO = 0.05


def probe_text(clone: Clone, overrides: Mapping[str, str]) -> tuple[str, str]:
    """(text, language) for a clone: its own language where v3.1 knows it, else English."""
    language = clone.language if clone.language in V31_LANGUAGES else "en"
    text = overrides.get(language) or PROBE_TEXTS[language]
    return text, language


def judge(stats: AudioStats) -> tuple[ProbeVerdict, str]:
    """Verdict and reason from measured audio."""
    if stats.duration_s < SHORT_WAV_S:
        return ProbeVerdict.SHORT_WAV, (
            f"HTTP 200 but only {stats.n_bytes} bytes, {stats.frames} frames "
            f"({stats.duration_s:.3f} s) of audio: the legacy-clone symptom"
        )
    if stats.peak_dbfs < SILENT_PEAK_DBFS or stats.active_ratio < MIN_ACTIVE_RATIO:
        return ProbeVerdict.SILENT, (
            f"{stats.duration_s:.2f} s of audio without speech "
            f"(peak {stats.peak_dbfs:.1f} dBFS, {stats.active_ratio:.0%} active)"
        )
    return ProbeVerdict.SPEAKS, (
        f"{stats.duration_s:.2f} s of speech at {stats.rms_dbfs:.1f} dBFS RMS"
    )


def judge_body(content: bytes) -> ProbeResult:
    """Judge the body of a 200 TTS answer."""
    try:
        stats = audio.inspect(content)
    except AudioError as exc:
        if len(content) < SHORT_BODY_BYTES:
            return ProbeResult(
                ProbeVerdict.SHORT_WAV,
                f"HTTP 200 with {len(content)} bytes that hold no decodable audio",
                http_status=200, n_bytes=len(content),
            )
        return ProbeResult(ProbeVerdict.ERROR, str(exc), http_status=200, n_bytes=len(content))
    verdict, reason = judge(stats)
    return ProbeResult(verdict, reason, http_status=200, stats=stats, n_bytes=len(content))


async def probe_clone(client: WavesClient, clone: Clone, settings: ProbeSettings) -> ProbeResult:
    text, language = probe_text(clone, settings.texts)
    try:
        answer = await client.tts(
            clone.voice_id, text, model=settings.model, sample_rate=settings.sample_rate,
            language=language, output_format="wav",
        )
    except AuthError:
        raise
    except ApiError as exc:
        return ProbeResult(ProbeVerdict.ERROR, exc.message, http_status=exc.status)
    except TransportError as exc:
        return ProbeResult(ProbeVerdict.ERROR, exc.message)
    return replace(judge_body(answer.content), http_status=answer.status, request_id=answer.request_id)
