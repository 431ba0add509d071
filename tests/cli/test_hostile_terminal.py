"""Server and mapping strings on stdout: `usage`, `cutover`, `history` and `report --format
json` print a display name or voice id holding ESC, CR, newline or U+202E as escapes, never
as bytes a terminal would act on; a damaged history is an error naming the file."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.support.emulator import serve_handler

from audit.cli import main
from audit.runs.store import History, HistoryRow, history_path
from audit.core.secrets import Secret
from audit.emulator import EmulatorServer
from audit.emulator.state import CloneRecord

pytestmark = pytest.mark.integration

HOSTILE = "Evil\x1b[2J\x1b[31mRED\u202eexe\rOVER\nFAKE: line\x9b6n"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
KEY = "sk_live_TERMINAL_0123456789abcdef"


def _raw_lines(out: str) -> list[str]:
    """Lines holding a control byte or bidi override, or forged by a server string's newline."""
    return [line for line in out.split("\n") if RAW.search(line) or line.startswith("FAKE")]


@pytest.fixture
def analytics_api() -> Iterator[str]:
    """An API whose TTS analytics log holds one call of a voice with a hostile id."""
    entry = {"voice_id": "voice_" + HOSTILE, "timestamp": datetime.now(UTC).isoformat(), "text_len": 5}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            data = json.dumps({"data": [entry], "totalPages": 1, "totalCount": 1}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serve_handler(Handler) as base_url:
        yield base_url


def test_usage_prints_a_hostile_voice_id_from_the_analytics_log_as_escapes(
    analytics_api: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMALLEST_API_KEY", KEY)
    monkeypatch.setenv("SMALLEST_BASE_URL", analytics_api)
    assert main(["usage", "--since", "2020-01-01"]) == 0
    out = capsys.readouterr().out
    assert _raw_lines(out) == [] and r"voice_Evil\x1b[2J\x1b[31mRED\u202eexe\x0dOVER\x0aFAKE" in out


def test_cutover_prints_a_mapping_display_name_and_the_operators_diff_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"mapping": [{"old_voice_id": "voice_old00000001", "new_voice_id": "voice_new00000001",
                                                "status": "ready", "display_name": HOSTILE}]}), encoding="utf-8")
    app = tmp_path / "app"
    app.mkdir()
    (app / "cfg.env").write_bytes("VOICE=voice_old00000001 # \x1b[31mred\x9b\r\n".encode())  # the operator's own bytes
    monkeypatch.chdir(tmp_path)
    assert main(["cutover", str(mapping), "app"]) == 1  # a dry run that found an id
    out = capsys.readouterr().out
    assert _raw_lines(out) == [], out
    assert r"(Evil\x1b[2J\x1b[31mRED\u202eexe\x0dOVER\x0aFAKE: line\x9b6n)" in out
    assert "-VOICE=voice_old00000001 # \\x1b[31mred\\x9b\n+VOICE=voice_new00000001" in out  # the diff keeps its lines


def test_history_prints_hostile_fields_as_escapes_and_a_damaged_history_names_its_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    now = datetime.now(UTC).isoformat()
    with History(history_path(tmp_path)) as store:
        store.record(HistoryRow("20250101T000000Z-abcd", "scan" + HOSTILE, "acct" + HOSTILE, "http://h/" + HOSTILE,
                               now, now, 0, str(tmp_path), {"compliant": 1}, 1, {}), [])
    assert main(["history", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert _raw_lines(out) == [] and r"acctEvil\x1b[2J" in out
    assert main(["history", "--json", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert _raw_lines(out) == [] and json.loads(out)[0]["account"] == "acct" + HOSTILE  # same data for a parser
    with sqlite3.connect(history_path(tmp_path)) as db:
        db.execute("UPDATE runs SET counts = '{not json'")
    assert main(["history", "--out", str(tmp_path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "damaged" in err and history_path(tmp_path).name in err and "This is a bug" not in err


def test_report_json_on_stdout_shows_a_hostile_display_name_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = CloneRecord("voice_hostile00001", "legacy", {"modelIds": ["lightning-large"], "status": "completed",
                                                         "language": "en", "displayName": HOSTILE})
    with EmulatorServer.with_org(n=3, seed=1) as server:
        server.state.add_clone(record)
        monkeypatch.setenv("SMALLEST_API_KEY", server.api_key)
        monkeypatch.setenv("SMALLEST_BASE_URL", server.base_url)
        Secret(server.api_key)
        main(["scan", "--out", str(tmp_path)])
    capsys.readouterr()
    assert main(["report", "latest", "--format", "json", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert _raw_lines(out) == []
    names = [v.get("display_name") for v in json.loads(out)["voices"]]
    assert HOSTILE in names  # the exact string, for a parser

