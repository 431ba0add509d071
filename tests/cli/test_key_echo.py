"""An API that echoes the key back in its error bodies, in every form a cut or an encoding
gives it, or a display name that holds it: no file of the run and no line of the terminal may
hold any part of it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.support.cli import cli_env, clone_audit
from tests.support.emulator import serve_handler

KEY = "sk_live_EcHoEd+/=0123456789abcdefXYZ"
Reply = tuple[int, str, bytes]


def _echoes(auth: str) -> list[Callable[[], Reply]]:
    """One hostile answer per voice, each holding the Authorization header in another form."""
    quoted = urllib.parse.quote(auth, safe="")
    return [
        lambda: (400, "text/plain", ("E" * 170 + " echo: " + auth).encode()),  # cut at 200
        lambda: (400, "application/json", json.dumps({"message": "M" * 470 + " key=" + KEY}).encode()),  # cut at 500
        lambda: (400, "application/json", json.dumps({"message": "bad request to /tts?auth=" + quoted}).encode()),
        lambda: (400, "text/plain", f"upstream said {quoted} and {urllib.parse.quote_plus(auth)}".encode()),
        lambda: (400, "application/json", json.dumps({"error": "basic " + base64.b64encode(auth.encode()).decode()}).encode()),
        lambda: (200, "text/html", b"<p>" + auth.encode() + b"</p>"),  # not audio: its first 32 bytes are shown
    ]


@pytest.fixture
def echoing_api() -> Iterator[str]:
    clones = [{"voiceId": f"voice_echo{i:07d}", "displayName": f"V{i}", "modelIds": ["lightning-large"],
               "status": "completed", "language": "en"} for i in range(len(_echoes("")))]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, kind: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply(200, "application/json", json.dumps({"data": clones}).encode())

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            index = int(body["voice_id"].removeprefix("voice_echo"))
            self._reply(*_echoes(self.headers["authorization"])[index]())

    with serve_handler(Handler) as base_url:
        yield base_url


def _leaks(text: str) -> list[str]:
    """Every part of KEY found in `text`: a prefix of 8 or more, or an encoded form."""
    forms = {f"prefix {n}": KEY[:n] for n in range(8, len(KEY) + 1)}
    for auth in (KEY, f"Bearer {KEY}"):
        forms |= {f"quote {auth[:6]}": urllib.parse.quote(auth, safe="")[:20],
                  f"quote_plus {auth[:6]}": urllib.parse.quote_plus(auth)[:20],
                  f"base64 {auth[:6]}": base64.b64encode(auth.encode()).decode()[:16]}
    return sorted(name for name, form in forms.items() if form in text)


def test_a_key_echoed_cut_or_encoded_reaches_no_file_and_no_terminal(echoing_api: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMALLEST_")}
    env.update(SMALLEST_API_KEY=KEY, SMALLEST_BASE_URL=echoing_api, COLUMNS="200")
    done = subprocess.run([sys.executable, "-m", "audit", "scan", "-v", "--out", "out"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 4, done.stderr  # every voice unknown: each error is data, not a crash
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "run.json" for p in files) and any(p.name == "report.html" for p in files)
    for path in files:
        assert _leaks(path.read_bytes().decode("utf-8", "replace")) == [], path.name
    assert _leaks(done.stdout + done.stderr) == []
    reasons = " ".join(v["reason"] for v in json.loads(next(tmp_path.rglob("run.json")).read_text())["voices"])
    assert "Bearer ****" in reasons and "/tts?[query removed]" in reasons  # the evidence stays, the key goes


@pytest.mark.integration  # an emulator over real HTTP
def test_a_display_name_holding_the_key_leaves_no_part_of_it_in_any_file(tmp_path: Path) -> None:
    """The findings table shows `display_name | truncate(80, killwords=True)`: a name of 60
    characters then the key is cut inside the key, after scrubbing found no whole key in the
    cell, so report.html kept the key's first 17 characters (a prefix of 8 or more is a leak
    for the key-echo guarantee)."""
    from audit.emulator import EmulatorServer
    from audit.emulator.state import CloneRecord

    with EmulatorServer.with_org(n=3, seed=1) as server:
        key = server.api_key
        server.state.add_clone(CloneRecord("voice_leak000001", "legacy", {
            "modelIds": ["lightning-large"], "status": "completed", "language": "en", "displayName": "N" * 60 + key}))
        done = clone_audit("scan", "--out", "out", env={**cli_env(server), "CLONE_AUDIT_STATE_DIR": str(tmp_path / "state")},
                           cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files)
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        assert [n for n in range(8, len(key) + 1) if key[:n] in text] == [], path.name


@pytest.mark.parametrize("args", [("scan", "sk_live_AbC123xyz7890qq"), ("scan", "--out", "x", "Zk3J9qLmP0aB7cD8eF2gH4iJ5k"),
                                  ("sk_live_AbC123xyz7890qq",)])
def test_a_key_typed_as_an_argument_is_never_echoed(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = clone_audit(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert args[-1] not in done.stdout + done.stderr and args[-1][:12] not in done.stderr
    assert "SMALLEST_API_KEY" in done.stderr  # and it says where the key goes


def test_ordinary_mistakes_are_still_shown_as_typed(tmp_path: Path) -> None:
    done = clone_audit("scan", "--probes", "all", "20260101T000000Z-ab12", "voice_AAAAAAAAAA", cwd=tmp_path)
    assert done.returncode == 2
    assert "--probes all 20260101T000000Z-ab12 voice_AAAAAAAAAA" in done.stderr and "did you mean --probe" in done.stderr
