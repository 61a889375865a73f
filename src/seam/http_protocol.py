"""The HTTP protocol `seam serve` runs: uvicorn's httptools protocol, sending each response's
status line and headers together with the first piece of its body.

uvicorn writes a response's head as soon as the application starts the response, then the body:
two system calls and two TCP segments for every answer, each also received and acknowledged by
the client's kernel, on the same core on a loopback or a one-core server. Written together, the
bare ASGI endpoint of `bench/` served 36,300-37,400 req/s instead of 29,300-30,900 (A/B runs
on this machine); a Seam ingest request saves the same ~6 µs.

The head waits only for the body's first write (Seam's answers are whole bodies, never a
stream) or for the end of the response (a HEAD request's answer has no body). Anything else the
connection writes meanwhile (`100 Continue`, which the client awaits before it sends the body)
goes out at once, and closing the connection sends a held head first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

CONTINUE = b"HTTP/1.1 100 Continue"


class SeamHttpProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and not isinstance(cycle.transport, HeadWithBody):
            held = HeadWithBody(cycle.transport, cycle.on_response)
            cycle.transport = held
            cycle.on_response = held.response_complete


class HeadWithBody(asyncio.Transport):
    """One request's view of the connection: its response head is held until the first body
    write and sent with it, or sent alone when the response ends without a body write (uvicorn
    writes none for HEAD)."""

    def __init__(self, transport: asyncio.Transport, on_response: Callable[[], None]) -> None:
        super().__init__()
        self._transport = transport
        self._on_response = on_response
        self._head: bytes | None = None
        self._sent_head = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._sent_head:
            self._transport.write(data)
        elif self._head is None and bytes(data[: len(CONTINUE)]) != CONTINUE:
            self._head = bytes(data)
        else:
            self._flush(data)

    def _flush(self, data: bytes | bytearray | memoryview = b"") -> None:
        if self._head is not None:
            data = self._head + data
            self._head = None
            self._sent_head = True
        if data:
            self._transport.write(data)

    def response_complete(self) -> None:
        self._flush()
        self._on_response()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)
