"""Request bodies: gzip, size limits, JSON decoding (SPEC §3 limits)."""

from __future__ import annotations

import zlib
from typing import Any

import msgspec

from seam.errors import BadRequest, PayloadTooLarge

MAX_BODY = 500 * 1024
MAX_MESSAGE = 32 * 1024

_decoder = msgspec.json.Decoder()


def decompress(raw: bytes, content_encoding: str | None) -> bytes:
    """The body after gzip decompression, refusing to inflate past the body limit."""
    if not content_encoding or content_encoding.strip().lower() in ("identity", ""):
        data = raw
    elif content_encoding.strip().lower() in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(raw, MAX_BODY + 1)
        except zlib.error as exc:
            raise BadRequest("the body is not valid gzip", code="invalid_gzip") from exc
        # Cut short (no end of stream, so no CRC checked) unless it stopped at the limit.
        if not inflater.eof and len(data) <= MAX_BODY:
            raise BadRequest("the gzip body is truncated", code="invalid_gzip")
    else:
        raise BadRequest(
            f"unsupported Content-Encoding {content_encoding!r}", code="unsupported_encoding"
        )
    if len(data) > MAX_BODY:
        raise PayloadTooLarge(f"the request body exceeds {MAX_BODY} bytes")
    return data


def decode_json(data: bytes) -> Any:
    if not data.strip():
        raise BadRequest("the body is empty", code="invalid_json")
    try:
        # A byte order mark (some Windows tools write one) is not part of the JSON text.
        return _decoder.decode(data.removeprefix(b"\xef\xbb\xbf"))
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from exc
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply", code="invalid_json") from exc


def encoded_size(value: Any) -> int:
    return len(msgspec.json.encode(value))


def raw_bytes(value: Any) -> bytes:
    """A message as bytes for the quarantine (best effort for any decoded value)."""
    try:
        return msgspec.json.encode(value)
    except (TypeError, msgspec.EncodeError):
        return repr(value).encode()
