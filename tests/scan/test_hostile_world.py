"""A hostile account, over real HTTP against the emulator: server strings that try to escape
the run folder or act on the terminal, error bodies that echo the key, interrupted runs,
an output folder that cannot be written."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.api.client import WavesClient
from audit.core.config import ApiSettings, ApplySettings, ArchiveSettings, Settings
from audit.core.models import Action, ProbeVerdict, SourceProblem, Verdict
from audit.core.secrets import Secret
from audit.core.untrusted import file_stem, shown
from audit.emulator import CloneRecord, EmulatorConfig, EmulatorServer, EmulatorState, generate_archive, generate_org
from audit.emulator.org import expected_truth
from audit.migrate.selection import ApplyOptions
from audit.pipeline.apply import apply_plan
from audit.pipeline.plan import plan_migration
from audit.pipeline.scan import scan_organisation, write_scan_reports
from audit.runs.store import list_runs
from tests.support.audio import speech, write_sf
from tests.support.cli import cli_env

pytestmark = pytest.mark.integration

KEY = "sk_live_HOSTILE_0123456789abcdef"
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
LEGACY = {"modelIds": ["lightning-large"], "status": "completed", "language": "en"}


def hostile_ids(tmp_path: Path) -> dict[str, str]:
    """Ids a server could send. The first two aim a fitted copy at the archive and a sibling folder."""
    return {
        "relative": "../../../archive/Other",  # from <out>/<run>/fitted/ to <tmp>/archive/Other
        "absolute": str(tmp_path / "sibling" / "victim"),
        "slash": "voice_a/b", "backslash": "voice_a\\b", "nul": "voice_\x00nul", "long": "v" * 300,
        "esc": "voice_\x1b[2J\x1b[31mred", "cr": "voice_\rcr", "rtl": "voice_\u202eevil", "dots": "..",
    }


def hostile_records(tmp_path: Path) -> list[CloneRecord]:
    records = [
        CloneRecord(voice_id, "legacy", {**LEGACY, "displayName": f"Hostile {name}"})
        for name, voice_id in hostile_ids(tmp_path).items()
    ]
    return records + [
        # Plain ids with hostile names and oddly typed fields: they must get their true verdicts.
        CloneRecord("voice_hostname01", "legacy", {**LEGACY, "displayName": "=cmd|'/c calc'!A1\x1b[2J" + "N" * 10_000}),
        CloneRecord("voice_hostname02", "legacy", {**LEGACY, "displayName": "\u202eevil.exe\r", "language": ["en"],
                                                   "tags": {"a": 1}, "createdAt": 7, "modelIds": "lightning-large"}),
        CloneRecord("voice_hostname03", "v3.1", {"displayName": 42, "modelIds": ["lightning-v3.1"], "status": "completed"}),
        # Entries with no usable id: skipped with a warning, the run goes on.
        CloneRecord("", "legacy", {**LEGACY, "displayName": "Empty id"}),
        CloneRecord("voice_int_holder", "legacy", {**LEGACY, "voiceId": 12345, "displayName": "Number id"}),
    ]


def hostile_archive(archive: Path, sibling: Path) -> None:
    """Recordings that need a fitted copy, named after the hostile voices, and the files an
    escaping write would overwrite."""
    long_speech = speech(40.0)
    for name in hostile_ids(archive.parent):
        write_sf(archive / f"Hostile {name}.wav", long_speech)
    write_sf(archive / "voice_hostname01.flac", speech(8.0), format="FLAC", subtype="PCM_16")
    write_sf(archive / "Other.wav", speech(6.0))
    sibling.mkdir()
    write_sf(sibling / "victim.wav", speech(6.0))


def snapshot(root: Path, out: Path) -> dict[str, str]:
    """sha256 of every file under `root` but those under `out`."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file() and not p.is_relative_to(out)
    }


def settings_for(server: EmulatorServer, archive: Path) -> Settings:
    return Settings(
        api=ApiSettings(base_url=server.base_url, concurrency=4, max_attempts=2, backoff_initial_s=0.01,
                        backoff_max_s=0.02, timeout_s=10, create_timeout_s=10),
        archive=ArchiveSettings(folder=str(archive)),
        apply=ApplySettings(poll_interval_s=0.05, poll_timeout_s=10, settle_s=0.1),
    )


@contextmanager
def account(records: list[CloneRecord], **config: Any) -> Iterator[EmulatorServer]:
    base = {"tts_concurrency": 4, "pending_s": 0.05, "processing_s": 0.05, "retry_after": 0.01, "api_key": KEY}
    with EmulatorServer(EmulatorState(EmulatorConfig(**{**base, **config}), records)) as server:
        yield server


async def scan_and_plan(server: EmulatorServer, settings: Settings, out: Path, transport: Any = None):
    async with WavesClient(settings.api, Secret(server.api_key), transport=transport) as client:
        scan = await scan_organisation(client, settings, out_root=out)
        folder = write_scan_reports(scan, out).folder
        return scan, folder, await plan_migration(client, settings, out, scan_folder=folder)


