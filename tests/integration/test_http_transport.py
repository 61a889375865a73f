"""The response head held back for its body, on a real uvloop connection whose client left."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, cast

import uvloop

from seam.http_protocol import HeadWithBody


def test_a_held_head_is_dropped_quietly_when_the_client_left_before_the_next_turn() -> None:
    """The client hangs up between the head and the loop's next turn: uvloop has closed the
    connection when the held head would go out, and refuses the write."""

    async def scenario() -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        errors: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        accepted: list[asyncio.Transport] = []
        lost = asyncio.Event()

        class Accept(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                accepted.append(cast(asyncio.Transport, transport))

            def connection_lost(self, exc: Exception | None) -> None:
                lost.set()

        server = await loop.create_server(Accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        while not accepted:
            await asyncio.sleep(0.01)
        connection = HeadWithBody(accepted[0], loop)
        client.close()
        accepted[0].close()
        await lost.wait()
        connection.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")  # held
        await asyncio.sleep(0.05)  # the loop's next turns: the held head would go out now
        server.close()
        return errors

    assert uvloop.run(scenario()) == []
