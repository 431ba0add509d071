"""ArchiveIndex: manifest parsing, matching order, ambiguity and path safety on real folders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audit.archive.index import ArchiveIndex
from audit.archive.names import normalise_name
from audit.core.config import ArchiveSettings
from audit.core.errors import ConfigError
from audit.core.models import Clone, SourceProblem

VOICE = "voice_dLP5T67Qw7"


def clone(voice_id: str = VOICE, name: str = "Emma") -> Clone:
    return Clone(voice_id=voice_id, display_name=name)


def touch(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "archive"
    path.mkdir()
    return path


def index_with_manifest(folder: Path, text: str, name: str = "manifest.csv") -> ArchiveIndex:
    (folder / name).write_text(text, encoding="utf-8")
    return ArchiveIndex(folder, Path(name))


def test_manifest_row_wins_over_file_names(folder: Path) -> None:
    touch(folder, "takes/emma first.wav", f"{VOICE}.wav", "Emma.mp3")
    index = index_with_manifest(folder, f"voice_id,path,language\n{VOICE},takes/emma first.wav,en\n")
    match = index.find(clone())
    assert (match.problem, match.matched_by, match.relative) == (None, "manifest", "takes/emma first.wav")
    assert match.path == (folder / "takes/emma first.wav").resolve()
    assert index.manifest[VOICE].language == "en" and index.manifest[VOICE].line == 2


def test_manifest_without_header_and_with_all_columns(folder: Path) -> None:
    touch(folder, "a.wav")
    index = index_with_manifest(folder, f"\n{VOICE}, a.wav ,hi,Emma Old\n")
    entry = index.manifest[VOICE]
    assert (entry.path, entry.language, entry.display_name, entry.line) == ("a.wav", "hi", "Emma Old", 2)
    assert index.find(clone()).relative == "a.wav"


def test_manifest_row_naming_a_missing_file_is_missing_not_a_guess(folder: Path) -> None:
    touch(folder, f"{VOICE}.wav")
    match = index_with_manifest(folder, f"{VOICE},gone.wav\n").find(clone())
    assert match.problem is SourceProblem.MISSING
    assert "manifest line 1" in match.detail and "gone.wav" in match.detail


def test_voice_id_in_the_file_name_then_display_name(folder: Path) -> None:
    touch(folder, f"2021/emma_{VOICE}.mp3", "other/EMMA.wav", f"{VOICE}x.wav")
    match = ArchiveIndex(folder).find(clone())
    assert (match.matched_by, match.relative) == ("voice-id", f"2021/emma_{VOICE}.mp3")
    by_name = ArchiveIndex(folder).find(clone("voice_zzzzzzzzzz", "  emma "))
    assert (by_name.matched_by, by_name.relative) == ("display-name", "other/EMMA.wav")


def test_voice_id_must_stand_alone_in_the_name(folder: Path) -> None:
    touch(folder, f"{VOICE}2.wav", f"x{VOICE}.wav")
    assert ArchiveIndex(folder).find(clone(name="")).problem is SourceProblem.MISSING


@pytest.mark.parametrize("stem", ["emma smith", "Emma_Smith", "EMMA--smith", "Ｅｍｍａ Smith"])
def test_display_name_normalisation(folder: Path, stem: str) -> None:
    touch(folder, f"{stem}.flac")
    assert ArchiveIndex(folder).find(clone("voice_other", " Emma  Smith ")).relative == f"{stem}.flac"
    assert normalise_name(stem) == "emma smith"


def test_two_files_with_the_voice_id_are_ambiguous(folder: Path) -> None:
    touch(folder, f"{VOICE}.wav", f"old/emma_{VOICE}.mp3")
    match = ArchiveIndex(folder).find(clone())
    assert match.problem is SourceProblem.AMBIGUOUS and match.path is None
    assert f"{VOICE}.wav" in match.detail and f"old/emma_{VOICE}.mp3" in match.detail


def test_two_display_name_matches_are_ambiguous(folder: Path) -> None:
    touch(folder, "Emma.wav", "2020/emma.mp3")
    match = ArchiveIndex(folder).find(clone("voice_other", "Emma"))
    assert match.problem is SourceProblem.AMBIGUOUS
    assert "2020/emma.mp3, Emma.wav" in match.detail


def test_a_link_to_the_same_file_is_not_ambiguous(folder: Path) -> None:
    touch(folder, f"{VOICE}.wav")
    (folder / f"copy_{VOICE}.wav").symlink_to(folder / f"{VOICE}.wav")
    match = ArchiveIndex(folder).find(clone())
    assert match.problem is None and match.path == (folder / f"{VOICE}.wav").resolve()


def test_nothing_found_says_what_was_looked_for(folder: Path) -> None:
    touch(folder, "unrelated.wav")
    match = ArchiveIndex(folder).find(clone(name="Emma"))
    assert match.problem is SourceProblem.MISSING and match.path is None
    assert VOICE in match.detail and "'Emma'" in match.detail


def test_hidden_files_and_the_manifest_itself_are_not_candidates(folder: Path) -> None:
    touch(folder, f".{VOICE}.wav", f".trash/{VOICE}.wav")
    index = index_with_manifest(folder, "voice_id,path\n", name="Emma.csv")
    assert index.find(clone(name="Emma")).problem is SourceProblem.MISSING


@pytest.mark.parametrize("entry", ["../outside.wav", "sub/../../outside.wav", "ABSOLUTE"])
def test_manifest_path_outside_the_folder_is_refused(folder: Path, entry: str) -> None:
    outside = folder.parent / "outside.wav"
    touch(folder.parent, "outside.wav")
    entry = str(outside) if entry == "ABSOLUTE" else entry
    match = index_with_manifest(folder, f"{VOICE},{entry}\n").find(clone())
    assert match.problem is SourceProblem.PATH_ESCAPE and match.path is match.relative is None
    assert "outside the archive folder" in match.detail


def test_a_symlink_out_of_the_folder_is_refused(folder: Path) -> None:
    touch(folder.parent, "secret/outside.wav")
    (folder / f"{VOICE}.wav").symlink_to(folder.parent / "secret/outside.wav")
    (folder / "linked").symlink_to(folder.parent / "secret")
    match = ArchiveIndex(folder).find(clone())
    assert match.problem is SourceProblem.PATH_ESCAPE and match.path is match.relative is None
    assert "secret/outside.wav" in match.detail
    via_dir = index_with_manifest(folder, f"{VOICE},linked/outside.wav\n").find(clone())
    assert via_dir.problem is SourceProblem.PATH_ESCAPE


def test_the_folder_is_walked_once(folder: Path) -> None:
    index = ArchiveIndex(folder)
    touch(folder, f"{VOICE}.wav")
    assert index.find(clone()).problem is SourceProblem.MISSING


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"voice_id,path\n{VOICE}\n", "manifest.csv:2: expected voice_id,path"),
        (f"{VOICE},a.wav,en,Emma,extra\n", "manifest.csv:1: expected voice_id,path"),
        (f"{VOICE},a.wav\nvoice_b,b.wav\n{VOICE},c.wav\n", "manifest.csv:3: voice_id voice_dLP5T67Qw7 is listed again (first on line 1)"),
        ("voice_id,file\n", "manifest.csv:1: header voice_id,file"),
        (f",a.wav\n{VOICE},\n", "manifest.csv:1: voice_id and path must not be empty"),
    ],
)
def test_malformed_manifest_names_file_and_line(folder: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        index_with_manifest(folder, text)


def test_settings_errors(tmp_path: Path, folder: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ArchiveIndex.from_settings(ArchiveSettings(folder=str(tmp_path / "nowhere")))
    with pytest.raises(ConfigError, match="no archive folder"):
        ArchiveIndex.from_settings(ArchiveSettings())
    with pytest.raises(ConfigError, match=r"manifest .*list\.csv does not exist"):
        ArchiveIndex.from_settings(ArchiveSettings(folder=str(folder), manifest="list.csv"))
    (folder / "list.csv").write_bytes(b"\xff\xfe bad")
    with pytest.raises(ConfigError, match="is UTF-16 text, not UTF-8"):
        ArchiveIndex.from_settings(ArchiveSettings(folder=str(folder), manifest="list.csv"))


def test_settings_manifest_relative_to_folder(folder: Path) -> None:
    touch(folder, "a.wav")
    (folder / "list.csv").write_text(f"{VOICE},a.wav\n", encoding="utf-8")
    index = ArchiveIndex.from_settings(ArchiveSettings(folder=str(folder), manifest="list.csv"))
    assert index.find(clone()).matched_by == "manifest"
