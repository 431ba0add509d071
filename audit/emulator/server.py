"""Serving the emulator over real HTTP with uvicorn.

This module owns `EmulatorServer` (a context manager running uvicorn in a background thread
on 127.0.0.1 and a free port, for tests and the demo) and `serve_forever` (the same server,
blocking until Ctrl-C, behind the `emulator` command). uvicorn runs with its access log off,
log level warning, the pure-Python h11 protocol and no lifespan; the tracebacks of
deliberately dropped connections are filtered out of its error log.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Any

import uvicorn

from audit.emulator.app import ConnectionDropped, create_app
from audit.emulator.clock import Clock
from audit.emulator.knobs import EmulatorConfig
from audit.emulator.org import Org, generate_org
from audit.emulator.state import EmulatorState

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class _DroppedConnectionFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


logging.getLogger("uvicorn.error").addFilter(_DroppedConnectionFilter())


def _uvicorn_server(state: EmulatorState) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        access_log=False,
        http="h11",
        loop="asyncio",
        lifespan="off",
    )
    return uvicorn.Server(config)


def _bound_socket(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket's proto says TCP; without it every keep-alive answer waits ~40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class EmulatorServer:
    """The emulator on 127.0.0.1:<free port> in a background thread, as a context manager.

    >>> with EmulatorServer.with_org(n=50, seed=1) as server:
    ...     httpx.get(server.base_url + "/waves/v1/health")

    The server runs on its state's clock (`server.clock`); pass `clock=ManualClock()` to
    `with_org` (or to `EmulatorState`) to move the emulator's time from a test.
    """

    def __init__(self, state: EmulatorState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state if state is not None else EmulatorState()
        self._address = (host, port)
        self._server = _uvicorn_server(self.state)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def with_org(cls, n: int, seed: int = 0, clock: Clock | None = None, **config_overrides: Any) -> EmulatorServer:
        """A server whose account holds the generated org of `n` clones, on `clock` (default: real time)."""
        config = replace(EmulatorConfig(seed=seed), **config_overrides)
        return cls(EmulatorState(config, generate_org(n, seed).clones, clock))

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @property
    def api_key(self) -> str:
        return self.state.config.api_key

    @property
    def base_url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        self._socket = _bound_socket(*self._address)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="waves-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.005)
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.2)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(
    config: EmulatorConfig,
    org: Org,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str, str], None] | None = None,
) -> None:
    """Serve `org` until Ctrl-C; `on_ready(base_url, api_key)` is called once it listens."""
    with EmulatorServer(EmulatorState(config, org.clones), host=host, port=port) as server:
        if on_ready is not None:
            on_ready(server.base_url, server.api_key)
        with contextlib.suppress(KeyboardInterrupt):
            server.wait()
