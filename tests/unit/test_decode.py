"""Body decoding (docs/api.md): media checks, base64, bounded gzip, bombs refused not expanded."""

from __future__ import annotations

import base64
import gzip
import tracemalloc
import zlib

import pytest

from lambdas.core.decode import check_media, decode_body, gunzip_bounded
from lambdas.core.errors import MalformedBatch, TooLarge, UnsupportedMedia

LIMIT = 5 * 1024 * 1024
BOMB_BYTES = 200 * 1024 * 1024
PAYLOAD = b'{"schema": "interaction/1", "events": []}'


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """200 MiB of zeros, gzip-compressed in 1 MiB steps (~1 MiB at level 1, the fastest)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(BOMB_BYTES // len(chunk))]
    parts.append(compressor.flush())
    return b"".join(parts)


def decode(body: str | bytes | None, *, b64: bool = False, encoding: str = "") -> bytes:
    return decode_body(body, base64_encoded=b64, encoding=encoding, max_bytes=LIMIT)


# --- check_media -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "content_encoding", "expected"),
    [
        ("application/json", None, ""),
        ("application/json", "", ""),
        ("application/json; charset=utf-8", None, ""),
        ('application/json;charset="UTF-8"', None, ""),
        ("Application/JSON; charset=utf8", None, ""),
        ("application/json", "gzip", "gzip"),
        ("application/json; charset=utf-8", "GZIP", "gzip"),
        ("application/json", " identity ", "identity"),
    ],
)
def test_check_media_accepts(
    content_type: str, content_encoding: str | None, expected: str
) -> None:
    assert check_media(content_type, content_encoding) == expected


@pytest.mark.parametrize(
    ("content_type", "content_encoding"),
    [
        pytest.param(None, None, id="missing-type"),
        pytest.param("", None, id="empty-type"),
        pytest.param("text/plain", None, id="text-plain"),
        pytest.param("application/x-www-form-urlencoded", None, id="form"),
        pytest.param("application/jsonx", None, id="json-prefix"),
        pytest.param("application/json, text/plain", None, id="list-of-types"),
        pytest.param("application/json; charset=latin-1", None, id="latin-1"),
        pytest.param("application/json; charset=utf-16", None, id="utf-16"),
        pytest.param("application/json", "br", id="brotli"),
        pytest.param("application/json", "deflate", id="deflate"),
        pytest.param("application/json", "gzip, br", id="stacked-encodings"),
        pytest.param("application/json", "x-gzip", id="x-gzip"),
    ],
)
def test_check_media_refuses_with_415(
    content_type: str | None, content_encoding: str | None
) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        check_media(content_type, content_encoding)
    assert caught.value.status == 415


# --- decode_body -------------------------------------------------------------------------------


def test_plain_body_passes_through() -> None:
    assert decode(PAYLOAD) == PAYLOAD
    assert decode(PAYLOAD.decode()) == PAYLOAD
    assert decode(PAYLOAD, encoding="identity") == PAYLOAD


def test_base64_and_gzip_bodies_decode() -> None:
    packed = gzip.compress(PAYLOAD)
    assert decode(base64.b64encode(PAYLOAD).decode(), b64=True) == PAYLOAD
    assert decode(packed, encoding="gzip") == PAYLOAD
    assert decode(base64.b64encode(packed).decode(), b64=True, encoding="gzip") == PAYLOAD


@pytest.mark.parametrize("body", [None, b"", ""])
@pytest.mark.parametrize("b64", [False, True])
def test_empty_body_is_400(body: str | bytes | None, b64: bool) -> None:
    with pytest.raises(MalformedBatch) as caught:
        decode(body, b64=b64)
    assert caught.value.status == 400


def test_too_large_raw_body_is_413() -> None:
    with pytest.raises(TooLarge) as caught:
        decode(b" " * (LIMIT + 1))
    assert caught.value.status == 413
    assert decode(b" " * LIMIT) == b" " * LIMIT


def test_too_large_base64_body_is_413() -> None:
    body = base64.b64encode(b" " * (LIMIT + 1)).decode()
    with pytest.raises(TooLarge):
        decode(body, b64=True)


def test_too_large_compressed_body_is_413() -> None:
    incompressible = base64.b64encode(bytes(range(256)) * (LIMIT // 128))
    with pytest.raises(TooLarge):
        decode(gzip.compress(incompressible, compresslevel=1), encoding="gzip")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not base64!", id="bad-chars"),
        pytest.param("YWJjZA=", id="bad-padding"),
        pytest.param("YWJj\nZA==", id="newline"),
        pytest.param("Y", id="one-char"),
    ],
)
def test_invalid_base64_is_400(body: str) -> None:
    with pytest.raises(MalformedBatch):
        decode(body, b64=True)


def test_exact_limit_after_gunzip() -> None:
    assert len(gunzip_bounded(gzip.compress(b"a" * 100), 100)) == 100
    with pytest.raises(TooLarge):
        gunzip_bounded(gzip.compress(b"a" * 101), 100)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(PAYLOAD, id="not-gzip"),
        pytest.param(b"\x1f\x8b\x08\x00garbage-garbage-garbage", id="corrupt-deflate"),
        pytest.param(gzip.compress(PAYLOAD)[:-4] + b"\x00\x00\x00\x00", id="bad-size-trailer"),
        pytest.param(
            gzip.compress(PAYLOAD)[:-8] + b"\xde\xad\xbe\xef" + b"\x29\x00\x00\x00", id="crc"
        ),
    ],
)
def test_corrupt_gzip_is_400(body: bytes) -> None:
    with pytest.raises(MalformedBatch) as caught:
        decode(body, encoding="gzip")
    assert caught.value.status == 400


@pytest.mark.parametrize("cut", [2, 10, 20, -1, -4, -8])
def test_truncated_gzip_is_400(cut: int) -> None:
    packed = gzip.compress(PAYLOAD)
    with pytest.raises(MalformedBatch):
        decode(packed[:cut], encoding="gzip")


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(b"x", id="junk"),
        pytest.param(gzip.compress(b"{}"), id="second-member"),
    ],
)
def test_trailing_data_after_gzip_is_400(extra: bytes) -> None:
    with pytest.raises(MalformedBatch):
        decode(gzip.compress(PAYLOAD) + extra, encoding="gzip")


def test_body_that_is_not_utf8_text_is_400_not_a_crash() -> None:
    """A str body with a lone surrogate (no UTF-8 form) is a bad request, not a server fault."""
    with pytest.raises(MalformedBatch):
        decode('{"schema": "\ud800"}')


def test_gzip_bomb_is_refused_without_expanding(gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < LIMIT  # the compressed body itself passes the size check
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            decode(gzip_bomb, encoding="gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * LIMIT, f"peak {peak} bytes while refusing a {BOMB_BYTES}-byte bomb"


def test_base64_gzip_bomb_is_refused(gzip_bomb: bytes) -> None:
    with pytest.raises(TooLarge):
        decode(base64.b64encode(gzip_bomb).decode(), b64=True, encoding="gzip")
