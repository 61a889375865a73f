"""Opaque "next page" cursors and query parameters of dashboard lists."""

from __future__ import annotations

from starlette.requests import Request

from seam.api.params import int64
from seam.api.render import decode_cursor, encode_cursor
from seam.errors import BadRequest

__all__ = ["cursor_parts", "encode_cursor", "int64", "text_param"]


def cursor_parts(request: Request, count: int) -> list[str] | None:
    """The parts of `?cursor=`, or None (a mangled cursor just restarts at the first page)."""
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    try:
        return decode_cursor(raw, count)
    except BadRequest:
        return None


def text_param(request: Request, name: str, max_length: int = 255) -> str | None:
    value = (request.query_params.get(name) or "").strip()
    return value[:max_length] or None