def outcome(entry: Any) -> tuple[Any, ...]:
    return (entry.action, entry.source.problem if entry.source else None,
            entry.upload.sha256 if entry.upload else None)


async def test_hostile_server_strings_touch_nothing_outside_the_run_folder(tmp_path: Path) -> None:
    org = generate_org(30, seed=6)
    archive, sibling = tmp_path / "archive", tmp_path / "sibling"
    generate_archive(org, archive, seed=6)
    hostile_archive(archive, sibling)
    out = tmp_path / "out"
    with account(list(org.clones)) as server:  # the same org without the hostile clones
        _, _, control = await scan_and_plan(server, settings_for(server, archive), out / "control")
    before = snapshot(tmp_path, out)
    extra = hostile_records(tmp_path)
    with account([*org.clones, *extra]) as server:
        scan, scan_folder, planned = await scan_and_plan(server, settings_for(server, archive), out / "hostile")

    # Nothing outside the output folder was created or changed: not the archive, not its sibling.
    assert snapshot(tmp_path, out) == before
    # Every voice with a usable id got its true verdict; the two without one are kept as
    # unreadable placeholders: unknown, never probed, never dropped.
    everyone = [*org.clones, *extra]
    listed = [r for r in everyone if r.voice_id and r.voice_id != "voice_int_holder"]
    unusable = {f"<unparseable entry {i}>" for i, r in enumerate(everyone) if r not in listed}
    got = {r.clone.voice_id: (r.probe.verdict, r.verdict) for r in scan.results}
    assert got == {**{r.voice_id: expected_truth(r) for r in listed},
                   **{v: (ProbeVerdict.NOT_PROBED, Verdict.UNKNOWN) for v in unusable}}
    assert len(unusable) == 2
    # The generated voices are planned exactly as without the hostile ones.
    entries = {e.voice_id: e for e in planned.plan.entries}
    assert {e.voice_id: outcome(e) for e in control.plan.entries} == {
        v: outcome(entries[v]) for v in (e.voice_id for e in control.plan.entries)}
    # Each hostile id is blocked with a reason of its own that shows the id safely.
    for voice_id in hostile_ids(tmp_path).values():
        entry = entries[voice_id]
        assert (entry.action, entry.source and entry.source.problem) == (Action.BLOCKED, SourceProblem.UNSAFE_ID)
        assert entry.reason.startswith("unsafe-voice-id: ") and shown(voice_id) in entry.reason
    # A plain id with a hostile name is re-cloned from a fitted copy named by a safe derivative.
    fitted = entries["voice_hostname01"]
    assert fitted.action is Action.RECLONE and fitted.upload and fitted.upload.fitted
    assert fitted.upload.path == f"fitted/{file_stem('voice_hostname01')}.wav"  # relative to the plan's folder
    assert (planned.folder / fitted.upload.path).is_file()
    # Folders are named by run ids only; the reports hold no raw control or bidi character.
    folders = [p.name for p in (out / "hostile").iterdir() if p.name != "history.sqlite"]
    assert sorted(folders) == sorted([scan_folder.name, planned.folder.name])
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".json", ".html"):
            text = path.read_text(encoding="utf-8")
            assert not RAW_CONTROL.search(text), path
    run = json.loads((planned.folder / "run.json").read_text(encoding="utf-8"))
    assert {v["voice_id"] for v in run["voices"]} == set(got)  # run.json keeps every id exactly
    report = (planned.folder / "report.html").read_text(encoding="utf-8")
    assert r"voice_\x1b[2J\x1b[31mred" in report and r"voice_\u202eevil" in report
    assert "'=cmd|" in (planned.folder / "clones.csv").read_text(encoding="utf-8")  # formula neutralised


