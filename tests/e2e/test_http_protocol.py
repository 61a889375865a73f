"""The HTTP connection as a client's kernel sees it: each answer in one TCP segment,
`Expect: 100-continue` honoured before the body is sent, pipelined requests answered in order,
and the connection kept or closed as the client and a stopping server ask."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx

from .support import (
    Server,
    Workspace,
    basic,
    free_port,
    start_server,
    stop_server,
    uid,
    wait_until_healthy,
)

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


def _track(vid: str, n: int) -> bytes:
    return json.dumps({"anonymousId": vid, "event": "Tapped", "messageId": f"{vid}-{n}"}).encode()


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
            sock.sendall(_request("/v1/track", _track(vid, n), headers))
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


def test_pipelined_ingest_and_other_requests_are_answered_in_order(
    server: Server, workspace: Workspace
):
    """Ingest requests are served by the protocol itself, the rest by the application: sent
    back to back on one connection, each is answered in its turn, errors in the envelope."""
    key = basic(workspace.write_key)
    vid = uid("vid_")
    batch = json.dumps({"batch": [{**json.loads(_track(vid, 2)), "type": "track"}]}).encode()
    requests = [
        _request("/v1/track", _track(vid, 1), key),
        b"GET /healthz HTTP/1.1\r\nHost: seam\r\n\r\n",
        _request("/v1/track", _track(vid, 9), basic("wk_not_a_key")),
        _request("/v1/batch", batch, key),
        _request("/v1/track", b"{not json", key),
        _request("/v1/track/", _track(vid, 3), key),
    ]
    with _connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(b"".join(requests))
        answers = [_read_from(stream) for _ in requests]
    statuses = [int(status.split()[1]) for status, _, _ in answers]
    assert statuses == [200, 200, 401, 200, 400, 200]
    bodies = [json.loads(body) for _, _, body in answers]
    assert bodies[0] == {"status": "success"} and bodies[1]["status"] == "ok"
    assert bodies[2]["error"]["code"] == "invalid_key"
    assert bodies[3]["accepted"] == 1
    assert bodies[4]["error"]["code"] == "invalid_json"
    stored = sorted(e["message_id"] for e in workspace.events(anonymous_id=vid))
    assert stored == [f"{vid}-1", f"{vid}-2", f"{vid}-3"]


def _head_and_rest(sock: socket.socket) -> tuple[bytes, bytes]:
    """(head, body) of the one answer on a connection the server then closes."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return head, body


def test_an_http_1_0_client_or_connection_close_gets_its_answer_and_the_connection_closes(
    server: Server, workspace: Workspace
):
    vid = uid("vid_")
    key = basic(workspace.write_key)
    http_1_0 = _request("/v1/track", _track(vid, 1), key).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    closing = _request("/v1/track", _track(vid, 2), {**key, "Connection": "close"})
    for request in (http_1_0, closing):
        with _connect(server) as sock:
            sock.sendall(request)
            head, body = _head_and_rest(sock)  # returns only once the server closes
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert b"\r\nconnection: close" in head.lower()
        assert json.loads(body) == {"status": "success"}
    assert len(workspace.events(anonymous_id=vid)) == 2


def test_a_chunked_body_sent_in_pieces_is_read_whole(server: Server, workspace: Workspace):
    vid = uid("vid_")
    body = _track(vid, 1)
    head = "\r\n".join(
        [
            "POST /v1/track HTTP/1.1",
            "Host: seam",
            "Transfer-Encoding: chunked",
            "Content-Type: application/json",
            *(f"{name}: {value}" for name, value in basic(workspace.write_key).items()),
        ]
    )
    half = len(body) // 2
    with _connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(f"{head}\r\n\r\n".encode())
        for piece in (body[:half], body[half:]):
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            time.sleep(0.05)  # each piece in its own segment, the first read alone
        sock.sendall(b"0\r\n\r\n")
        status, _, answer = _read_from(stream)
    assert status.startswith(b"HTTP/1.1 200 "), status
    assert json.loads(answer) == {"status": "success"}
    assert [e["event"] for e in workspace.events(anonymous_id=vid)] == ["Tapped"]


# uvicorn's default, which `seam serve` keeps.
KEEP_ALIVE_SECONDS = 5


def test_a_connection_in_use_stays_open_and_an_idle_one_closes_after_the_keep_alive_time(
    server: Server, workspace: Workspace
):
    """Requests 2 s apart for longer than the keep-alive time are all answered on one
    connection; once it is left idle, the server closes it after the keep-alive time."""
    headers = {**basic(workspace.write_key), "Content-Type": "application/json"}
    vid = uid("vid_")
    with _connect(server) as sock, sock.makefile("rb") as stream:
        for n in range(4):
            if n:
                time.sleep(2)
            sock.sendall(_request("/v1/track", _track(vid, n), headers))
            status, _, _ = _read_from(stream)
            assert status.startswith(b"HTTP/1.1 200 "), status
        answered = time.monotonic()
        assert stream.read(1) == b""  # blocks until the server closes the connection
        idle = time.monotonic() - answered
    assert KEEP_ALIVE_SECONDS - 0.5 < idle < KEEP_ALIVE_SECONDS + 3, idle
    assert len(workspace.events(anonymous_id=vid)) == 4


def test_a_request_in_flight_when_the_server_stops_is_answered_and_stored(
    server: Server, workspace: Workspace, tmp_path
):
    """SIGTERM while a client is still sending its event: the server finishes the request,
    answers it with `connection: close`, then exits; the event is stored."""
    second = server.beside(tmp_path / "second.log")
    start_server(second)
    assert second.process is not None
    vid = uid("vid_")
    request = _request("/v1/track", _track(vid, 1), basic(workspace.write_key))
    try:
        with _connect(second) as sock:
            sock.sendall(request[:-10])
            time.sleep(0.3)  # the server has read the head and waits for the body
            second.process.send_signal(signal.SIGTERM)
            # With --workers, uvicorn's supervisor may take half a second to stop its workers.
            time.sleep(1.5)
            sock.sendall(request[-10:])
            head, body = _head_and_rest(sock)
        assert second.process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        stop_server(second)
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"\r\nconnection: close" in head.lower()
    assert json.loads(body) == {"status": "success"}
    assert [e["event"] for e in workspace.events(anonymous_id=vid)] == ["Tapped"]


def test_the_application_serves_ingest_under_a_plain_asgi_server(
    server: Server, workspace: Workspace, tmp_path
):
    """`seam serve`'s protocol answers ingest requests itself; the application answers them
    the same way under any ASGI server (here uvicorn with its own protocol), trailing slash
    included, errors in the envelope."""
    port = free_port()
    log = tmp_path / "uvicorn.log"
    command = [
        sys.executable, "-m", "uvicorn", "seam.app:app_from_env", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--http", "httptools",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SEAM_DATABASE_URL": server.db_url},
        )
    base_url = f"http://127.0.0.1:{port}"
    vid = uid("vid_")
    try:
        wait_until_healthy(base_url, process, log)
        key = basic(workspace.write_key)
        with httpx.Client(base_url=base_url, timeout=10) as http:
            for path, n in (("/v1/track", 1), ("/v1/track/", 2)):
                answer = http.post(path, content=_track(vid, n), headers=key)
                assert answer.status_code == 200 and answer.json() == {"status": "success"}
            refused = http.post("/v1/track", content=_track(vid, 3), headers=basic("wk_nope"))
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_key"
    stored = sorted(e["message_id"] for e in workspace.events(anonymous_id=vid))
    assert stored == [f"{vid}-1", f"{vid}-2"]
