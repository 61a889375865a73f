"""Segment-compatible ingestion: /v1/identify|track|page|screen|group|alias|batch|import."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from seam.clock import now_us, to_iso
from seam.errors import BadRequest, PayloadTooLarge, SeamError
from seam.ingest.apply import Caller, IdentifyOutcome
from seam.ingest.body import MAX_BODY, MAX_MESSAGE, decode_json, decompress, encoded_size, raw_bytes
from seam.ingest.message import Message, Rejection, validate
from seam.ingest.writer import Job

from .auth import authenticate, header, key_from_headers
from .envelope import JSON
from .state import Principal, app_state

SINGLE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
# Compressed bodies may exceed the limit slightly only if incompressible; beyond this margin a
# body cannot decompress to fewer than MAX_BODY bytes worth of messages we would accept.
RAW_BODY_LIMIT = MAX_BODY + 64 * 1024


async def read_body(request: Request) -> bytes:
    declared = header(request, b"content-length")
    if declared and declared.isdigit() and int(declared) > RAW_BODY_LIMIT:
        raise PayloadTooLarge(f"the request body exceeds {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:  # the ASGI messages themselves: Request.stream() costs ~2 µs more per request
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > RAW_BODY_LIMIT:
            raise PayloadTooLarge(f"the request body exceeds {MAX_BODY} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return decompress(data, header(request, b"content-encoding"))


def body_key(payload: Any) -> str | None:
    if isinstance(payload, dict):
        key = payload.get("writeKey") or payload.get("write_key")
        return key if isinstance(key, str) else None
    return None


async def authenticated_body(request: Request) -> tuple[Principal, bytes, Any]:
    """(principal, body, decoded body). A key in the headers is checked before the body is
    read; without one, the body's `writeKey` (as analytics.js sends it) is used."""
    principal = None
    key = key_from_headers(request)
    if key:
        principal = await authenticate(request, key, "events:write")
    data = await read_body(request)
    try:
        payload = decode_json(data)
    except BadRequest as exc:
        if principal is None:
            raise
        await refuse(request, principal.caller, exc, data)  # a known sender: keep what came
    if principal is None:
        principal = await authenticate(request, body_key(payload), "events:write")
    return principal, data, payload


async def refuse(request: Request, caller: Caller, error: SeamError, data: bytes) -> NoReturn:
    """Quarantine a body refused as a whole, with the reason its sender is told, then tell it."""
    state = app_state(request)
    await state.writer.submit(Job(caller, [], [(error.code, error.message, data)]))
    state.count("events_rejected")
    raise error


def split_batch(
    payload: Any, received_at: int, body_size: int
) -> tuple[list[Message], list[tuple[int, Rejection, Any]]]:
    """Validate each message of a batch body; the bad ones are reported by index. A message
    can only exceed the per-message limit if the whole body does, so only then is each one
    measured."""
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        raise BadRequest("the body must be an object with a `batch` array", code="invalid_message")
    context = payload.get("context")
    if context is None:
        context = {}
    elif not isinstance(context, dict):
        raise BadRequest("the batch's `context` must be an object", code="invalid_message")
    messages: list[Message] = []
    rejected: list[tuple[int, Rejection, Any]] = []
    for index, raw in enumerate(payload["batch"]):
        if body_size > MAX_MESSAGE and encoded_size(raw) > MAX_MESSAGE:
            rejected.append(
                (
                    index,
                    Rejection("payload_too_large", f"a message exceeds {MAX_MESSAGE} bytes"),
                    raw,
                )
            )
            continue
        checked = validate(
            raw, received_at=received_at, batch_context=context, batch_sent_at=payload.get("sentAt")
        )
        if isinstance(checked, Rejection):
            rejected.append((index, checked, raw))
        else:
            messages.append(checked)
    return messages, rejected


async def store_batch(
    request: Request,
    caller: Caller,
    messages: list[Message],
    rejected: list[tuple[int, Rejection, Any]],
) -> JSON:
    state = app_state(request)
    await state.writer.submit(
        Job(caller, messages, [(r.code, r.message, raw_bytes(raw)) for _, r, raw in rejected])
    )
    state.count("events_accepted", len(messages))
    state.count("events_rejected", len(rejected))
    return JSON(
        {
            "status": "success",
            "accepted": len(messages),
            "rejected": [
                {"index": i, "code": r.code, "message": r.message} for i, r, _ in rejected
            ],
        }
    )


async def batch(request: Request) -> Response:
    received_at = now_us()
    principal, data, payload = await authenticated_body(request)
    messages, rejected = split_batch(payload, received_at, len(data))
    return await store_batch(request, principal.caller, messages, rejected)


def identify_body(outcome: IdentifyOutcome, message: Message) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "success",
        "contact_id": outcome.contact_id,
        "created": outcome.created,
        "events_linked": outcome.events_linked,
        "visitor_bound": outcome.visitor_bound,
        "timestamp": to_iso(message.timestamp),
    }
    if outcome.refused_reason:
        body["refused_reason"] = outcome.refused_reason
    return body


async def single(request: Request) -> Response:
    kind = request.scope["path"].rstrip("/").rsplit("/", 1)[-1]
    received_at = now_us()
    principal, data, payload = await authenticated_body(request)
    return await store_single(request, principal.caller, payload, data, received_at, kind)


async def store_single(
    request: Request,
    caller: Caller,
    payload: Any,
    data: bytes,
    received_at: int,
    default_type: str | None = None,
) -> Response:
    """One message: 200 once it is committed, else the error (and the message quarantined)."""
    if len(data) > MAX_MESSAGE:
        await refuse(
            request, caller, PayloadTooLarge(f"a message exceeds {MAX_MESSAGE} bytes"), data
        )
    checked = validate(payload, received_at=received_at, default_type=default_type)
    if isinstance(checked, Rejection):
        await refuse(request, caller, BadRequest(checked.message, code=checked.code), data)
    state = app_state(request)
    (outcome,) = await state.writer.submit(Job(caller, [checked]))
    state.count("events_accepted")
    if isinstance(outcome, IdentifyOutcome):
        return JSON(identify_body(outcome, checked))
    return JSON({"status": "success"})


def handlers() -> dict[str, Callable[[Request], Awaitable[Response]]]:
    """path -> handler of every ingest endpoint (each takes POST only)."""
    return {
        **{f"/v1/{kind}": single for kind in SINGLE_TYPES},
        "/v1/batch": batch,
        "/v1/import": batch,
    }


# The router still knows them (the fast path serves them first): a GET is answered 405.
routes = [Route(path, handler, methods=["POST"]) for path, handler in handlers().items()]
