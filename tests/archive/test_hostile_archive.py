"""A hostile archive: every input gets a clear reason naming it, or safe handling; nothing
hangs, crashes the run, reads a huge file whole, or puts NaN or undecodable text in a plan."""

from __future__ import annotations

import json
import os
import signal
import struct
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import av
import numpy as np
import pytest

from audit.archive import gather as gathering
from audit.archive.checks import MAX_SOURCE_BYTES, check_source, make_fitted
from audit.archive.index import ArchiveIndex
from audit.archive.paths import NotRegularFile, open_regular
from audit.core import levels
from audit.core.config import ArchiveSettings
from audit.core.errors import ConfigError
from audit.core.models import Clone, NoProgress, SourceCheck, SourceProblem
from audit.core.runfolder import RunFolder

from tests.support import audio as files

VOICE = "voice_dLP5T67Qw7"
GIB = 2**30


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "archive"
    path.mkdir()
    return path


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail instead of hanging: a blocking open of a FIFO would never return."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def bounded(seconds: float, megabytes: float) -> Iterator[None]:
    """The block runs within `seconds` and allocates at most `megabytes` at its peak."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with deadline(seconds * 5):
            yield
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.1f} MB"


def check(folder: Path, voice_id: str = VOICE, name: str = "Emma") -> SourceCheck:
    """Index the folder and check what it holds for the voice, as plan does, with a deadline."""
    with deadline(30):
        result = check_source(ArchiveIndex(folder).find(Clone(voice_id=voice_id, display_name=name)))
    plain = json.dumps(asdict(result), allow_nan=False, ensure_ascii=False)  # what the plan writes
    plain.encode("utf-8")
    assert "\n" not in result.detail
    return result


def wav_header(frames: int, rate: int = 16000) -> bytes:
    size = frames * 2
    return (b"RIFF" + struct.pack("<I", min(36 + size, 0xFFFFFFFF)) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
            + b"data" + struct.pack("<I", min(size, 0xFFFFFFFF)))


def sparse(path: Path, head: bytes, size: int) -> Path:
    """A file of `size` bytes that takes no disk space beyond `head`."""
    path.write_bytes(head)
    os.truncate(path, size)
    return path


# -- damaged and huge recordings -------------------------------------------------------


def test_truncated_wav_is_measured_by_what_it_holds(folder: Path) -> None:
    whole = files.write_sf(folder.parent / "whole.wav", files.speech(20)).read_bytes()
    (folder / f"{VOICE}.wav").write_bytes(whole[: 44 + 8 * 16000 * 2])  # header says 20 s, data 8 s
    result = check(folder)
    assert (result.problem, result.kind, result.duration_s) == (None, "wav", 8.0)


def test_truncated_mp3_decodes_what_is_there_or_is_corrupt(folder: Path) -> None:
    whole = files.write_mp3(folder.parent / "whole.mp3", files.speech(12)).read_bytes()
    (folder / f"{VOICE}.mp3").write_bytes(whole[: len(whole) // 2])
    half = check(folder)
    assert half.problem is None and half.kind == "mp3"
    assert half.duration_s is not None and 5.0 < half.duration_s < 7.5
    (folder / f"{VOICE}.mp3").write_bytes(whole[:300])  # the first frame or two only
    stub = check(folder)
    assert stub.problem in (SourceProblem.CORRUPT, SourceProblem.TOO_SHORT)
    assert f"{VOICE}.mp3" in stub.detail


def test_sparse_multi_gigabyte_files_are_never_read_whole(folder: Path) -> None:
    target = folder / f"{VOICE}.wav"
    sparse(target, b"", 3 * GIB)  # zeros: no signature
    with bounded(seconds=1.0, megabytes=20):
        zeros = check(folder)
    assert zeros.problem is SourceProblem.CORRUPT and "not recognisable audio" in zeros.detail
    assert zeros.n_bytes == 3 * GIB and zeros.sha256 is None
    sparse(target, wav_header(10 * 16000), 3 * GIB)  # a WAV header, then gigabytes
    with bounded(seconds=1.0, megabytes=20):
        huge = check(folder)
    assert huge.problem is SourceProblem.TOO_LONG and "3.0 GiB wav file" in huge.detail
    assert MAX_SOURCE_BYTES < 3 * GIB


def test_a_header_saying_hours_blocks_without_decoding(folder: Path) -> None:
    rate, size = 16000, 900 * 2**20
    sparse(folder / f"{VOICE}.wav", wav_header(size // 2, rate), size)  # 8.2 h of 16 kHz PCM16
    with bounded(seconds=1.0, megabytes=20):
        result = check(folder)
    assert result.problem is SourceProblem.TOO_LONG
    assert "is 8.2 h long (its wav header says)" in result.detail and "trim it" in result.detail
    mp3 = files.write_mp3(folder.parent / "short.mp3", files.speech(10)).read_bytes()
    (folder / f"{VOICE}.wav").unlink()
    sparse(folder / f"{VOICE}.mp3", mp3, 900 * 2**20)  # FFmpeg estimates its length from the size
    with bounded(seconds=1.0, megabytes=30):
        estimated = check(folder)
    assert estimated.problem is SourceProblem.TOO_LONG and "mp3 header says" in estimated.detail


def test_a_header_that_lies_short_cannot_make_the_decode_unbounded(folder: Path) -> None:
    """An MP3 whose Xing header counts 10 s, followed by 11 minutes of frames."""
    short = files.write_mp3(folder.parent / "short.mp3", files.speech(10)).read_bytes()
    minute = files.write_mp3(folder.parent / "minute.mp3", files.speech(60)).read_bytes()
    (folder / f"{VOICE}.mp3").write_bytes(short + minute * 11)
    with bounded(seconds=20.0, megabytes=30):
        result = check(folder)
    assert result.problem is SourceProblem.TOO_LONG
    assert "decodes to more than 10 min" in result.detail


def test_a_long_recording_is_checked_and_fitted_in_bounded_memory(folder: Path) -> None:
    """9 minutes of 48 kHz speech: 104 MB as float32 samples, never held at once."""
    source = files.write_sf(folder / f"{VOICE}.wav", files.upsample(files.speech(540), 48000), rate=48000)
    with bounded(seconds=10.0, megabytes=20):
        result = check(folder)
    assert result.problem is None and result.fit is not None and result.duration_s == 540.0
    with bounded(seconds=10.0, megabytes=25):
        fitted = make_fitted(source, result)
    assert fitted.duration_s == pytest.approx(result.fit.end_s - result.fit.start_s, abs=1e-3)
    assert fitted.duration_s <= 15.0


def test_float_wav_with_nan_and_inf_is_corrupt_and_measures_stay_finite(folder: Path) -> None:
    samples = files.speech(8)
    samples[1000], samples[2000], samples[3000] = np.nan, np.inf, -np.inf
    files.write_sf(folder / f"{VOICE}.wav", samples, subtype="FLOAT")
    result = check(folder)  # json.dumps(allow_nan=False) inside
    assert result.problem is SourceProblem.CORRUPT
    assert "3 of 128000 samples are NaN or infinite" in result.detail
    stats = levels.measure(samples, files.RATE, 1000)
    assert all(np.isfinite(v) for v in (stats.rms_dbfs, stats.peak_dbfs, stats.active_ratio))
    assert 0.5 < stats.active_ratio <= 1.0  # the damaged samples count as silence, not as loud


def test_zero_length_file_is_corrupt_and_says_empty(folder: Path) -> None:
    (folder / f"{VOICE}.wav").touch()
    result = check(folder)
    assert result.problem is SourceProblem.CORRUPT and f"{VOICE}.wav is empty (0 bytes)" in result.detail


@pytest.mark.parametrize(
    ("content", "problem", "what"),
    [
        (b"Voice notes: Emma, recorded 2021.\n" * 3, SourceProblem.UNSUPPORTED, "looks like text"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), SourceProblem.UNSUPPORTED, "looks like a PNG image"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(40), SourceProblem.CORRUPT, "looks like wav but does not decode"),
    ],
    ids=["text", "png", "riff-junk"],
)
def test_wrong_content_named_wav(folder: Path, content: bytes, problem: SourceProblem, what: str) -> None:
    (folder / f"{VOICE}.wav").write_bytes(content)
    result = check(folder)
    assert result.problem is problem and what in result.detail and f"{VOICE}.wav" in result.detail


def test_mp3_bytes_named_wav_are_read_as_mp3(folder: Path) -> None:
    files.write_mp3(folder / f"{VOICE}.wav", files.speech(9))
    result = check(folder)
    assert (result.problem, result.kind, result.mime) == (None, "mp3", "audio/mpeg")


def test_video_without_audio_stream_is_unsupported(folder: Path) -> None:
    path = folder / f"{VOICE}.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), dtype=np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    result = check(folder)
    assert (result.problem, result.kind) == (SourceProblem.UNSUPPORTED, "mp4")
    assert "no audio stream (it holds video streams" in result.detail


def test_a_recording_that_changes_while_planning_blocks_its_voice_not_the_plan(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files.write_sf(folder / f"{VOICE}.wav", files.speech(20))  # long: a fitted copy is made
    files.write_sf(folder / "voice_other.wav", files.speech(20))
    real = gathering.check_source

    def check_then_change(match, cache=None):  # type: ignore[no-untyped-def]
        result = real(match, cache)
        if VOICE in str(match.path):
            files.write_sf(match.path, files.speech(21))  # rewritten between the check and the copy
        return result

    monkeypatch.setattr(gathering, "check_source", check_then_change)
    sourced = gathering.gather([Clone(voice_id=VOICE), Clone(voice_id="voice_other")],
                               ArchiveSettings(folder=str(folder)), RunFolder(tmp_path / "run"), NoProgress())
    changed = sourced.checks[VOICE]
    assert changed.problem is SourceProblem.CORRUPT and VOICE not in sourced.uploads
    assert "changed since it was checked" in changed.detail and changed.fit is None
    assert sourced.uploads["voice_other"].fitted  # the other voice goes on


# -- things that are not files ---------------------------------------------------------


def test_a_folder_named_like_a_recording_is_named_not_opened(folder: Path) -> None:
    (folder / f"{VOICE}.wav").mkdir()
    result = check(folder)
    assert result.problem is SourceProblem.MISSING
    assert f"{VOICE}.wav is a folder" in result.detail


def test_a_fifo_named_like_a_recording_never_blocks(folder: Path) -> None:
    fifo = folder / f"{VOICE}.wav"
    os.mkfifo(fifo)
    result = check(folder)  # under a deadline: opening a FIFO for reading waits for a writer
    assert result.problem is SourceProblem.MISSING
    assert f"{VOICE}.wav is a named pipe (FIFO)" in result.detail
    with deadline(5), pytest.raises(NotRegularFile, match="named pipe"):
        open_regular(fifo)
    (folder / "list.csv").write_text(f"{VOICE},{VOICE}.wav\n", encoding="utf-8")
    with deadline(5):
        via_manifest = check_source(ArchiveIndex(folder, Path("list.csv")).find(Clone(voice_id=VOICE)))
    assert via_manifest.problem is SourceProblem.MISSING and "named pipe" in via_manifest.detail


def test_a_fifo_as_manifest_is_a_config_error(folder: Path) -> None:
    os.mkfifo(folder / "list.csv")
    with deadline(5), pytest.raises(ConfigError, match=r"list\.csv is a named pipe \(FIFO\), not a file"):
        ArchiveIndex(folder, Path("list.csv"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway; the case cannot arise")
def test_an_unreadable_file_says_so(folder: Path) -> None:
    path = files.write_sf(folder / f"{VOICE}.wav", files.speech(8))
    path.chmod(0)
    try:
        result = check(folder)
    finally:
        path.chmod(0o644)
    assert result.problem is SourceProblem.CORRUPT and "Permission denied" in result.detail


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists a chmod 000 folder anyway; the case cannot arise")
def test_an_unreadable_subfolder_is_skipped_and_named(folder: Path) -> None:
    locked = folder / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        result = check(folder)
    finally:
        locked.chmod(0o755)
    assert result.problem is SourceProblem.MISSING and "could not be listed: locked" in result.detail


def test_symlink_loop_and_link_out_of_the_archive(folder: Path) -> None:
    (folder / f"a_{VOICE}.wav").symlink_to(folder / f"b_{VOICE}.wav")
    (folder / f"b_{VOICE}.wav").symlink_to(folder / f"a_{VOICE}.wav")
    looped = check(folder)
    assert looped.problem is SourceProblem.MISSING
    assert f"a_{VOICE}.wav is a symlink loop" in looped.detail and f"b_{VOICE}.wav" in looped.detail
    outside = files.write_sf(folder.parent / "elsewhere.wav", files.speech(8))
    (folder / f"{VOICE}.wav").symlink_to(outside)
    escaped = check(folder)
    assert escaped.problem is SourceProblem.PATH_ESCAPE and escaped.sha256 is None
    assert "elsewhere.wav" in escaped.detail


def test_a_broken_link_is_named(folder: Path) -> None:
    (folder / f"{VOICE}.wav").symlink_to(folder / "gone.wav")
    result = check(folder)
    assert result.problem is SourceProblem.MISSING and f"{VOICE}.wav is a link to nothing" in result.detail


# -- odd names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (f"take\n2 {VOICE}.wav", f"take\\n2 {VOICE}.wav"),
        (f"\u202eevil {VOICE}.wav", f"\\u202eevil {VOICE}.wav"),  # right-to-left override
        (f"Zoë {VOICE} 🎙.wav", f"Zoë {VOICE} 🎙.wav"),
        (f"Zoe\u0308\u200d_{VOICE}.wav", f"Zoe\u0308\\u200d_{VOICE}.wav"),  # combining mark, ZWJ
    ],
    ids=["newline", "rtl-override", "emoji", "zero-width-joiner"],
)
def test_odd_file_names_are_found_and_shown_on_one_line(folder: Path, name: str, shown: str) -> None:
    files.write_sf(folder / name, files.speech(8))
    result = check(folder)
    assert result.problem is None and result.path == name  # the data keeps the real name
    assert result.detail.startswith(shown)  # the reason shows it escaped


def test_names_full_of_separators_index_in_linear_time(folder: Path) -> None:
    """Indexing every bounded substring of a name would be quadratic in its length."""
    for i in range(500):
        (folder / f"{'-_' * 100}{i}{' .' * 20}.wav").write_bytes(b"RIFF")
    (folder / f"{'_-' * 100}{VOICE}{'- ' * 10}.wav").write_bytes(b"RIFF")
    with bounded(seconds=2.0, megabytes=20):
        index = ArchiveIndex(folder)
        match = index.find(Clone(voice_id=VOICE))
    assert len(index) == 501 and match.problem is None and match.matched_by == "voice-id"


def test_a_file_name_that_is_not_utf8_is_refused_by_name(folder: Path) -> None:
    raw = os.fsencode(folder) + b"/Ren\xe9_" + VOICE.encode() + b".wav"
    with open(raw, "wb") as out:
        out.write(files.write_sf(folder.parent / "x.wav", files.speech(8)).read_bytes())
    result = check(folder)  # encodable as UTF-8 JSON: checked inside
    assert result.problem is SourceProblem.UNSUPPORTED and result.path is None
    assert f"Ren\\xe9_{VOICE}.wav is not valid UTF-8" in result.detail


# -- hostile manifests -----------------------------------------------------------------


def manifest(folder: Path, data: bytes) -> Callable[[], ArchiveIndex]:
    (folder / "list.csv").write_bytes(data)
    return lambda: ArchiveIndex(folder, Path("list.csv"))


def test_manifest_with_bom_and_crlf_reads_like_a_plain_one(folder: Path) -> None:
    files.write_sf(folder / "emma.wav", files.speech(8))
    index = manifest(folder, f"\ufeffvoice_id,path,language\r\n{VOICE},emma.wav,en\r\n\r\n".encode())()
    entry = index.manifest[VOICE]
    assert (entry.path, entry.language, entry.line) == ("emma.wav", "en", 2)
    assert check_source(index.find(Clone(voice_id=VOICE))).problem is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (f"{VOICE},a.wav\nvoice_b,".encode() + b"x" * 2**20 + b".wav\n", "list.csv:2: line is longer than 65536 bytes"),
        (b"x" * (3 * 2**20), "list.csv:1: line is longer than 65536 bytes"),  # no line end at all
        (f"{VOICE},a\0.wav\n".encode(), "list.csv:1: holds a NUL byte"),
        (f"voice_id,path\n{VOICE},Ren\xe9.wav\n".encode("latin-1"), "list.csv:2: not UTF-8 text (byte 0xe9"),
        (f"voice_id,path\n{VOICE},a.wav\n".encode("utf-16"), "is UTF-16 text, not UTF-8"),
        (f"{VOICE},a.wav\n{VOICE},b.wav\n".encode(), f"list.csv:2: voice_id {VOICE} is listed again"),
    ],
    ids=["1mb-line", "3mb-no-newline", "nul", "latin-1", "utf-16", "duplicate-id"],
)
def test_hostile_manifest_is_a_config_error_naming_file_and_line(folder: Path, data: bytes, expected: str) -> None:
    with bounded(seconds=2.0, megabytes=10), pytest.raises(ConfigError) as caught:
        manifest(folder, data)()
    assert expected in caught.value.message and caught.value.exit_code == 2


def test_sparse_gigabyte_manifest_fails_on_its_first_line(folder: Path) -> None:
    sparse(folder / "list.csv", b"", 2 * GIB)
    with bounded(seconds=1.0, megabytes=10), pytest.raises(ConfigError, match="list.csv:1: line is longer"):
        ArchiveIndex(folder, Path("list.csv"))


@pytest.mark.parametrize("entry", ["../../etc/passwd", "sub/../../elsewhere.wav", "/etc/passwd", "ABSOLUTE"])
def test_manifest_paths_out_of_the_archive_are_refused(folder: Path, entry: str) -> None:
    files.write_sf(folder.parent / "elsewhere.wav", files.speech(8))
    entry = str(folder.parent / "elsewhere.wav") if entry == "ABSOLUTE" else entry
    index = manifest(folder, f"{VOICE},{entry}\n".encode())()
    result = check_source(index.find(Clone(voice_id=VOICE)))
    assert result.problem is SourceProblem.PATH_ESCAPE and result.sha256 is None
    assert "outside the archive folder" in result.detail
