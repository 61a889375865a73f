"""The trivial-endpoint ceiling without a framework: uvicorn calling a bare ASGI function.

Seam serves its ingest endpoints beneath Starlette and ASGI (`seam.http_protocol`), so this is
the floor of its own stack: read the body, decode it into the same typed msgspec Struct as
`bench.trivial_app`, answer the same bytes. Served by `uvicorn bench.trivial_asgi:app --loop
uvloop --http httptools --workers 1`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from bench.trivial_app import Batch, Message

_decode_message = msgspec.json.Decoder(Message).decode
_decode_batch = msgspec.json.Decoder(Batch).decode
_OK = msgspec.json.encode({"status": "success"})
_JSON = [(b"content-type", b"application/json")]


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()  # startup
        await send({"type": "lifespan.startup.complete"})
        await receive()  # shutdown
        await send({"type": "lifespan.shutdown.complete"})
        return
    status, body = 200, b"ok"
    if scope["path"] == "/v1/track":
        _decode_message(await _body(receive))
        body = _OK
    elif scope["path"] == "/v1/batch":
        accepted = len(_decode_batch(await _body(receive)).batch)
        body = msgspec.json.encode({"status": "success", "accepted": accepted, "rejected": []})
    elif scope["path"] != "/healthz":
        status, body = 404, b"{}"
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
