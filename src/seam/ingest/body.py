"""Request bodies: gzip, size limits, JSON decoding (SPEC §3 limits)."""

from __future__ import annotations

import json
import math
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
    # A byte order mark (some Windows tools write one) is not part of the JSON text.
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        error: Exception = exc
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply", code="invalid_json") from exc
    try:
        return _lenient(data)
    except (ValueError, RecursionError):
        raise BadRequest(f"the body is not valid JSON: {error}", code="invalid_json") from error


def _lenient(data: bytes) -> Any:
    """JSON that msgspec refuses but a browser writes: JSON.stringify escapes a lone surrogate
    (a string cut inside an emoji) as "\\ud83d", and a number may overflow a double. One such
    value must not cost a whole batch: surrogates become U+FFFD, overflowing numbers null."""
    return _cleaned(json.loads(data, parse_constant=_no_constant))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_cleaned(k): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def encoded_size(value: Any) -> int:
    return len(msgspec.json.encode(value))


def raw_bytes(value: Any) -> bytes:
    """A message as bytes for the quarantine (best effort for any decoded value)."""
    try:
        return msgspec.json.encode(value)
    except (TypeError, msgspec.EncodeError):
        return repr(value).encode()
