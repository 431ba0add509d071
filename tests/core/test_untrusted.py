"""Server strings and secrets: safe file names, escaped control characters, scrubbed secrets,
on the terminal, in the ledger and in every report file."""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import sqlite3
import urllib.parse
from pathlib import Path

import markupsafe
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.console import configure_logging, print_error
from audit.core.runfolder import RunFolder, write_text
from audit.core.secrets import Secret, SecretRegistry, scrub
from audit.core.untrusted import file_stem, is_plain_id, visible, visible_name
from audit.migrate.ledger import Ledger
from audit.migrate.state import State

KEY = "sk_live_UNITSECRET_0123456789abcdef"
ESCAPES = "\x1b[2J\x1b[31m\x1b]0;owned\x07\r\x9b6n\u202eevil\u2066"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

HOSTILE_IDS = [
    "../../archive/Other", "/etc/passwd", "a/b", "a\\b", "voice\x00nul", "v" * 300, "", ".", "..",
    "voice\x1b[2J", "voice\rcr", "voice\u202eevil", "CON", "x" * 10_000, "\ud800",
]


@pytest.mark.parametrize("voice_id", HOSTILE_IDS)
def test_a_hostile_id_names_no_path_and_is_not_plain(voice_id: str) -> None:
    stem = file_stem(voice_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}-[0-9a-f]{12}", stem)
    assert voice_id == "CON" or not is_plain_id(voice_id)


@given(st.text(), st.text())
def test_file_stems_are_safe_and_differ_for_different_ids(a: str, b: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}-[0-9a-f]{12}", file_stem(a))
    assert a == b or file_stem(a) != file_stem(b)


def test_documented_ids_are_plain() -> None:
    assert all(is_plain_id(v) for v in ("voice_dLP5T67Qw7", "voice_abc-def", "66f0a1b2c3d4e5f6a7b8c9d0"))
    assert not is_plain_id(12345)


def test_visible_shows_every_control_as_an_escape() -> None:
    shown = visible("name" + ESCAPES + "\n\t")
    assert not RAW_CONTROL.search(shown) and "\n" not in shown
    assert shown.startswith(r"name\x1b[2J\x1b[31m\x1b]0;owned\x07\x0d\x9b6n\u202eevil\u2066")
    assert visible("a\nb\tc", keep_lines=True) == "a\nb\tc"


def test_a_file_name_is_shown_on_one_printable_line() -> None:
    # A name read with surrogateescape keeps its undecodable byte; it is shown as that byte.
    name = "take\n2 \u202eevil\u200d \udce9t\u00e9 \U0001f399.wav"
    assert visible_name(name) == "take\\n2 \\u202eevil\\u200d \\xe9t\u00e9 \U0001f399.wav"
    assert visible_name("Zoë 日本語.wav") == "Zoë 日本語.wav"


def test_scrub_removes_every_escaped_form_of_a_secret_and_url_queries() -> None:
    registry = SecretRegistry()
    tricky = 'sk_"quoted"&<key>'
    registry.add(tricky)
    registry.add("short")  # too short to register: would shred ordinary text
    forms = [tricky, json.dumps(tricky), html.escape(tricky), str(markupsafe.escape(tricky)), tricky.replace('"', '""')]
    text = " ".join(forms) + " short"
    out = registry.scrub(text + " see https://cdn.example/a.wav?X-Amz-Signature=abc&Expires=1 now")
    assert "quoted" not in out and "key" not in out and out.endswith("short see https://cdn.example/a.wav?[query removed] now")


def test_scrub_removes_url_encoded_and_base64_forms_and_path_queries_but_keeps_prose() -> None:
    registry = SecretRegistry()
    key = "sk_live_UNIT+/=0123456789abcdef"
    registry.add(key)
    for auth in (key, f"Bearer {key}", f"user:{key}"):
        for form in (urllib.parse.quote(auth, safe=""), urllib.parse.quote(auth), urllib.parse.quote_plus(auth),
                     re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), urllib.parse.quote(auth, safe="")),
                     base64.b64encode(auth.encode()).decode(),
                     base64.urlsafe_b64encode(f"x{auth}yz".encode()).decode()):
            out = registry.scrub(f"echo [{form}] done")
            assert "****" in out and "UNIT" not in out and "0123456789" not in out, (form, out)
    assert registry.scrub("bad request to /tts?auth=abc&v=1 then") == "bad request to /tts?[query removed] then"
    assert registry.scrub("GET v1/logs?page=2&token=xyz.") == "GET v1/logs?[query removed]"
    prose = "Is it and/or? x=1. What? a=b. Ratio 1/2?=3 in /a/b? c=d, see 'q?x=1' and path /tts?"
    assert registry.scrub(prose) == prose


