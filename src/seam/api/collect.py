"""POST /v1/collect: the tracker's endpoint (SPEC §6), also served at the paths Segment's
browser SDK (analytics.js / analytics-next) posts to when its `apiHost` is Seam:
`/v1/t|p|i|a|g|s` (one message of that type) and `/v1/b` (a batch), each with the write key
in the body and the same origin, key and CORS rules."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seam.clock import now_us
from seam.errors import Forbidden, SeamError
from seam.ingest.body import decode_json

from .auth import authenticate, key_from_headers, key_owner
from .browser import (
    allowed_origin,
    cors_headers,
    fingerprint,
    host_allowed,
    request_origin,
    workspace_origin,
)
from .envelope import error_response
from .ingest import body_key, read_body, split_batch, store_batch, store_single
from .state import Principal, app_state

# analytics.js names each endpoint by the first letter of the message type.
ANALYTICS_JS_PATHS = {
    "t": "track",
    "p": "page",
    "i": "identify",
    "a": "alias",
    "g": "group",
    "s": "screen",
}


async def collect(request: Request) -> Response:
    received_at = now_us()
    # The key named so far: a refusal is answered with its workspace's CORS headers.
    key = request.query_params.get("key") or key_from_headers(request)
    try:
        data = await read_body(request)
        payload = decode_json(data)
    except SeamError as exc:
        return await _refused(request, key, exc)
    key = request.query_params.get("key") or body_key(payload) or key_from_headers(request)
    try:
        return await _accept(request, key, data, payload, received_at)
    except SeamError as exc:
        return await _refused(request, key, exc)


async def _accept(
    request: Request, key: str | None, data: bytes, payload: Any, received_at: int
) -> Response:
    default_type = ANALYTICS_JS_PATHS.get(request.scope["path"].rsplit("/", 1)[-1])
    principal = await authenticate(request, key, "events:write")
    presented = (request.query_params.get("key"), body_key(payload), key_from_headers(request))
    await _refuse_secret_keys(request, principal, {k for k in presented if k and k != key})
    workspace = principal.workspace
    origin = allowed_origin(request, workspace)
    single = isinstance(payload, dict) and "batch" not in payload
    if workspace.cookieless:
        visitor = await fingerprint(app_state(request), request, workspace)
        for message in [payload] if single else _batch_of(payload):
            if isinstance(message, dict):
                _name_the_visitor(message, visitor)
    if single:  # answered as the single-message endpoints answer (400/413 when refused)
        response = await store_single(
            request, principal.caller, payload, data, received_at, default_type
        )
    else:
        messages, rejected = split_batch(payload, received_at, len(data))
        response = await store_batch(request, principal.caller, messages, rejected)
    response.headers.update(cors_headers(origin))
    return response


async def _refuse_secret_keys(request: Request, principal: Principal, others: set[str]) -> None:
    """A secret key seen in a browser is refused wherever it is (header, `?key=`, body), even
    beside the write key the request is served with. A key that is not ours is ignored there."""
    if principal.key.is_secret or any([await _is_secret(request, k) for k in others]):
        raise Forbidden(
            "a secret key must never be used in a browser; use the write key",
            code="secret_key_in_browser",
        )


async def _is_secret(request: Request, key: str) -> bool:
    owner = await key_owner(request, key)
    return owner is not None and owner.key.is_secret


async def _refused(request: Request, key: str | None, exc: SeamError) -> Response:
    """The error, readable by the page (CORS, and Retry-After exposed) when the key names a
    workspace whose domains include the request's origin: the tracker then knows why it was
    refused and when to retry. Without such a key or origin, no CORS headers."""
    headers = dict(exc.headers)
    owner = await key_owner(request, key) if key else None
    origin = workspace_origin(request, owner.workspace) if owner is not None else None
    if origin is not None:
        expose = ("Retry-After",) if "Retry-After" in headers else ()
        headers.update(cors_headers(origin, expose=expose))
    return error_response(request, exc.status, exc.code, exc.message, exc.details, headers)


def _batch_of(payload: Any) -> list[Any]:
    batch = payload.get("batch") if isinstance(payload, dict) else None
    return batch if isinstance(batch, list) else []


async def preflight(request: Request) -> Response:
    """CORS only for the origins of a workspace: of the one `?key=` names, or, without a key
    (Segment's browser SDK sends its key in the body, so its preflight names no workspace),
    of any workspace. The POST itself is then checked against its own workspace's domains."""
    key = request.query_params.get("key")
    if key:
        try:
            principal = await authenticate(request, key, "events:write")
            origin = allowed_origin(request, principal.workspace)
        except SeamError:
            return Response(status_code=204)
        if principal.key.is_secret:  # the POST would be refused
            return Response(status_code=204)
        return Response(status_code=204, headers=cors_headers(origin))
    found = request_origin(request)
    if found is None or not await _some_workspace_allows(request, found[1]):
        return Response(status_code=204)
    return Response(status_code=204, headers=cors_headers(found[0]))


async def _some_workspace_allows(request: Request, host: str) -> bool:
    workspaces = await app_state(request).all_workspaces()
    return any(host_allowed(host, ws.domains) for ws in workspaces)


BROWSER_PATHS = ("/v1/collect", "/v1/b", *(f"/v1/{letter}" for letter in ANALYTICS_JS_PATHS))
routes = [
    route
    for path in BROWSER_PATHS
    for route in (
        Route(path, collect, methods=["POST"]),
        Route(path, preflight, methods=["OPTIONS"]),
    )
]


def _name_the_visitor(message: dict[str, Any], visitor: str) -> None:
    """In a cookieless workspace the server names the browser (its fingerprint): every anonymous
    id the message gives is replaced, an alias's `previousId` too, or a page could bind (or
    write to) a visitor that is not its own."""
    message.pop("anonymous_id", None)
    message["anonymousId"] = visitor
    for previous in ("previousId", "previous_id"):
        if previous in message:
            message[previous] = visitor
