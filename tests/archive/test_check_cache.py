"""Plan's source checks made fast: listening only to the uploaded span until speech is heard,
remembering a full check for unchanged bytes, and checking on several processes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from audit.archive import checks as checking
from audit.archive import gather as gathering
from audit.archive.cache import FILE_NAME, CheckCache
from audit.archive.checks import check_source
from audit.archive.index import ArchiveIndex
from audit.core import audio
from audit.core.config import ArchiveSettings
from audit.core.models import Clone, NoProgress, SourceCheck, SourceProblem
from audit.core.runfolder import RunFolder
from audit.fidelity import vad

from tests.support import audio as files

VOICE = "voice_dLP5T67Qw7"
RATE = files.RATE


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "archive"
    path.mkdir()
    return path


def check(folder: Path, cache: CheckCache | None = None) -> SourceCheck:
    return check_source(ArchiveIndex(folder).find(Clone(voice_id=VOICE, display_name="Emma")), cache)


def tone(seconds: float, level: float = 0.05) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def hum(seconds: float) -> np.ndarray:
    noise = 0.02 * np.random.default_rng(3).standard_normal(round(seconds * RATE))
    return (tone(seconds, 0.3) + noise).astype(np.float32)


FIXTURES = {
    "speech, uploaded as it is": lambda: files.speech(8),
    "speech, fitted": lambda: files.speech(40),
    "hum": lambda: hum(10),
    "speech, then a louder tone": lambda: np.concatenate([files.speech(12), tone(28)]),
    "a tone, then speech": lambda: np.concatenate([tone(4, 0.01), files.speech(9)]),
}


def old_verdict(path: Path, result: SourceCheck) -> bool:
    """What the check before this change decided: Silero scored every window of the uploaded span."""
    assert result.duration_s is not None
    start, end = (result.fit.start_s, result.fit.end_s) if result.fit else (0.0, result.duration_s)
    with open(path, "rb") as file, audio.Decoder(file, "wav") as decoder:
        clip, rate = checking._window(decoder, start, end)
    return vad.detect(clip, rate).speaks


@pytest.mark.parametrize("name", FIXTURES)
def test_the_window_check_gives_the_verdict_scoring_every_window_gave(folder: Path, name: str) -> None:
    path = files.write_sf(folder / f"{VOICE}.wav", FIXTURES[name]())
    result = check(folder)
    assert result.problem in (None, SourceProblem.SILENT), result.detail
    assert (result.problem is None) == old_verdict(path, result), result.detail


def test_the_detector_hears_only_the_uploaded_window(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[float] = []
    real = vad.first_speech

    def listening(samples: np.ndarray, rate: int) -> vad.SpeechActivity:
        heard.append(samples.shape[0] / rate)
        return real(samples, rate)

    monkeypatch.setattr(vad, "first_speech", listening)
    files.write_sf(folder / f"{VOICE}.wav", files.speech(40))
    result = check(folder)
    assert result.fit is not None and heard == [pytest.approx(result.fit.end_s - result.fit.start_s, abs=0.01)]


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    opened = [0]
    real = audio.Decoder.__init__

    def counting(self: audio.Decoder, *args: object) -> None:
        opened[0] += 1
        real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(audio.Decoder, "__init__", counting)
    return opened


def test_a_kept_check_is_reused_for_the_same_bytes_not_for_changed_ones(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = CheckCache.open(tmp_path / FILE_NAME)
    assert cache is not None
    path = files.write_sf(folder / f"{VOICE}.wav", files.speech(8))
    first = check(folder, cache)
    cache.keep([(f"{VOICE}.wav", first)])
    opened = count_decodes(monkeypatch)
    again = check(folder, cache)
    assert again == first and opened[0] == 0  # not decoded: the kept check
    files.write_sf(path, hum(10))  # other bytes under the same name
    changed = check(folder, cache)
    assert opened[0] > 0 and changed.problem is SourceProblem.SILENT and changed.sha256 != first.sha256
    assert stat.S_IMODE(os.stat(tmp_path / FILE_NAME).st_mode) == 0o600


def test_a_kept_check_names_the_file_where_it_is_now(folder: Path, tmp_path: Path) -> None:
    cache = CheckCache.open(tmp_path / FILE_NAME)
    assert cache is not None
    path = files.write_sf(folder / f"old {VOICE}.wav", files.speech(8))
    cache.keep([(f"old {VOICE}.wav", check(folder, cache))])
    path.rename(folder / f"new {VOICE}.wav")
    moved = check(folder, cache)
    assert moved.problem is None and moved.path == f"new {VOICE}.wav"
    assert f"new {VOICE}.wav" in moved.detail and "old " not in moved.detail


def plan_sources(folder: Path, out: Path, **options: object) -> gathering.Sourced:
    return gathering.gather([Clone(voice_id=VOICE, display_name="Emma")], ArchiveSettings(folder=str(folder)),
                            RunFolder(out), NoProgress(), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("garbage", [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_corrupt_cache_does_not_break_plan(folder: Path, tmp_path: Path, state_dir: Path, garbage: bytes) -> None:
    files.write_sf(folder / f"{VOICE}.wav", files.speech(40))
    (state_dir / FILE_NAME).write_bytes(garbage)
    sourced = plan_sources(folder, tmp_path / "run")
    assert sourced.checks[VOICE].problem is None and sourced.uploads[VOICE].fitted
    again = plan_sources(folder, tmp_path / "run2")  # the cache was started again and filled
    assert again.checks[VOICE] == sourced.checks[VOICE]
    cache = CheckCache.open(state_dir / FILE_NAME)
    assert cache is not None and cache.recall(sourced.checks[VOICE].sha256 or "", sourced.checks[VOICE].n_bytes or 0)


def test_an_implausible_cache_entry_is_checked_again(folder: Path, tmp_path: Path) -> None:
    cache = CheckCache.open(tmp_path / FILE_NAME)
    assert cache is not None
    files.write_sf(folder / f"{VOICE}.wav", hum(10))
    silent = check(folder, cache)
    forged = SourceCheck(None, "fine", sha256=silent.sha256, kind="wav", mime=None, n_bytes=silent.n_bytes,
                         duration_s=10.0, speech_s=9.0)  # usable, yet neither uploaded as it is nor fitted
    cache.keep([(f"{VOICE}.wav", forged)])
    assert check(folder, cache).problem is SourceProblem.SILENT


def test_checks_on_several_processes_come_back_in_plan_order(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gathering, "POOL_FROM", 6)
    clones = [Clone(voice_id=f"voice_{i:02d}") for i in range(8)]
    for i, clone in enumerate(clones):
        samples = hum(6) if i % 3 == 1 else files.speech(20 if i % 3 == 2 else 7)
        files.write_sf(folder / f"{clone.voice_id}.wav", samples)
    (folder / "voice_00.wav").write_bytes(b"\x00" * 5000)  # one broken file among them
    settings = ArchiveSettings(folder=str(folder))
    here = gathering.gather(clones, settings, RunFolder(tmp_path / "a"), NoProgress(), workers=1, cache=None)
    pooled = gathering.gather(clones, settings, RunFolder(tmp_path / "b"), NoProgress(), workers=2, cache=None)
    assert list(pooled.checks) == [c.voice_id for c in clones]
    assert pooled.checks == here.checks and pooled.checks["voice_00"].problem is SourceProblem.CORRUPT
    assert {k: u.sha256 for k, u in pooled.uploads.items()} == {k: u.sha256 for k, u in here.uploads.items()}
