"""The HTTP connection as a client's kernel sees it: each answer in one TCP segment, and
`Expect: 100-continue` honoured before the body is sent."""

from __future__ import annotations

import json
import socket
import struct
from typing import BinaryIO
from urllib.parse import urlsplit

from .support import Server, Workspace, basic, uid

# Linux `struct tcp_info`: tcpi_segs_in, the segments this socket received, is the u32 at 140.
TCP_INFO_SEGS_IN = 140


def _connect(server: Server) -> socket.socket:
    url = urlsplit(server.base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: seam", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read_from(stream: BinaryIO, *, has_body: bool = True) -> tuple[bytes, int, bytes]:
    """(status line, Content-Length, body) of the next response on a connection."""
    status = stream.readline()
    length = 0
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, length, stream.read(length) if has_body else b""


def _segments_in(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int(struct.unpack_from("I", info, TCP_INFO_SEGS_IN)[0])


def test_each_answer_arrives_in_one_tcp_segment(server: Server, workspace: Workspace):
    """uvicorn on its own sends the head and the body of a response as two segments; Seam sends
    them together (measured from the client's socket over 40 track requests)."""
    headers = {**basic(workspace.write_key), "Content-Type": "application/json"}
    with _connect(server) as sock, sock.makefile("rb") as stream:
        vid = uid("vid_")
        before = _segments_in(sock)
        for n in range(40):
            body = json.dumps({"anonymousId": vid, "event": "Tapped", "messageId": f"{vid}-{n}"})
            sock.sendall(_request("/v1/track", body.encode(), headers))
            status, _, answer = _read_from(stream)
            assert status.startswith(b"HTTP/1.1 200 "), status
            assert json.loads(answer) == {"status": "success"}
        received = _segments_in(sock) - before
    # One segment per answer; pure ACKs may come on top (a slow answer lets the server's kernel
    # acknowledge the request first), never a second segment for each answer (81 then).
    assert 40 <= received < 60, received
    assert len(workspace.events(anonymous_id=vid)) == 40


def test_a_client_expecting_100_continue_is_told_to_send_its_body(
    server: Server, workspace: Workspace
):
    """curl and many HTTP libraries send `Expect: 100-continue` before a large body and wait for
    the interim answer: it must not be held back like a response head."""
    vid = uid("vid_")
    body = json.dumps({"anonymousId": vid, "event": "Uploaded", "properties": {"pad": "x" * 2000}})
    headers = {
        **basic(workspace.write_key),
        "Content-Type": "application/json",
        "Expect": "100-continue",
    }
    with _connect(server) as sock:
        request = _request("/v1/track", body.encode(), headers)
        head_end = request.index(b"\r\n\r\n") + 4
        sock.sendall(request[:head_end])
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(1)
            assert chunk, "the server closed the connection"
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(request[head_end:])
        with sock.makefile("rb") as stream:
            status, _, answer = _read_from(stream)
    assert status.startswith(b"HTTP/1.1 200 "), status
    assert json.loads(answer) == {"status": "success"}
    assert [e["event"] for e in workspace.events(anonymous_id=vid)] == ["Uploaded"]


def test_head_requests_and_pipelined_requests_are_answered_in_order(server: Server):
    """A HEAD answer is a head without a body: it must still go out, and the requests behind
    it on the same connection must still be answered, in order."""
    get = b"GET /healthz HTTP/1.1\r\nHost: seam\r\n\r\n"
    head = b"HEAD /healthz HTTP/1.1\r\nHost: seam\r\n\r\n"
    with _connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(get + head + get)
        answers = [
            _read_from(stream, has_body=method != "HEAD") for method in ("GET", "HEAD", "GET")
        ]
    for status, _, _ in answers:
        assert status.startswith(b"HTTP/1.1 200 ")
    (_, _, first), (_, head_length, nothing), (_, _, third) = answers
    assert json.loads(first)["status"] == "ok" and third == first
    assert nothing == b"" and head_length == len(first)