class EchoingServer(httpx.AsyncBaseTransport):
    """The emulator, seen through a server whose error bodies echo the request's
    Authorization header, the key itself and a signed sample URL, as a careless API does."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if response.status_code < 400:
            return response
        body = json.loads(await response.aread() or b"{}")
        auth = request.headers.get("authorization", "")
        echo = (f"request had Authorization: {auth} (key {auth.removeprefix('Bearer ')}); "
                "sample https://samples.emulator.invalid/v/sample_1.wav?signature=SIGNED0123")
        body = {**(body if isinstance(body, dict) else {}), "message": echo}
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith("retry-after")}
        # A stream, as a real server's answer is: the client reads every body as one.
        data = json.dumps(body).encode()
        return httpx.Response(response.status_code, headers={**headers, "content-type": "application/json"},
                              stream=httpx.ByteStream(data))

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_an_error_body_that_echoes_the_key_reaches_no_file(tmp_path: Path) -> None:
    org = generate_org(30, seed=4)
    generate_archive(org, tmp_path / "archive", seed=4)
    out = tmp_path / "out"
    with account(list(org.clones)) as server:
        settings = settings_for(server, tmp_path / "archive")
        _, _, planned = await scan_and_plan(server, settings, out, transport=EchoingServer())
        server.state.config = replace(server.state.config, tts_429_every=1, clone_error_rate=1.0)
        async with WavesClient(settings.api, Secret(KEY), transport=EchoingServer()) as client:
            refused = write_scan_reports(await scan_organisation(client, settings), out).folder  # every probe 429
            applied = await apply_plan(client, settings, planned.plan_path, ApplyOptions(), lambda proposal: True)
    assert applied.states["failed"] > 0  # every create was refused, with the echo in its detail
    run = json.loads((refused / "run.json").read_text(encoding="utf-8"))
    assert all("Authorization: Bearer **** (key ****)" in v["reason"] for v in run["voices"] if v["probe_verdict"] == "error")
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {"ledger.sqlite", "mapping.csv", "mapping.json", "plan.json", "report.html"} <= {p.name for p in written}
    for path in written:
        data = path.read_bytes()
        assert KEY.encode() not in data and b"SIGNED0123" not in data, path
    mapping = (planned.folder / "mapping.csv").read_text(encoding="utf-8")
    assert "Bearer ****" in mapping and "sample_1.wav?[query removed]" in mapping


def clone_audit(*args: str, server: EmulatorServer, sigint_ignored: bool = False) -> subprocess.Popen[str]:
    """The CLI in a child process; `sigint_ignored`: started as a background job is (`cmd &` in a
    script, nohup), with SIGINT ignored from the start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMALLEST_")}
    env.update(SMALLEST_API_KEY=server.api_key, SMALLEST_BASE_URL=server.base_url, COLUMNS="200")
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    return subprocess.Popen([sys.executable, "-m", "audit", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=ignore)


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["foreground", "background-job"])
def test_a_terminated_scan_says_what_it_kept_and_leaves_no_report(tmp_path: Path, sigint_ignored: bool) -> None:
    with EmulatorServer.with_org(n=40, seed=2, latency={"tts": 0.15}) as server:
        scan = clone_audit("scan", "--out", str(tmp_path / "out"), "--concurrency", "1", server=server,
                           sigint_ignored=sigint_ignored)
        deadline = time.monotonic() + 60
        while server.state.tts_calls < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        scan.send_signal(signal.SIGTERM)
        _, err = scan.communicate(timeout=60)
        probed = server.state.tts_calls
    assert scan.returncode == 143, err
    found = re.search(r"interrupted: after (\d+) of (\d+) probes: no report was written", " ".join(err.split()))
    assert found, err
    assert probed - 1 <= int(found[1]) <= probed < int(found[2])  # one call at a time: at most one cut off
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["history.sqlite"]  # the stopped run, recorded
    (stopped,) = list_runs(tmp_path / "out")
    assert (stopped.kind, stopped.exit_code, stopped.folder) == ("scan", 143, "")


def test_an_output_folder_that_cannot_be_written_fails_before_any_call(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    with EmulatorServer.with_org(n=5, seed=1) as server:
        for command in ("scan", "plan"):
            done = clone_audit(command, "--out", str(tmp_path / "a-file" / "reports"), server=server)
            _, err = done.communicate(timeout=60)
            assert done.returncode == 2, err
            assert "cannot create the folder" in err and "--out" in err
        assert server.state.requests() == []


def test_the_emulator_command_stops_on_sigterm_even_as_a_background_job(tmp_path: Path) -> None:
    """What a supervisor (or a benchmark) sends to stop `clone-audit emulator` must stop it."""
    emulator = subprocess.Popen([sys.executable, "-m", "audit", "emulator", "--clones", "3"], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert emulator.stdout is not None
    assert emulator.stdout.readline().startswith("Waves emulator on http://127.0.0.1:")
    emulator.send_signal(signal.SIGTERM)
    emulator.communicate(timeout=30)
    assert emulator.returncode is not None


def test_a_plan_stopped_by_sigterm_either_is_written_or_says_so(tmp_path: Path) -> None:
    """In the foreground SIGTERM cancels the main task, which only takes effect at its next
    await: planning after the list call has none, so the plan is checked, written and renamed
    into place whole, and then the run exits 143 saying "no plan was written". A script (or a
    person) trusting the message plans again; `apply latest` finds the plan it was told does
    not exist."""
    import os
    import signal
    import time

    from audit.emulator import EmulatorServer, generate_archive, generate_org

    org = generate_org(60, 3)
    generate_archive(org, tmp_path / "archive", 3)
    with EmulatorServer.with_org(n=60, seed=3) as server:
        env = {**cli_env(server), "CLONE_AUDIT_STATE_DIR": str(tmp_path / "state")}
        out = tmp_path / "out"
        child = subprocess.Popen([sys.executable, "-m", "audit", "plan", "--archive", str(tmp_path / "archive"),
                                  "--out", str(out)], env=env, cwd=tmp_path, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not server.state.requests() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        time.sleep(0.2)  # the list has answered: the plan is being checked, locally
        os.kill(child.pid, signal.SIGTERM)
        _, err = child.communicate(timeout=120)
    written = sorted(p.parent.name for p in out.glob("*/plan.json"))
    if child.returncode == 143:
        assert "no plan was written" in err
        assert written == [], f"exit 143 and 'no plan was written', yet {written} holds a sealed plan"
    else:
        assert written, err
