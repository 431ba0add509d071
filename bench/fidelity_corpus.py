"""The voices, sentences and channels bench/fidelity.py calibrates the speaker check on.

Speakers are real people: each of Debian's festival and flite voices below was built from one
person's recordings. Where two engines were built from the same person they carry one speaker
label (flite's slt and festival's us-slt-hts are one woman, flite's kal16 and festival's kal one
man): such a pair is a realistic imperfect imitation of a voice. Each voice reads its language's
sentences: two "source" clips of three sentences each (an archived recording) and three "probe"
clips of one other sentence each (a clone's probe answer), which go through the channels a
re-clone meets (CHANNELS). Synthesised clips are cached under the system's temporary folder so a
rerun only embeds.

Needs (root, Debian): apt-get install -y festival flite festvox-kdlpc16k festvox-kallpc16k
festvox-us-slt-hts festvox-italp16k festvox-itapc16k festvox-ca-ona-hts festvox-czech-dita
festvox-czech-machac festvox-czech-ph festvox-czech-krb festvox-ru festvox-suopuhe-lj
festvox-suopuhe-mv festvox-hi-nsk    (a voice that is not installed is skipped and said)
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from audit.core.audio import decode, resample, wav_pcm16


@dataclass(frozen=True)
class Voice:
    name: str  # engine:voice
    person: str  # one label per real person
    sex: str  # "f" or "m"
    language: str
    engine: str  # "flite" or "festival"
    voice: str  # the engine's voice name


VOICES = [
    Voice("flite:awb", "awb", "m", "en", "flite", "awb"),
    Voice("flite:rms", "rms", "m", "en", "flite", "rms"),
    Voice("flite:slt", "slt", "f", "en", "flite", "slt"),
    Voice("festival:slt-hts", "slt", "f", "en", "festival", "cmu_us_slt_arctic_hts"),
    Voice("flite:kal16", "kal", "m", "en", "flite", "kal16"),
    Voice("festival:kal", "kal", "m", "en", "festival", "kal_diphone"),
    Voice("festival:ked", "ked", "m", "en", "festival", "ked_diphone"),
    Voice("festival:lp", "lp", "f", "it", "festival", "lp_diphone"),
    Voice("festival:pc", "pc", "m", "it", "festival", "pc_diphone"),
    Voice("festival:ona", "ona", "f", "ca", "festival", "upc_ca_ona_hts"),
    Voice("festival:dita", "dita", "f", "cs", "festival", "czech_dita"),
    Voice("festival:machac", "machac", "m", "cs", "festival", "czech_machac"),
    Voice("festival:ph", "ph", "m", "cs", "festival", "czech_ph"),
    Voice("festival:krb", "krb", "f", "cs", "festival", "czech_krb"),
    Voice("festival:nsh", "nsh", "m", "ru", "festival", "msu_ru_nsh_clunits"),
    Voice("festival:lj", "lj", "f", "fi", "festival", "suo_fi_lj_diphone"),
    Voice("festival:mv", "mv", "m", "fi", "festival", "hy_fi_mv_diphone"),
    Voice("festival:nsk", "nsk", "m", "hi", "festival", "hindi_NSK_diphone"),
]
# Never seen by the threshold choice: two women and three men, five languages, one of them heard
# through two engines (kal). Everyone else calibrates.
HELD_OUT = {"kal", "krb", "lj", "pc", "nsh"}

TEXTS = {  # nine simple sentences per language: 0-2 and 3-5 make the sources, 6, 7 and 8 the probes
    "en": ["The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
           "It is easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
           "The juice of lemons makes fine punch.", "The box was thrown beside the parked truck.",
           "Rice is often served in round bowls.", "Four hours of steady work faced us.",
           "A large size in stockings is hard to sell."],
    "it": ["Il sole splende sulla vecchia città.", "Domani andiamo al mare con gli amici.",
           "La cena è pronta sulla tavola.", "Mio fratello legge un libro ogni settimana.",
           "Il treno parte alle otto di mattina.", "Questa strada porta alla piazza principale.",
           "Il gatto dorme vicino alla finestra.", "Mia madre prepara il caffè ogni giorno.",
           "I bambini giocano nel giardino della scuola."],
    "ca": ["El sol brilla sobre la ciutat vella.", "Demà anirem a la platja amb els amics.",
           "El sopar és a punt a la taula.", "El meu germà llegeix un llibre cada setmana.",
           "El tren surt a les vuit del matí.", "Aquest carrer porta a la plaça major.",
           "El gat dorm a prop de la finestra.", "La meva mare fa cafè cada dia.",
           "Els nens juguen al jardí de l'escola."],
    "cs": ["Slunce svítí nad starým městem.", "Zítra pojedeme k moři s přáteli.",
           "Večeře je připravená na stole.", "Můj bratr čte každý týden knihu.",
           "Vlak odjíždí v osm hodin ráno.", "Tahle ulice vede na hlavní náměstí.",
           "Kočka spí blízko okna.", "Moje matka vaří kávu každý den.",
           "Děti si hrají na školní zahradě."],
    "ru": ["Солнце светит над старым городом.", "Завтра мы поедем на море с друзьями.",
           "Ужин готов на столе.", "Мой брат читает книгу каждую неделю.",
           "Поезд уходит в восемь часов утра.", "Эта улица ведёт на главную площадь.",
           "Кошка спит возле окна.", "Моя мама варит кофе каждый день.",
           "Дети играют в школьном саду."],
    "fi": ["Aurinko paistaa vanhan kaupungin yllä.", "Huomenna menemme rannalle ystävien kanssa.",
           "Illallinen on valmiina pöydällä.", "Veljeni lukee kirjan joka viikko.",
           "Juna lähtee kahdeksalta aamulla.", "Tämä katu vie päätorille.",
           "Kissa nukkuu ikkunan vieressä.", "Äitini keittää kahvia joka päivä.",
           "Lapset leikkivät koulun pihalla."],
    "hi": ["पुराने शहर पर सूरज चमक रहा है।", "कल हम दोस्तों के साथ समुद्र तट पर जाएंगे।",
           "खाना मेज़ पर तैयार है।", "मेरा भाई हर हफ्ते एक किताब पढ़ता है।",
           "ट्रेन सुबह आठ बजे निकलती है।", "यह सड़क मुख्य बाज़ार तक जाती है।",
           "बिल्ली खिड़की के पास सो रही है।", "मेरी माँ हर दिन चाय बनाती है।",
           "बच्चे स्कूल के बगीचे में खेल रहे हैं।"],
}
SOURCES = [(0, 1, 2), (3, 4, 5)]
PROBES = [6, 7, 8]
# Festival's voices read Latin-2 (Czech), UTF-8 (Russian, Hindi, Catalan), Latin-1 (the others).
ENCODING = {"cs": "iso-8859-2", "ru": "utf-8", "hi": "utf-8", "ca": "utf-8"}
CACHE = Path(tempfile.gettempdir()) / "clone-audit-bench-fidelity"

CHANNELS = ["none", "resampled", "mp3-32k", "mp3-64k", "mulaw-8k", "plain-8k", "noise-20dB",
            "level-20dB", "level+20dB", "clipped", "imitation"]


def synthesise(voice: Voice, text: str) -> tuple[np.ndarray, int] | None:
    """The voice reading `text` (cached by voice and text); None when the voice cannot speak."""
    key = hashlib.sha256(f"{voice.name}\n{text}".encode()).hexdigest()[:20]
    cached = CACHE / f"{key}.wav"
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "say.wav"
            if voice.engine == "flite":
                cmd = ["flite", "-voice", voice.voice, "-t", text, "-o", str(out)]
            else:
                script = Path(tmp) / "say.txt"
                script.write_bytes(text.encode(ENCODING.get(voice.language, "iso-8859-1"), errors="replace"))
                cmd = ["text2wave", "-eval", f"(voice_{voice.voice})", str(script), "-o", str(out)]
            done = subprocess.run(cmd, capture_output=True, timeout=120)
            if done.returncode != 0 or not out.exists() or out.stat().st_size < 2000:
                return None
            shutil.copyfile(out, cached)
    samples, rate = sf.read(cached, dtype="float32", always_2d=True)
    return samples.mean(axis=1), rate


def _encode(samples: np.ndarray, rate: int, fmt: str, codec: str, bit_rate: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        if bit_rate:
            stream.bit_rate = bit_rate
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.clip(samples, -1, 1).astype(np.float32)[None, :], format="flt",
                                           layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def _gain(samples: np.ndarray, db: float) -> np.ndarray:
    return (samples * 10 ** (db / 20)).astype(np.float32)


def _imitation(samples: np.ndarray, rate: int) -> np.ndarray:
    """An imperfect imitation: pitch and formants 3 % up, tempo 3 % faster, a 1st-order tilt."""
    shifted = resample(samples, rate, round(rate / 1.03))  # played at `rate`: 3 % higher and faster
    tilted = shifted.astype(np.float64)
    tilted[1:] -= 0.4 * tilted[:-1]
    return (tilted / max(1e-9, np.abs(tilted).max()) * np.abs(samples).max()).astype(np.float32)


def round_trip(channel: str, samples: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """The clip as it comes out of `channel` (deterministic)."""
    if channel == "resampled":
        up = resample(samples, rate, 44100)
        return decode(wav_pcm16(resample(up, 44100, 24000), 24000))
    if channel in ("mp3-32k", "mp3-64k"):
        return decode(_encode(samples, rate, "mp3", "libmp3lame", 1000 * int(channel[4:6])))
    if channel == "mulaw-8k":
        return decode(_encode(resample(samples, rate, 8000), 8000, "wav", "pcm_mulaw"))
    if channel == "plain-8k":
        return decode(wav_pcm16(resample(samples, rate, 8000), 8000))
    if channel == "noise-20dB":
        rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
        noise = np.random.default_rng(20).standard_normal(samples.shape[0]) * rms / 10
        return decode(wav_pcm16((samples + noise).astype(np.float32), rate))
    if channel == "level-20dB":
        return decode(wav_pcm16(_gain(samples, -20), rate))
    if channel == "level+20dB":
        return decode(wav_pcm16(np.clip(_gain(samples, 20), -1, 1), rate))
    if channel == "clipped":  # raised until its peaks are cut: 6 dB above full scale
        peak = max(1e-9, float(np.abs(samples).max()))
        return decode(wav_pcm16(np.clip(samples / peak * 2.0, -1, 1).astype(np.float32), rate))
    if channel == "imitation":
        return _imitation(samples, rate), rate
    return samples, rate
