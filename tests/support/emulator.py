"""Servers on 127.0.0.1 for tests over real HTTP, each stopped after its test: the emulator's
fixtures (`start_emulator(n, seed, **config)`, `emulator`, `shared_emulator`, `connect(server)`,
registered in tests/conftest.py), `running(n, seed, tmp_path, ...)` (an emulator holding a
generated org and its archive, with settings pointing at both), and `serve_handler` (a
hand-written fake API for answers the emulator cannot give)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.core.config import ApiSettings, ApplySettings, ArchiveSettings, Settings
from audit.emulator import Clock, EmulatorConfig, EmulatorServer, EmulatorState, generate_org
from tests.support.archive import archive_for

StartEmulator = Callable[..., EmulatorServer]


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """Start an emulator holding a generated org: `start_emulator(n=30, seed=0, **config)`."""
    servers: list[EmulatorServer] = []

    def start(n: int = 30, seed: int = 0, **config: Any) -> EmulatorServer:
        server = EmulatorServer.with_org(n=n, seed=seed, **config).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> EmulatorServer:
    """A fresh emulator of 30 generated clones (seed 0), default configuration."""
    return start_emulator()


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[EmulatorServer]:
    """The same org as `emulator`, shared by a module's tests that change nothing on it."""
    with EmulatorServer.with_org(n=30, seed=0) as server:
        yield server


Connect = Callable[..., httpx.Client]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """`connect(server)`: a client sending the server's key and `Accept: audio/wav`, as a caller must."""
    clients: list[httpx.Client] = []

    def make(server: EmulatorServer, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {server.api_key}", "Accept": "audio/wav", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 10)
        client = httpx.Client(base_url=server.base_url, headers=headers, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@contextlib.contextmanager
def serve_handler(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A hand-written fake API on 127.0.0.1 (for answers the emulator cannot give); its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def running(
    n: int, seed: int, tmp_path: Path, clock: Clock | None = None, **config: object
) -> Iterator[tuple[EmulatorServer, Settings]]:
    """The emulator with a generated org and its archive, and settings pointing at both; the
    emulator runs on `clock` (a ticking `ManualClock` lets a test skip its waits), real time by default."""
    org = generate_org(n, seed)
    archive_for(org, tmp_path / "archive", seed)
    base = {"tts_concurrency": 4, "pending_s": 0.05, "processing_s": 0.05, "seed": seed, "retry_after": 0.01}
    with EmulatorServer(EmulatorState(EmulatorConfig(**{**base, **config}), org.clones, clock)) as server:
        yield server, _settings(server, tmp_path)


def _settings(server: EmulatorServer, tmp_path: Path) -> Settings:
    return Settings(
        api=ApiSettings(base_url=server.base_url, concurrency=4, max_attempts=6, backoff_initial_s=0.01,
                        backoff_max_s=0.05, timeout_s=10, create_timeout_s=10),
        archive=ArchiveSettings(folder=str(tmp_path / "archive")),
        apply=ApplySettings(poll_interval_s=0.05, poll_timeout_s=20, settle_s=0.3),
    )
