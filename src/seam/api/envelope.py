"""JSON responses and the SPEC's error envelope."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from seam.errors import SeamError

log = logging.getLogger("seam.api")
_encode = msgspec.json.Encoder().encode

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "invalid_request"}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode(content)


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid
    return str(rid)


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSON:
    body = {
        "status": "error",
        "error": {
            "code": code,
            "message": message,
            "details": details or [],
            "request_id": request_id(request),
        },
    }
    return JSON(body, status_code=status, headers=headers)


async def seam_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SeamError)
    return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return error_response(request, exc.status_code, code, str(exc.detail), headers=headers)


def allowed_methods(request: Request) -> str:
    """Every method a route serves at the request's path. Starlette's 405 names only the first
    route whose path matched: PUT /v1/contacts/import answered `Allow: GET, HEAD`, the methods
    of /v1/contacts/{contact_id}, and not the import's POST."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods:
            matched, _ = route.matches(request.scope)
            if matched is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))


async def unstorable_value(request: Request, exc: Exception) -> Response:
    """A parameter the database cannot even compare (PostgreSQL refuses NUL in text): it can
    match nothing, so it is the client's error, not ours."""
    return error_response(
        request, 400, "invalid_parameter", "a parameter contains characters that cannot be stored"
    )


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up mid-body: nothing was stored and nobody reads the answer, so there is
    nothing to log either."""
    return error_response(request, 400, "client_disconnected", "the client disconnected")


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # Logged without the request body: it may hold personal data.
    log.error("unhandled error on %s %s: %r", request.method, request.url.path, exc)
    return error_response(request, 500, "internal_error", "an unexpected error occurred")
