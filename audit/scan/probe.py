"""The probe stage: ask lightning-v3.1 to speak as a clone and judge the audio itself.

Owns the choice of sentence, language and TTS model for a clone (its pool's model,
`audit.core.pools.probe_model`: a Pro clone is heard on `lightning_v3.1_pro`, one whose pool
is unknown on `[probe] model`), the TTS call, and the judgement
of the answer from the frames actually decoded (never from the status code or the
WAV header): `speaks`, `short-wav` (the legacy-clone symptom), `silent`, or `error`.
Speech, not energy: audio of real length that passes the level checks is `speaks` only
when the speech detector (audit.fidelity, Silero VAD) hears someone in it; loud noise, hum,
a tone or music is `silent`, with the measured speech ratio in the reason.
What the body is comes from its magic bytes (`audio.sniff`), not from its Content-Type or
its size: only a RIFF/WAVE with too few frames is the symptom; an empty body, JSON, HTML,
text or anything else that is not audio is an `error` (could not tell) naming what came back.
A per-voice failure becomes a ProbeResult; only an authentication failure or the API gone
away (`ApiWentAway`), which would fail every other voice too, propagates.
Where the judging runs (`judge_answer`): a plain PCM16 WAV of at most INLINE_BYTES at a usual
rate is decoded, measured and listened to for its first second on the event loop, where a
speaking voice is decided; the rest, and anything else, on one judging thread beside it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from audit.api.client import WavesClient
from audit.api.failures import describe_body
from audit.core import audio, levels
from audit.core.config import ProbeSettings
from audit.core.errors import ApiError, ApiWentAway, AudioError, AuthError, TransportError
from audit.core.languages import PROBE_TEXTS, V31_LANGUAGES
from audit.core.models import AudioStats, Clone, ProbeResult, ProbeVerdict
from audit.core.offloop import OneThread
from audit.core.pools import probe_model
from audit.fidelity import silero, vad
from audit.fidelity.vad import SpeechActivity

#: Less than this much decoded audio is the symptom, whatever the header says.
SHORT_WAV_S = 0.30
#: The probe asks for WAV (and sends Accept: audio/wav): the symptom is a WAV.
PROBE_FORMAT = "wav"
#: Why an empty 200 is not the symptom (docs/api-contract.md §tts, the Accept trap).
EMPTY_BODY_REASON = (
    "HTTP 200 with an empty body: not the legacy-clone symptom (a WAV header with next to no "
    "frames) but the Accept trap (the API answers an empty 200 when Accept: audio/wav is "
    "missing), which says nothing about the voice. The probe sends that header, so something "
    "on the way (a proxy) dropped it or the API changed; fix that and scan again"
)
#: Audio whose loudest sample is below this carries no speech.
SILENT_PEAK_DBFS = -50.0
#: Audio with fewer active 20 ms frames than this share is silence with a click in it.
MIN_ACTIVE_RATIO = 0.05
#: The speech detector listens to at most this much of an answer (a probe is one sentence).
LISTEN_S = 60.0
#: An answer up to this size (10 s of the probe's 24 kHz PCM16 is 480 kB) is begun on the event loop.
INLINE_BYTES = 1 << 20
#: ... when its rate is one TTS answers at (at a claimed rate of a few hertz the resampler turns
#: one chunk into the whole minute LISTEN_S allows) ...
INLINE_RATES = (8000, 48000)
#: ... and listened to there for this many of the speech detector's chunks (`vad.CHUNK_S` each):
#: the emulator's voices start within 0.7 s (half of them within 0.06 s), and one that starts after
#: a short pause is still decided without a hop to the judging thread.
INLINE_CHUNKS = 2
#: What is left of judging after the loop's share (`judge_answer`) runs on one thread: the speech
#: detector runs one clip at a time anyway, and every extra thread would keep its own malloc arena
#: (tens of MB at 10,000 voices).
_JUDGE = OneThread("clone-audit-judge")


#: While answers are judged beside the event loop, the interpreter hands the GIL over this often.
SWITCH_INTERVAL_S = 0.0005


@contextlib.contextmanager
def judging_beside_the_loop() -> Iterator[None]:
    """While probes run: the interpreter switches threads every SWITCH_INTERVAL_S instead of its
    default 5 ms. What the judging thread does (an answer not heard to speak in its first
    INLINE_CHUNKS chunks, or not a plain WAV: numpy's many small operations) holds the GIL
    between switches; at 5 ms answers that have come back wait unread behind it, the limiter
    counts them in flight, and a 429 then proves a looser bound than the account's. BLAS is held at one thread meanwhile
    (`silero.one_blas_thread`, otherwise set and lifted for every answer). Restored afterwards."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, SWITCH_INTERVAL_S))
    try:
        with silero.one_blas_thread():  # BLAS held at one thread once for all answers, not per answer
            yield
    finally:
        sys.setswitchinterval(before)


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


def judge_speech(stats: AudioStats, speech: SpeechActivity) -> tuple[ProbeVerdict, str]:
    """Verdict and reason for audio that passed the level checks, from what the speech detector heard."""
    if not speech.speaks:
        return ProbeVerdict.SILENT, (
            f"{stats.duration_s:.2f} s of audio without speech: {speech.describe()}, though "
            f"its level is {stats.rms_dbfs:.1f} dBFS RMS (noise, hum, a tone or music)"
        )
    return ProbeVerdict.SPEAKS, (
        f"{stats.duration_s:.2f} s of speech at {stats.rms_dbfs:.1f} dBFS RMS, {speech.describe()}"
    )


def judge_body(content: bytes, content_type: str | None = None) -> ProbeResult:
    """Judge the body of a 200 TTS answer from what it is (magic bytes) and what it holds.

    - empty: `error`, the Accept trap (EMPTY_BODY_REASON);
    - not audio by its first bytes (JSON, HTML, text, garbage): `error`, naming the content
      type and the first bytes, whatever the size;
    - a RIFF/WAVE: `short-wav` under SHORT_WAV_S of decoded frames, else `silent` or `speaks`
      (`speaks` only when the speech detector hears speech); one that does not decode is `error`;
    - another audio container (the probe asked for WAV): judged by its audio, but too short
      is `error`, not the symptom, since the symptom is a WAV.
    """
    judging = start_judging(content, content_type)
    if isinstance(judging, ProbeResult):
        return judging
    judged = judging.listen()
    assert judged is not None
    return judged


def start_judging(content: bytes, content_type: str | None = None) -> ProbeResult | SpeechPending:
    """`judge_body` up to the speech detector: the result, or, for audio loud enough to be a
    voice, the listening that decides between `speaks` and `silent`."""
    size = len(content)
    if size == 0:
        return ProbeResult(ProbeVerdict.ERROR, EMPTY_BODY_REASON, http_status=200, n_bytes=0)
    kind = audio.sniff(content[:16])
    if kind is None:
        return ProbeResult(
            ProbeVerdict.ERROR, f"HTTP 200 but the body is not audio: {describe_body(content_type, content)}",
            http_status=200, n_bytes=size,
        )
    try:
        samples, rate = audio.decode(content)
    except AudioError as exc:
        return ProbeResult(
            ProbeVerdict.ERROR, f"HTTP 200 with a {kind} body that does not decode: {exc}",
            http_status=200, n_bytes=size,
        )
    stats = levels.measure(samples, rate, size)
    verdict, reason = judge(stats)
    if verdict is ProbeVerdict.SPEAKS:  # loud enough: now, is it a voice? (stops at the first speech)
        heard = samples[: int(LISTEN_S * rate)]  # a lying rate or length costs no more than this
        return SpeechPending(stats, vad.Listening(heard, rate))
    if verdict is ProbeVerdict.SHORT_WAV and kind != PROBE_FORMAT:
        return ProbeResult(
            ProbeVerdict.ERROR,
            f"HTTP 200 with {stats.duration_s:.3f} s of {kind} audio, though the probe asked for "
            f"{PROBE_FORMAT}: not the known symptom, so no verdict on the voice",
            http_status=200, stats=stats, n_bytes=size,
        )
    return ProbeResult(verdict, reason, http_status=200, stats=stats, n_bytes=size)


@dataclass(frozen=True)
class SpeechPending:
    """Audio loud enough to be a voice, waiting on the speech detector for `speaks` or `silent`."""

    stats: AudioStats
    detector: vad.Listening

    def listen(self, chunks: int | None = None) -> ProbeResult | None:
        """The result once the detector has heard enough within `chunks` more of its chunks (all
        of them when None), else None."""
        heard = self.detector.listen(chunks)
        if heard is None:
            return None
        verdict, reason = judge_speech(self.stats, heard)
        return ProbeResult(verdict, reason, http_status=200, stats=self.stats, n_bytes=self.stats.n_bytes)


async def judge_answer(content: bytes, content_type: str | None = None) -> ProbeResult:
    """`judge_body`, where the time goes least to waste. A plain 16-bit PCM WAV (what the probe
    asks for) of at most INLINE_BYTES at a rate in INLINE_RATES, whose length then bounds the
    audio it holds and the work of a chunk, is decoded, measured and listened to for its first
    INLINE_CHUNKS chunks right here on the event loop (well under a millisecond: a voice is
    usually heard in its first half second; a few milliseconds at most); only what is left (audio
    without speech early on is scored to its end) goes to the judging thread. Anything else goes
    there whole: a larger answer, an odd rate, any other encoding (a small FLAC may hold hours).
    A hop to the thread and back costs more CPU than a judged voice does."""
    rate = audio.plain_pcm16_rate(content)
    if len(content) > INLINE_BYTES or rate is None or not INLINE_RATES[0] <= rate <= INLINE_RATES[1]:
        return await _JUDGE.run(judge_body, content, content_type)
    judging = start_judging(content, content_type)
    if isinstance(judging, ProbeResult):
        return judging
    judged = judging.listen(INLINE_CHUNKS)
    if judged is not None:
        return judged
    finished = await _JUDGE.run(judging.listen)
    assert finished is not None
    return finished


async def probe_clone(client: WavesClient, clone: Clone, settings: ProbeSettings, *, stamp: bool = False) -> ProbeResult:
    """The probe's result; with `stamp`, its `probed_at` is when it came back (judged)."""
    result, _ = await probe_audio(client, clone, settings, stamp=stamp)
    return result


async def probe_audio(client: WavesClient, clone: Clone, settings: ProbeSettings, *,
                      stamp: bool = False) -> tuple[ProbeResult, bytes | None]:
    """The probe and the audio bytes it judged (None when no 200 came back), for a fidelity check.
    With `stamp`, the result's `probed_at` is when it came back (judged), set in its one copy."""
    text, language = probe_text(clone, settings.texts)
    model = probe_model(clone.model_ids, settings.model)
    try:
        answer = await client.tts(
            clone.voice_id, text, model=model, sample_rate=settings.sample_rate,
            language=language, output_format=PROBE_FORMAT,
        )
    except (AuthError, ApiWentAway):  # every other voice would fail too: the run stops
        raise
    except ApiError as exc:
        return ProbeResult(ProbeVerdict.ERROR, exc.message, http_status=exc.status, model=model,
                           probed_at=_now() if stamp else None), None
    except TransportError as exc:
        return ProbeResult(ProbeVerdict.ERROR, exc.message, model=model, probed_at=_now() if stamp else None), None
    judged = await judge_answer(answer.content, answer.content_type)
    return replace(judged, http_status=answer.status, request_id=answer.request_id, model=model,
                   probed_at=_now() if stamp else judged.probed_at), answer.content


def _now() -> str:
    """A probe's `probed_at`: the time (UTC) to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")
