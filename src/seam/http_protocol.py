"""The HTTP protocol `seam serve` runs: uvicorn's httptools protocol, sending each response's
status line and headers together with the first piece of its body.

uvicorn writes a response's head as soon as the application starts the response, then the body:
two system calls and two TCP segments for every answer, each also received and acknowledged by
the client's kernel, on the same core on a loopback or a one-core server. Written together, the
bare ASGI endpoint of `bench/` served 36,300-37,400 req/s instead of 29,300-30,900 (A/B runs
on this machine); a Seam ingest request saves the same ~6 µs.

The head waits for the body's first write or, at most, for the event loop's next turn (a HEAD
request's answer has no body). Anything else the connection writes meanwhile (`100 Continue`,
which the client awaits before it sends the body) goes out at once, and closing the connection
sends a held head first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

CONTINUE = b"HTTP/1.1 100 Continue"


class SeamHttpProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        # A request that upgrades the connection returns before uvicorn makes its cycle: the
        # previous request's cycle, already wrapped, is still there.
        if cycle is not None and not isinstance(cycle.transport, HeadWithBody):
            cycle.transport = HeadWithBody(cycle.transport, self.loop)


class HeadWithBody(asyncio.Transport):
    """One request's view of the connection: its response head is held until the first body
    write and sent with it, or sent alone at the loop's next turn (uvicorn writes no body for
    HEAD). An answer's body write follows its head in the same turn: nothing awaits between
    them unless the connection's buffer is full, and then the head is better sent anyway."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._sent_head = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._sent_head:
            self._transport.write(data)
        elif self._head is None and bytes(data[: len(CONTINUE)]) != CONTINUE:
            self._head = bytes(data)
            self._loop.call_soon(self._flush)
        else:
            self._flush(data)

    def _flush(self, data: bytes | bytearray | memoryview = b"") -> None:
        if self._head is not None:
            data = self._head + data
            self._head = None
            self._sent_head = True
        # The client may have gone between the head and the loop's next turn: uvloop refuses
        # writes to a closed connection, and nobody is left to read them.
        if data and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)
