"""Reading one HTTP answer's body within a byte cap, and the `Answer` it yields.

Owns `Body`: the raw bytes of a response are fed in as they arrive, decoded (identity,
gzip, deflate, raw deflate) by `Inflater` in steps of at most `INFLATE_STEP` bytes, and
counted against the call's cap as decoded bytes, so a gzip bomb stops after the cap, not
after inflating gigabytes. A successful answer over its cap, a corrupt or cut-off
compressed stream, or an encoding that was not asked for raises `Unusable`; an error answer
(not 2xx) is read only up to `MAX_ERROR_BYTES` and cut there, since only its message matters.
`Body` knows nothing of HTTP beyond the two headers it is handed: tests feed it bytes.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass

import httpx

#: Of an error answer only this much is read: enough for its message.
MAX_ERROR_BYTES = 64 * 1024
#: The most decompression hands over at once, so nothing inflates far past a cap.
INFLATE_STEP = 64 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, its body read in full: decoded, and within the call's byte cap."""

    method: str
    path: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def where(self) -> str:
        return f"{self.method} {self.path} answered {self.status}"

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


class Unusable(Exception):
    """A body that cannot be used: over the cap, corrupt or undecodable compression."""

    def __init__(self, why: str, *, too_large: bool = False) -> None:
        super().__init__(why)
        self.too_large = too_large


class Body:
    """Reads one response body: decoded, counted, and stopped at the cap.

    `begin` with what the answer's head says, `feed` each raw chunk (True: the cap of an
    error answer is reached, stop reading), then `end` for the decoded bytes.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.received = 0  # decoded bytes so far
        self.encoding = "identity"
        self._parts: list[bytes] = []
        self._cap = max_bytes
        self._cut = False
        self._inflater = Inflater(None)

    def begin(self, *, success: bool, content_encoding: str | None, content_length: str | None) -> None:
        """Set up from the answer's head; raises Unusable for a declared length over the cap."""
        self._cap = self.max_bytes if success else MAX_ERROR_BYTES
        self._cut = not success
        declared = content_length or ""
        if (success and content_encoding in (None, "identity") and declared.isdigit()
                and int(declared) > self._cap):
            raise Unusable(f"the answer is over the {self._cap:,}-byte cap (Content-Length {int(declared):,})",
                           too_large=True)
        self._inflater = Inflater(content_encoding)
        self.encoding = self._inflater.coding

    def feed(self, raw: bytes) -> bool:
        """Decode and keep one raw chunk; True when the cap is reached and reading must stop."""
        return any(self._add(piece) for piece in self._inflater.feed(raw))

    def end(self) -> bytes:
        """The whole body, once the last chunk was fed: a compressed stream must be complete."""
        self._inflater.finish()
        return self.content

    @property
    def content(self) -> bytes:
        """What was kept so far (all of an error answer cut at its cap)."""
        return b"".join(self._parts)

    async def read(self, response: httpx.Response) -> bytes:
        """Read a streamed httpx response through this body."""
        self.begin(success=response.is_success, content_encoding=response.headers.get("content-encoding"),
                   content_length=response.headers.get("content-length"))
        return await self.read_chunks(response.aiter_raw())

    async def read_chunks(self, chunks: AsyncIterable[bytes]) -> bytes:
        async for raw in chunks:
            if self.feed(raw):
                return self.content
        return self.end()

    def _add(self, piece: bytes) -> bool:
        """Keep `piece`; True when the cap is reached and reading must stop."""
        room = self._cap - self.received
        self.received += len(piece)
        if len(piece) <= room:
            self._parts.append(piece)
            return False
        if self._cut:
            self._parts.append(piece[:room])
            return True
        decoded = "" if self.encoding == "identity" else f" after {self.encoding} decoding"
        raise Unusable(f"the answer is over the {self._cap:,}-byte cap (stopped reading at {self.received:,} bytes"
                       f"{decoded})", too_large=True)


class Inflater:
    """Content-Encoding decoding (identity, gzip, deflate) that never hands over more than
    INFLATE_STEP bytes at a time, so the caller can stop a gzip bomb at its cap."""

    def __init__(self, encoding: str | None) -> None:
        self.coding = (encoding or "identity").strip().lower()
        self._deflate = self.coding == "deflate"
        self._fresh = True
        if self.coding in ("identity", ""):
            self._z = None
        elif self.coding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self._deflate:
            self._z = zlib.decompressobj()
        else:
            raise Unusable(f"the answer is encoded as {self.coding[:40]!r}, which was not asked for")

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._z is None:
            if data:
                yield data
            return
        while not self._z.eof:
            try:
                out = self._z.decompress(data, INFLATE_STEP)
            except zlib.error as exc:
                if self._deflate and self._fresh:  # some servers send raw deflate, without zlib's header
                    self._z, self._fresh = zlib.decompressobj(-zlib.MAX_WBITS), False
                    continue
                raise Unusable(f"its {self.coding} compression is corrupt ({exc})") from None
            self._fresh = False
            data = self._z.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < INFLATE_STEP:
                return

    def finish(self) -> None:
        """At the end of the body: a compressed stream must have reached its end marker."""
        if self._z is not None and not self._z.eof:
            raise Unusable(f"its {self.coding} stream ends before its end marker (cut off)")
