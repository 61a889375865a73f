"""Query-string parameters, validated into the SPEC's 400 envelope."""

from __future__ import annotations

import re

from starlette.requests import Request

from seam.clock import parse_iso
from seam.errors import BadRequest

_INTEGER = re.compile(r"-?[0-9]{1,19}")
INT64_MAX = 2**63 - 1


def int64(raw: str) -> int | None:
    """`raw` as an integer both databases can store (ASCII digits only: `str.isdigit` also
    takes '²', which `int` refuses), else None."""
    if not _INTEGER.fullmatch(raw):
        return None
    value = int(raw)
    return value if -INT64_MAX - 1 <= value <= INT64_MAX else None


def text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value.strip() if value and value.strip() else None


def limit(request: Request, default: int = 100, maximum: int = 1000) -> int:
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return default
    value = int64(raw)
    if value is None or not 1 <= value <= maximum:
        raise BadRequest(f"limit must be an integer from 1 to {maximum}", code="invalid_parameter")
    return value


def boolean(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name} must be true or false", code="invalid_parameter")


def timestamp(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    parsed = parse_iso(raw)
    if parsed is None:
        raise BadRequest(f"{name} must be an ISO-8601 date-time", code="invalid_parameter")
    return parsed


MAX_LIST_ITEMS = 20


def text_list(request: Request, name: str) -> tuple[str, ...]:
    """A comma-separated parameter as its distinct values, in order (at most 20: a query is
    compiled once per shape, so the shapes a client can ask for stay few)."""
    values = tuple(dict.fromkeys(v.strip() for v in (text(request, name) or "").split(",")))
    values = tuple(v for v in values if v)
    if len(values) > MAX_LIST_ITEMS:
        raise BadRequest(f"{name} takes at most {MAX_LIST_ITEMS} values", code="invalid_parameter")
    return values


def choice(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = request.query_params.get(name) or default
    if raw not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}", code="invalid_parameter")
    return raw
