"""Decoding an answer's body within its cap, fed plain bytes (no HTTP, no server)."""

from __future__ import annotations

import gzip
import zlib

import pytest

from audit.api.body import INFLATE_STEP, MAX_ERROR_BYTES, Body, Inflater, Unusable

TEXT = b'{"data": [' + b", ".join(b'{"voiceId": "voice_%010d"}' % i for i in range(2000)) + b"]}"


def _read(chunks: list[bytes], *, cap: int = 1 << 20, encoding: str | None = None, success: bool = True,
          length: str | None = None) -> bytes:
    body = Body(cap)
    body.begin(success=success, content_encoding=encoding, content_length=length)
    for chunk in chunks:
        if body.feed(chunk):
            return body.content
    return body.end()


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(("encoding", "packed"), [
    (None, TEXT), ("identity", TEXT), ("gzip", gzip.compress(TEXT)), ("x-gzip", gzip.compress(TEXT)),
    (" GZIP ", gzip.compress(TEXT)), ("deflate", zlib.compress(TEXT)), ("deflate", _raw_deflate(TEXT)),
])
def test_every_encoding_asked_for_decodes_to_the_same_bytes(encoding: str | None, packed: bytes) -> None:
    assert _read([packed], encoding=encoding) == TEXT


@pytest.mark.parametrize("encoding", ["gzip", "deflate", None])
def test_a_body_trickling_in_byte_by_byte_decodes_the_same(encoding: str | None) -> None:
    packed = {"gzip": gzip.compress(TEXT), "deflate": zlib.compress(TEXT), None: TEXT}[encoding]
    assert _read([packed[i:i + 1] for i in range(len(packed))], encoding=encoding) == TEXT


def test_a_gzip_bomb_stops_one_step_past_the_cap_not_after_inflating_it_all() -> None:
    bomb = gzip.compress(bytes(16 * 1024 * 1024), compresslevel=9)  # 16 MiB of zeros in ~16 KiB
    body = Body(256 * 1024)
    body.begin(success=True, content_encoding="gzip", content_length=str(len(bomb)))
    with pytest.raises(Unusable, match="over the 262,144-byte cap .* after gzip decoding") as caught:
        for start in range(0, len(bomb), 16 * 1024):
            body.feed(bomb[start:start + 16 * 1024])
    assert caught.value.too_large
    assert 256 * 1024 < body.received <= 256 * 1024 + INFLATE_STEP


def test_decompression_never_hands_over_more_than_one_step() -> None:
    pieces = list(Inflater("gzip").feed(gzip.compress(bytes(10 * INFLATE_STEP + 7))))
    assert max(map(len, pieces)) <= INFLATE_STEP and sum(map(len, pieces)) == 10 * INFLATE_STEP + 7


def test_a_declared_length_over_the_cap_is_refused_before_any_byte_is_read() -> None:
    with pytest.raises(Unusable, match=r"Content-Length 2,048") as caught:
        Body(1024).begin(success=True, content_encoding=None, content_length="2048")
    assert caught.value.too_large


def test_an_identity_body_over_the_cap_is_refused_at_the_cap() -> None:
    with pytest.raises(Unusable, match=r"stopped reading at 1,500 bytes\)$"):
        _read([b"x" * 1000, b"x" * 500, b"x" * 10_000], cap=1024)


def test_a_cut_off_gzip_stream_is_unusable() -> None:
    packed = gzip.compress(TEXT)
    with pytest.raises(Unusable, match="ends before its end marker"):
        _read([packed[: len(packed) // 2]], encoding="gzip")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_corrupt_stream_is_unusable(encoding: str) -> None:
    with pytest.raises(Unusable, match=f"its {encoding} compression is corrupt"):
        _read([b"this is not compressed at all, whatever the header says"], encoding=encoding)


def test_an_encoding_that_was_not_asked_for_is_unusable() -> None:
    with pytest.raises(Unusable, match="encoded as 'br', which was not asked for"):
        _read([TEXT], encoding="br")


def test_an_error_answer_is_cut_at_its_own_cap_and_never_refused() -> None:
    body = Body(10 * 1024 * 1024)
    body.begin(success=False, content_encoding="gzip", content_length="999999999")
    bomb = gzip.compress(bytes(4 * 1024 * 1024))
    stopped = body.feed(bomb)
    assert stopped and body.content == bytes(MAX_ERROR_BYTES)


def test_an_empty_body_is_empty() -> None:
    assert _read([], encoding="identity") == b"" and _read([b""], encoding=None) == b""
