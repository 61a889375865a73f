"""The trivial-endpoint ceiling on Starlette, doing nothing but decode + reply (the GUIDE's
ceiling; Seam's ingest endpoints run beneath Starlette, see `bench.trivial_asgi`).

Served by `uvicorn bench.trivial_app:app --loop uvloop --http httptools --workers 1`. The
message is decoded into a typed msgspec Struct like a real ingest handler would.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Message(msgspec.Struct, omit_defaults=True):
    type: str
    messageId: str | None = None  # Segment field names
    anonymousId: str | None = None
    userId: str | None = None
    event: str | None = None
    properties: dict[str, Any] = {}
    context: dict[str, Any] = {}


class Batch(msgspec.Struct):
    batch: list[Message]


_decode_message = msgspec.json.Decoder(Message).decode
_decode_batch = msgspec.json.Decoder(Batch).decode
_OK = msgspec.json.encode({"status": "success"})


async def track(request: Request) -> Response:
    _decode_message(await request.body())
    return Response(_OK, media_type="application/json")


async def batch(request: Request) -> Response:
    accepted = len(_decode_batch(await request.body()).batch)
    body = msgspec.json.encode({"status": "success", "accepted": accepted, "rejected": []})
    return Response(body, media_type="application/json")


async def healthz(_request: Request) -> Response:
    return Response(b"ok")


app = Starlette(
    routes=[
        Route("/v1/track", track, methods=["POST"]),
        Route("/v1/batch", batch, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)