def test_a_cut_never_leaves_the_start_of_a_secret() -> None:
    registry = SecretRegistry()
    key = "sk_live_CUTCUT_0123456789abcdef"
    registry.add(key)
    text = "E" * 20 + " echo " + key + " tail"
    assert registry.cut(text, 200) == "E" * 20 + " echo **** tail"  # scrubbed whole, then cut
    for limit in range(len(text)):
        out = registry.cut(text, limit)
        assert len(out) <= limit and not any(key[:n] in out for n in range(8, len(key))), (limit, out)
    assert registry.cut("echo " + key[:15] + "... more", 20) == "echo ****"  # a key the server cut itself
    assert registry.cut("plain words that are long enough", 10) == "plain word"


def test_every_secret_registers_itself() -> None:
    Secret("sk_made_anywhere_424242")
    assert scrub("Authorization: Bearer sk_made_anywhere_424242") == "Authorization: Bearer ****"


def test_a_written_file_never_holds_a_registered_secret(tmp_path: Path) -> None:
    Secret(KEY)
    folder = RunFolder(tmp_path).create()
    folder.write_text(folder.run_json, json.dumps({"reason": f"401: Bearer {KEY}", "odd": "\u202e\ud800"}))
    folder.write_text(folder.report_html, f"<td>{KEY}</td> https://s.invalid/x.wav?signature=SIG1234")
    data = folder.run_json.read_bytes() + folder.report_html.read_bytes()
    assert KEY.encode() not in data and b"SIG1234" not in data and b"Bearer ****" in data
    assert json.loads(folder.run_json.read_text(encoding="utf-8"))["odd"] == "\u202e\ud800"  # same data
    assert "\u202e".encode() not in data  # but nothing invisible in the bytes


def test_a_lone_surrogate_does_not_fail_a_write(tmp_path: Path) -> None:
    write_text(tmp_path / "clones.csv", "voice,\ud800name\r\n")
    assert (tmp_path / "clones.csv").read_bytes() == b"voice,\\ud800name\r\n"


def test_the_ledger_stores_no_secret_in_its_detail(tmp_path: Path) -> None:
    Secret(KEY)
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.record("voice_a", State.FAILED, plan_id="p",
                      detail=f"POST answered 500: echo Authorization: Bearer {KEY}; key={KEY}")
        assert ledger.get("voice_a").detail == "POST answered 500: echo Authorization: Bearer ****; key=****"
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert files and not any(KEY.encode() in p.read_bytes() for p in files)
    rows = sqlite3.connect(path).execute("SELECT detail FROM events").fetchall()
    assert rows == [("POST answered 500: echo Authorization: Bearer ****; key=****",)]


def test_a_newline_in_a_logged_value_cannot_forge_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(1)
    logging.getLogger("audit.test").info("clone %s: odd\nsecond line of the message", "voice_x\nFAKE: forged")
    err = capsys.readouterr().err
    assert r"voice_x\x0aFAKE: forged" in err and not any(line.lstrip().startswith("FAKE") for line in err.splitlines())
    assert any(line.strip() == "second line of the message" for line in err.splitlines())


def test_server_text_prints_without_control_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    Secret(KEY)
    configure_logging(0)
    logging.getLogger("audit.test").warning("voice %s: %s", "voice\x1b[2J", f"Bearer {KEY}{ESCAPES}")
    print_error(f"server said {ESCAPES} {KEY}", "hint \x1b[5m")
    err = capsys.readouterr().err
    assert not RAW_CONTROL.search(err.replace("\n", ""))
    err = " ".join(err.split())  # rich wraps long lines
    assert KEY not in err
    assert r"voice\x1b[2J" in err and r"\u202eevil" in err and "Bearer ****" in err
