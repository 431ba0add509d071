"""The client's sockets on asyncio's own transports: an httpcore network backend without AnyIO.

Owns `AsyncioBackend` and `transport()`, the httpx transport `Transport` uses when no other is
given, and `Client`, httpx's client keeping no cookies. httpx's default backend (httpcore over
AnyIO) pays, on every socket read and write, a cancel scope with its own timer, an
exception-mapping context manager and a checkpoint, and, for every pooled connection on every
request, a poll() to learn whether the server closed it: about a tenth of the client's CPU per
probe (bench/probe_cpu.py). This backend keeps httpcore's contract (the same exceptions for
the same failures: ConnectError, ConnectTimeout, ReadError, ReadTimeout, WriteError,
WriteTimeout) on one `asyncio.Protocol` per connection:

- the protocol keeps what arrives, in the chunks it came in, up to HIGH_WATER bytes (reading
  pauses there and resumes below LOW_WATER): a read hands over what is there at once and waits
  on one future, with one `call_later` timer, only when nothing is;
- a write hands the bytes to the transport and waits only while the transport asks it to
  (its buffer over asyncio's own high-water mark);
- an idle pooled connection the server closed is known from the protocol's state (its EOF or
  loss arrived), so "is it readable?" costs no system call;
- TLS is `loop.start_tls` on the same protocol, the handshake bounded by the connect timeout;
  a Unix socket is `loop.create_unix_connection`.

It carries bytes only: HTTP stays httpcore's, the body cap and the deadlines `Transport`'s.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import ssl
import urllib.request
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

#: A connection keeps at most about this much unread before it stops reading from its socket ...
HIGH_WATER = 1 << 20
#: ... and starts again once it holds less than this.
LOW_WATER = 1 << 18
#: asyncio's happy-eyeballs delay (RFC 8305's recommended 250 ms, as AnyIO connects).
HAPPY_EYEBALLS_S = 0.25


def transport(limits: httpx.Limits, base_url: str) -> httpx.AsyncHTTPTransport | None:
    """httpx's own transport (certificates verified as httpx does, SSL_CERT_FILE and
    SSL_CERT_DIR honoured), its connection pool on `AsyncioBackend`; None when the environment
    names a proxy for `base_url`'s scheme (HTTPS_PROXY for https://, HTTP_PROXY for http://, or
    ALL_PROXY, as httpx reads them): httpx routes through proxies only with the transports it
    makes itself, so then it makes them (and applies NO_PROXY)."""
    proxies = urllib.request.getproxies()
    if proxies.get(urlsplit(base_url).scheme) or proxies.get("all"):
        return None
    context = httpx.create_ssl_context()  # loaded once (the CA bundle takes ~15 ms), used by both
    made = httpx.AsyncHTTPTransport(verify=context, limits=limits)
    # httpx builds its pool without a way to name the backend; the same pool, on this one.
    made._pool = httpcore.AsyncConnectionPool(
        ssl_context=context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=AsyncioBackend(),
    )
    return made


class _KeepsNone(http.cookiejar.CookieJar):
    """A cookie jar into which nothing goes."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class NoCookies(httpx.Cookies):
    """Cookies that are never kept: the API authenticates by key. httpx reads every answer for
    cookies through urllib's cookie machinery (a urllib request and an email message built from
    the headers each time: about a tenth of the client's CPU per probe); with these it does not,
    and nothing set on them is kept either."""

    def __init__(self) -> None:
        super().__init__(_KeepsNone())

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class Client(httpx.AsyncClient):
    """httpx's client, keeping no cookies: each client its own `NoCookies`, whatever it is given
    or told (a cookie passed with one request is still sent with that request, as httpx does)."""

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        jar = self.__dict__.get("_no_cookies")
        if jar is None:
            jar = self.__dict__["_no_cookies"] = NoCookies()
        return jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        return None


