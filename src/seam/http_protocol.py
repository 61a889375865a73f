"""The HTTP protocol `seam serve` runs: uvicorn's httptools protocol, answering the ingest
endpoints without the ASGI machinery, and sending every other response's status line and
headers together with the first piece of its body.

Ingest requests (`IngestFastPath.handler_for`) are the ones a site sends for every page view.
Their handlers return a whole response, so the protocol calls them itself and writes the
answer in one piece: no ASGI task wrapper, proxy-headers middleware (the ingest handlers read
neither the client's address nor the scheme), `receive`/`send` messages nor uvicorn's header
checks. Measured under single-event load (two servers, the ASGI path and this one, each 5 s
run between two runs of the Starlette endpoint): PostgreSQL 0.417 -> 0.482 of the endpoint,
1.16 times, better in 6 rounds of 6 (1.09 times, 3 of 4, in a slower hour); SQLite 0.338 ->
0.420, 1.24 times, 4 of 4. uvicorn's
request cycle is still made for each request and keeps the connection's state (keep-alive,
pipelining, `Expect: 100-continue`, a client gone, a server stopping), as for any request.

Every other answer goes through the application. uvicorn writes a response's head as soon as
the application starts the response, then the body: two system calls and two TCP segments for
every answer, each also received and acknowledged by the client's kernel, on the same core on a
loopback or a one-core server. Written together, the bare ASGI endpoint of `bench/` served
36,300-37,400 req/s instead of 29,300-30,900 (A/B runs on this machine).

The head waits for the body's first write or, at most, for the event loop's next turn (a HEAD
request's answer has no body). Anything else the connection writes meanwhile (`100 Continue`,
which the client awaits before it sends the body) goes out at once, and closing the connection
sends a held head first.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from starlette.types import Receive, Scope
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from seam.api.fast_path import Handler, IngestFastPath

CONTINUE = b"HTTP/1.1 100 Continue"


class SeamHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ingest = _ingest_fast_path(self.app)
        # When the connection last became idle (its last answer sent, nothing new arrived):
        # None while a request is under way.
        self._idle_since: float | None = None

    # uvicorn arms a keep-alive timer after every answer and cancels it when the next request
    # arrives: with uvloop a timer of libuv made and stopped for each request (1.7 µs alone;
    # 12.8 -> 12.3 µs a request through this protocol in process, fake socket). Here one
    # timer stays armed while the connection is in use and, when it fires, closes the
    # connection only if it has been idle for the whole keep-alive time since its last
    # answer; else it is armed again for what is left of it.

    def _unset_keepalive_if_required(self) -> None:
        """Data arrived or the connection is lost (uvicorn's calls): not idle. The armed timer
        stays; it finds the connection in use when it fires."""
        self._idle_since = None

    def on_response_complete(self) -> None:
        """uvicorn's, arming the keep-alive timer only if none is armed."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self._arm_keep_alive(self.timeout_keep_alive)

    def _arm_keep_alive(self, delay: float) -> None:
        self.timeout_keep_alive_task = self.loop.call_later(delay, self._keep_alive_due)

    def _keep_alive_due(self) -> None:
        self.timeout_keep_alive_task = None
        if self._idle_since is None:
            return  # in use: its next answer arms the timer again
        left = self._idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self._arm_keep_alive(left)
        else:
            self.timeout_keep_alive_handler()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        super().connection_lost(exc)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """Serve the request: an ingest request by its handler directly, any other through
        the application (uvicorn calls this for each request in turn, pipelined ones too)."""
        ingest = self._ingest if app is self.app else None
        handler = ingest.handler_for(cast(Scope, cycle.scope)) if ingest is not None else None
        if ingest is None or handler is None:
            cycle.transport = HeadWithBody(cycle.transport, self.loop)
            super()._start_asgi_task(cycle, app)
            return
        task = self.loop.create_task(self._serve_ingest(cycle, ingest, handler))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _serve_ingest(
        self, cycle: RequestResponseCycle, ingest: IngestFastPath, handler: Handler
    ) -> None:
        """What uvicorn's cycle does for an ASGI application (`run_asgi`, `send`), for an
        answer known whole: the body comes from `cycle.receive` (which also answers
        `Expect: 100-continue` and notices a client gone), the head and body go out in one
        write, and the connection then carries on (or closes) as uvicorn would have it."""
        try:
            response = await ingest.respond(
                handler, cast(Scope, cycle.scope), cast(Receive, cycle.receive)
            )
        except Exception as exc:  # the application's handlers answer every error: a bug
            self.logger.error("Exception in ingest handler", exc_info=exc)
            self.transport.close()
            return
        except BaseException:
            self.transport.close()
            raise
        if cycle.disconnected or self.transport.is_closing():
            return
        cycle.response_started = True
        head = self.server_state.default_headers + response.raw_headers
        answer = _http_response(response.status_code, head, response.body, cycle.keep_alive)
        self.transport.write(answer)
        cycle.response_complete = True
        cycle.message_event.set()
        if not cycle.keep_alive:
            self.transport.close()
        cycle.on_response()


def _http_response(
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes | memoryview,
    keep_alive: bool,
) -> bytes:
    content: list[bytes | memoryview] = [STATUS_LINE[status]]
    for name, value in headers:
        content += (name, b": ", value, b"\r\n")
    if not keep_alive:  # an HTTP/1.0 client, `Connection: close`, or a server stopping
        content.append(b"connection: close\r\n")
    content += (b"\r\n", body)
    return b"".join(content)


def _ingest_fast_path(app: Any) -> IngestFastPath | None:
    """The ingest endpoints inside the middlewares uvicorn wraps the application in."""
    while app is not None and not isinstance(app, IngestFastPath):
        app = getattr(app, "app", None)
    return app


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
