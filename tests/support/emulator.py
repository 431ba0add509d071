"""Fixtures for tests over real HTTP: emulator servers on 127.0.0.1 that stop after the test."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from audit.emulator import EmulatorServer

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