class _Connection(asyncio.Protocol):
    """What one socket has delivered and whether it is still open."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.closed = False  # EOF or loss: nothing more will arrive
        self.error: BaseException | None = None  # why it was lost, if not a clean close
        self.reading_paused = False
        self.writing_paused = False
        self.waiter: asyncio.Future[bool] | None = None  # a read (or a write) waiting for us

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self.writing_paused = False
        self._wake()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake()

    def take(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` of what has arrived, in order (there is some)."""
        data = self.chunks.popleft()
        if len(data) > max_bytes:
            self.chunks.appendleft(data[max_bytes:])
            data = data[:max_bytes]
        self.buffered -= len(data)
        if self.reading_paused and self.buffered < LOW_WATER and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return data

    async def wait(self, deadline: float | None) -> bool:
        """Until something happens (data, EOF, loss, room to write); False once the loop's clock
        passed `deadline` (None: no deadline). A caller waiting for one thing loops until it happens."""
        loop = asyncio.get_running_loop()
        if deadline is not None and loop.time() >= deadline:
            return False
        waiter = self.waiter = loop.create_future()
        timer = None if deadline is None else loop.call_at(deadline, _expire, waiter)
        try:
            return await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else asyncio.get_running_loop().time() + timeout


async def _shut(transport: asyncio.Transport) -> None:
    """Close our end (a FIN, or a TLS close_notify), give the loop one turn to send it, then drop
    the socket and whatever is still unsent (a request body a server stopped reading, a TLS peer
    that never answers the close) instead of waiting for it; a transport already closing (the
    server hung up first, and asyncio began closing it) is dropped at once, for the same reason."""
    if transport.is_closing():
        transport.abort()
        return
    transport.close()
    try:
        await asyncio.sleep(0)
    finally:
        transport.abort()


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection, as httpcore reads and writes it."""

    def __init__(self, transport: asyncio.Transport, connection: _Connection) -> None:
        self._transport = transport
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self._connection
        deadline = _deadline(timeout)
        while not connection.chunks and not connection.closed:  # another wake (room to write) is not data
            if not await connection.wait(deadline):
                raise httpcore.ReadTimeout(f"no data within {timeout} s")
        if connection.chunks:
            return connection.take(max_bytes)
        if connection.error is not None:
            raise httpcore.ReadError(str(connection.error) or type(connection.error).__name__)
        return b""  # the server closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        connection = self._connection
        if connection.closed or self._transport.is_closing():
            raise httpcore.WriteError(str(connection.error or "the connection is closed"))
        self._transport.write(buffer)
        deadline = _deadline(timeout)  # one deadline for the whole write, whatever arrives meanwhile
        while connection.writing_paused and not connection.closed:
            if not await connection.wait(deadline):
                raise httpcore.WriteTimeout(f"could not write within {timeout} s")
        if connection.error is not None:
            raise httpcore.WriteError(str(connection.error) or type(connection.error).__name__)

    async def aclose(self) -> None:
        await _shut(self._transport)

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                secured = await loop.start_tls(self._transport, self._connection, ssl_context,
                                               server_hostname=server_hostname)
        except TimeoutError:
            self._transport.abort()
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout} s") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if secured is None:  # the connection was lost during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(secured, asyncio.Transport)
        self._connection.transport = secured
        return AsyncioStream(secured, self._connection)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # for an idle pooled connection: the server closed it (or sent junk)
            return bool(self._connection.chunks) or self._connection.closed
        name = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername",
                "socket": "socket"}.get(info)
        return None if name is None else self._transport.get_extra_info(name)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections on the running asyncio loop (see the module docstring)."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        return await _connect(lambda: loop.create_connection(
            _Connection, host, port, local_addr=local, happy_eyeballs_delay=HAPPY_EYEBALLS_S), timeout, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        return await _connect(lambda: loop.create_unix_connection(_Connection, path), timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connect(open_: Any, timeout: float | None,
                   socket_options: Iterable[httpcore.SOCKET_OPTION] | None) -> AsyncioStream:
    """A connection opened by `open_()` within `timeout`; httpcore's errors for what goes wrong."""
    try:
        async with asyncio.timeout(timeout):
            transport, connection = await open_()
    except TimeoutError:  # before OSError: a TimeoutError is one
        raise httpcore.ConnectTimeout(f"no connection within {timeout} s") from None
    except OSError as exc:
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    sock = transport.get_extra_info("socket")
    for option in socket_options or ():
        sock.setsockopt(*option)
    return AsyncioStream(transport, connection)
