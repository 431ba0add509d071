"""No store gets the key: a server that sends the API key back as a voice id, inside a
`migrated-from:` tag, as a display name and inside an error reason leaves no byte of it in
any file under the output folder or the state folder, SQLite files (history.sqlite,
ledger.sqlite and their journals) included, through the real CLI. A voice whose id is the
key is reported with its id masked and never re-cloned, recorded in the ledger or retired."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from audit.core.models import MARKER_PREFIX
from audit.emulator import CloneRecord, EmulatorConfig, EmulatorServer, EmulatorState, generate_archive, generate_org
from tests.support.emulator import serve_handler
from tests.support.audio import speech, write_sf

pytestmark = pytest.mark.integration

KEY = "sk_live_StOrEdKeY0123456789abcdef"
LEGACY = {"modelIds": ["lightning-large"], "status": "completed", "language": "en"}
NAMED = "voice_keynamed0001"  # a plain voice whose display name is the key: it is re-cloned


def hostile(key: str) -> list[dict[str, object]]:
    """List entries carrying the key as an id, in a marker tag, and as a display name."""
    return [
        {"voiceId": key, **LEGACY, "displayName": "Key as id"},
        {"voiceId": "voice_keytagged01", "modelIds": ["lightning-v3.1"], "status": "completed", "language": "en",
         "displayName": "Key in a tag", "tags": [MARKER_PREFIX + key, "note:" + key]},
        {"voiceId": NAMED, **LEGACY, "displayName": key},
    ]


def cli(*args: str, cwd: Path, state: Path, base_url: str, key: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMALLEST_")}
    env.update(SMALLEST_API_KEY=key, SMALLEST_BASE_URL=base_url, COLUMNS="200", CLONE_AUDIT_STATE_DIR=str(state))
    return subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=180,
                          env=env, cwd=cwd)


def holders(key: str, *folders: Path) -> list[str]:
    """Every file (name or bytes) under `folders` holding the key or its first 12 characters."""
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            data = path.read_bytes() if path.is_file() else b""
            for needle in (key[:12].encode(), key.encode("utf-16-le")[:24]):
                if needle in data or needle.decode("utf-8", "ignore") in str(path.relative_to(folder)):
                    found.append(str(path.relative_to(folder)))
    return sorted(set(found))


@pytest.fixture
def echoing_api() -> Iterator[str]:
    """Lists the hostile entries; every TTS call fails with an error that quotes the Authorization header."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, data: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply(200, json.dumps({"data": hostile(KEY)}).encode())

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self._reply(400, json.dumps({"message": f"voice rejected for {self.headers['authorization']}"}).encode())

    with serve_handler(Handler) as base_url:
        yield base_url


def test_a_key_sent_back_as_id_tag_name_and_reason_is_in_no_file_nor_the_history(echoing_api: str,
                                                                                   tmp_path: Path) -> None:
    state, archive = tmp_path / "state", tmp_path / "archive"
    write_sf(archive / f"{NAMED}.wav", speech(6.0))
    scanned = cli("scan", "--out", "out", cwd=tmp_path, state=state, base_url=echoing_api, key=KEY)
    assert scanned.returncode == 4, scanned.stderr  # no voice could be checked: each error is data
    planned = cli("plan", "--out", "out", "--archive", str(archive), cwd=tmp_path, state=state,
                  base_url=echoing_api, key=KEY)
    assert planned.returncode == 4, planned.stderr  # the key-id voice stays unknown
    assert (tmp_path / "out" / "history.sqlite").is_file()
    assert holders(KEY, tmp_path / "out", state) == []
    assert KEY[:12] not in scanned.stdout + scanned.stderr + planned.stdout + planned.stderr
    plan = json.loads(next((tmp_path / "out").rglob("plan.json")).read_text(encoding="utf-8"))
    actions = {e["voice_id"]: (e["action"], e.get("reason", "")) for e in plan["entries"]}
    masked = [value for voice, value in actions.items() if "****" in voice]
    assert masked and all(action == "BLOCKED" for action, _ in masked)  # never re-cloned


def test_apply_records_a_key_named_voice_without_the_key_and_never_acts_on_a_key_id(tmp_path: Path) -> None:
    org = generate_org(8, seed=3)
    archive, state = tmp_path / "archive", tmp_path / "state"
    generate_archive(org, archive, seed=3)
    write_sf(archive / f"{NAMED}.wav", speech(6.0))
    config = {"tts_concurrency": 4, "pending_s": 0.05, "processing_s": 0.05, "retry_after": 0.01, "api_key": KEY}
    extra = [CloneRecord(str(e["voiceId"]), "v3.1" if "v3.1" in str(e["modelIds"]) else "legacy",
                         {k: v for k, v in e.items() if k != "voiceId"}) for e in hostile(KEY)]
    (tmp_path / "fast.toml").write_text("[apply]\npoll_interval_s = 0.05\nsettle_s = 0.1\n", encoding="utf-8")
    with EmulatorServer(EmulatorState(EmulatorConfig(**config), [*org.clones, *extra])) as server:
        run = lambda *a: cli(*a, cwd=tmp_path, state=state, base_url=server.base_url, key=KEY)  # noqa: E731
        assert run("scan", "--out", "out").returncode in (1, 4)
        planned = run("plan", "--out", "out", "--archive", str(archive))
        assert planned.returncode in (1, 4), planned.stderr
        plan_path = next((tmp_path / "out").rglob("plan.json"))
        applied = run("apply", str(plan_path), "--yes", "--config", "fast.toml", "--only", NAMED)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        deletes = server.state.requests(method="DELETE")
    assert (plan_path.parent / "ledger.sqlite").is_file()
    assert holders(KEY, tmp_path / "out", state) == []
    assert KEY[:12] not in applied.stdout + applied.stderr
    assert deletes == []
    assert [c for c in server.state.clones() if c.voice_id == KEY]  # the key-named voice is still there
