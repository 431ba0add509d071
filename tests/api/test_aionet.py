"""The client's own sockets (audit.api.aionet) over real TCP and TLS on 127.0.0.1: what httpx's
default backend did, it does — a trusted certificate connects, an untrusted one is refused, an
idle connection the server closed is replaced, large bodies go both ways intact, silence is a
read timeout, nothing listening is a connect error — and a WavesClient speaks through it."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trustme

from audit.api import aionet
from audit.api.client import WavesClient
from audit.core.config import ApiSettings
from audit.core.errors import TransportError
from audit.core.secrets import Secret

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _request(reader: asyncio.StreamReader) -> bytes | None:
    """One HTTP/1.1 request's body (by Content-Length), or None when the client closed."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return await reader.readexactly(length)


def _answer(body: bytes, *, close: bool = False) -> bytes:
    connection = b"close" if close else b"keep-alive"
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: " + connection + b"\r\n\r\n" + body)


@asynccontextmanager
async def serving(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def _echo_length(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers each request with the number of body bytes it received, keeping the connection."""
    while (body := await _request(reader)) is not None:
        writer.write(_answer(str(len(body)).encode()))
        await writer.drain()
    writer.close()


@pytest.fixture(autouse=True)
def no_proxy_from_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the backend, which a proxy in the environment would bypass."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def _client(base_url: str, timeout: float = 10.0) -> httpx.AsyncClient:
    return aionet.Client(base_url=base_url, timeout=timeout,
                         transport=aionet.transport(httpx.Limits(max_connections=4), base_url))


@pytest.fixture
def certificates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A throwaway CA the client trusts (through SSL_CERT_FILE, as a user behind a corporate CA
    would set it) and the server context of a certificate it issued for 127.0.0.1."""
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server)
    return server


async def test_a_trusted_certificate_connects_and_carries_requests(certificates: ssl.SSLContext) -> None:
    async with serving(_echo_length, certificates) as port, _client(f"https://127.0.0.1:{port}") as http:
        answers = [await http.post("/upload", content=b"x" * n) for n in (0, 10, 70_000)]
    assert [a.text for a in answers] == ["0", "10", "70000"]
    assert all(a.extensions["http_version"] == b"HTTP/1.1" for a in answers)


async def test_an_untrusted_certificate_is_refused(certificates: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")  # the system's CAs never issued this one
    async with serving(_echo_length, certificates) as port, _client(f"https://127.0.0.1:{port}") as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get("/")


async def test_an_idle_connection_the_server_closed_is_replaced_not_failed() -> None:
    connections = []

    async def answer_once_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        if await _request(reader) is not None:
            writer.write(_answer(b"first"))  # says keep-alive, then hangs up while the client idles
            await writer.drain()
        writer.close()

    async with serving(answer_once_then_close) as port, _client(f"http://127.0.0.1:{port}") as http:
        first = await http.get("/")
        await asyncio.sleep(0.2)  # the server's FIN arrives while the connection sits in the pool
        second = await http.get("/")
    assert (first.text, second.text) == ("first", "first")
    assert len(connections) == 2


async def test_large_bodies_cross_intact_both_ways() -> None:
    """Over the backend's read high-water mark (reading pauses and resumes) and over the socket's
    send buffer (writing waits for the transport)."""
    sent = bytes(range(256)) * (8 * 4096)  # 8 MiB up
    back = bytes(reversed(range(256))) * (5 * 4096)  # 5 MiB down

    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = await _request(reader)
        assert body == sent
        writer.write(_answer(back, close=True))
        await writer.drain()
        writer.close()

    async with serving(big) as port, _client(f"http://127.0.0.1:{port}") as http:
        answer = await http.post("/", content=sent)
    assert answer.content == back


async def test_silence_is_a_read_timeout_on_time() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        await asyncio.sleep(10)

    async with serving(mute) as port, _client(f"http://127.0.0.1:{port}", timeout=0.3) as http:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/")
    assert 0.25 < time.monotonic() - started < 3


async def test_nothing_listening_is_a_connect_error() -> None:
    async with serving(_echo_length) as port:
        pass  # closed: the port is free again
    async with _client(f"http://127.0.0.1:{port}") as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/")


async def test_the_waves_client_speaks_https_through_it(certificates: ssl.SSLContext) -> None:
    """The client a user runs, pointed at an https API: it lists through this backend, and an
    API that stops answering mid-body is a timeout, not a hang."""
    async def api(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await _request(reader) is not None:
            body = b'{"data": [{"voiceId": "voice_a", "displayName": "A", "modelIds": ["lightning-v3.1"]}]}'
            writer.write(_answer(body).replace(b"application/octet-stream", b"application/json"))
            await writer.drain()
        writer.close()

    async with serving(api, certificates) as port:
        client = WavesClient(ApiSettings(base_url=f"https://127.0.0.1:{port}", concurrency=2, max_attempts=1),
                             Secret("sk_test_0123456789abcdef"))
        try:
            clones = await client.list_clones()
        finally:
            await client.aclose()
    assert [c.voice_id for c in clones] == ["voice_a"]


async def test_a_refused_tls_handshake_is_a_clear_transport_error(certificates: ssl.SSLContext,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    async with serving(_echo_length, certificates) as port:
        client = WavesClient(ApiSettings(base_url=f"https://127.0.0.1:{port}", concurrency=2, max_attempts=1),
                             Secret("sk_test_0123456789abcdef"))
        try:
            with pytest.raises(TransportError, match="certificate"):
                await client.list_clones()
        finally:
            await client.aclose()


async def test_a_proxy_named_in_the_environment_carries_the_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx routes through HTTP_PROXY only with transports it makes itself: with a proxy named,
    the client leaves them to httpx, and the API (a name that resolves nowhere) is reached."""
    asked = []

    async def forward_proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        asked.append(head.split(b"\r\n")[0].decode())
        body = b'{"data": [{"voiceId": "voice_p", "displayName": "P", "modelIds": ["lightning-v3.1"]}]}'
        writer.write(_answer(body, close=True).replace(b"application/octet-stream", b"application/json"))
        await writer.drain()
        writer.close()

    async with serving(forward_proxy) as port:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        client = WavesClient(ApiSettings(base_url="http://api.invalid", allow_insecure_http=True, concurrency=2,
                                         max_attempts=1), Secret("sk_test_0123456789abcdef"))
        try:
            clones = await client.list_clones()
        finally:
            await client.aclose()
    assert [c.voice_id for c in clones] == ["voice_p"]
    assert asked and asked[0].startswith("GET http://api.invalid/waves/v1/voice-cloning")


async def test_an_upload_a_server_stopped_reading_is_dropped_on_close_not_held() -> None:
    """A server answers early (413, then hangs up its side) and never reads the rest of a large
    upload: once the client is closed no socket of it is left open holding the unsent bytes."""
    import gc

    class EarlyAnswer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport, self.head = transport, b""

        def data_received(self, data: bytes) -> None:
            self.head += data
            if b"\r\n\r\n" in self.head:
                self.transport.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n"
                                     b"Connection: close\r\n\r\n")
                self.transport.write_eof()
                self.transport.pause_reading()  # and never reads again
                self.head = b""

    loop = asyncio.get_running_loop()
    server = await loop.create_server(EarlyAnswer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with _client(f"http://127.0.0.1:{port}", timeout=5) as http:
            answer = await http.post("/upload", content=b"x" * (32 << 20))
        await asyncio.sleep(0.2)
        gc.collect()
        held = [c for c in gc.get_objects() if isinstance(c, aionet._Connection)
                and c.transport is not None and c.transport.get_write_buffer_size()]
        assert answer.status_code == 413
        assert held == [], f"{len(held)} socket(s) still open holding {held[0].transport.get_write_buffer_size():,} bytes"
    finally:
        server.close()


async def test_the_client_keeps_no_cookie_it_is_sent_or_given() -> None:
    async def sets_a_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads = []
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            heads.append(head)
            body = b"cookie" if b"cookie:" in head.lower() else b"none"
            writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Path=/\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
        writer.close()

    async with serving(sets_a_cookie) as port, _client(f"http://127.0.0.1:{port}") as http:
        first = await http.get("/")
        http.cookies.set("planted", "1")
        second = await http.get("/")
        other = _client(f"http://127.0.0.1:{port}")
        async with other:
            third = await other.get("/")
    assert [first.text, second.text, third.text] == ["none", "none", "none"]
    assert list(http.cookies.jar) == []


async def test_a_proxy_for_the_other_scheme_leaves_the_direct_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is for http:// URLs only (as httpx reads it): an https API is reached directly,
    on this backend; HTTPS_PROXY or ALL_PROXY hand an https API to httpx's own transports."""
    limits = httpx.Limits(max_connections=2)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert aionet.transport(limits, "https://api.smallest.ai") is not None
    assert aionet.transport(limits, "http://127.0.0.1:8000") is None
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    assert aionet.transport(limits, "https://api.smallest.ai") is None
