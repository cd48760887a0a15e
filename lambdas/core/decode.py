"""Turn an HTTP body into JSON bytes, enforcing limits while decoding (docs/api.md).

Size is checked before work is done: the encoded length first, then gzip is inflated in bounded
steps so a gzip bomb stops at the limit instead of expanding into memory.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from .errors import MalformedBatch, TooLarge, UnsupportedMedia

JSON_TYPES = frozenset({"application/json"})
ENCODINGS = frozenset({"", "identity", "gzip"})


def check_media(content_type: str | None, content_encoding: str | None) -> str:
    """Return the normalized content encoding, or refuse with 415."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES:
        raise UnsupportedMedia()
    params = (content_type or "").split(";")[1:]
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise UnsupportedMedia()
    encoding = (content_encoding or "").strip().lower()
    if encoding not in ENCODINGS:
        raise UnsupportedMedia()
    return encoding


def decode_body(
    body: str | bytes | None, *, base64_encoded: bool, encoding: str, max_bytes: int
) -> bytes:
    """The decoded JSON bytes of a request body, at most `max_bytes` long."""
    if not body:
        raise MalformedBatch("the body is empty")
    if base64_encoded:
        # base64 is 4/3 of the bytes; gzip output is bounded separately below
        if len(body) > (max_bytes * 4) // 3 + 8:
            raise TooLarge()
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedBatch("the body is not valid base64") from None
    else:
        try:
            raw = body.encode("utf-8") if isinstance(body, str) else body
        except UnicodeEncodeError:  # lone surrogates cannot be UTF-8
            raise MalformedBatch("the body is not valid UTF-8") from None
        if len(raw) > max_bytes:
            raise TooLarge()
    if encoding == "gzip":
        return gunzip_bounded(raw, max_bytes)
    if len(raw) > max_bytes:
        raise TooLarge()
    return raw


def gunzip_bounded(data: bytes, max_bytes: int) -> bytes:
    """Inflate gzip, refusing (not expanding) anything that would exceed `max_bytes`."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error:
        raise MalformedBatch("the body is not valid gzip") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise TooLarge()
    if not inflater.eof:
        raise MalformedBatch("the gzip stream is truncated")
    if inflater.unused_data:
        # concatenated gzip members are legal but no agent of ours sends them: refuse, don't guess
        raise MalformedBatch("trailing data after the gzip stream")
    return out
