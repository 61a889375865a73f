"""SPEC §3: "A 2xx is sent only after the events are durably committed." Kill -9 and look."""

from __future__ import annotations

import signal
import threading
import time

import httpx

from .support import Server, Workspace, basic, start_server, stop_server, uid


def test_acknowledged_events_survive_a_killed_server(
    server: Server, workspace: Workspace, tmp_path
):
    """A second `seam serve` on the same database takes batches from 6 clients and is killed with
    SIGKILL mid-stream; every batch it acknowledged is then readable through the first server."""
    second = server.beside(tmp_path / "second.log")
    start_server(second)
    vid = uid("vid_")
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=second.base_url, timeout=10) as http:
            for i in range(10_000):
                if stop.is_set():
                    return
                ids = [f"{n}-{i}-{j}" for j in range(5)]
                batch = [
                    {"type": "track", "anonymousId": vid, "event": "e", "messageId": m} for m in ids
                ]
                try:
                    response = http.post(
                        "/v1/batch", json={"batch": batch}, headers=basic(workspace.write_key)
                    )
                except httpx.TransportError:
                    return
                if response.status_code == 200:
                    with lock:
                        acknowledged.extend(ids)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 500 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert second.process is not None
        second.process.send_signal(signal.SIGKILL)
        second.process.wait(timeout=10)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        stop_server(second)
    with lock:
        promised = set(acknowledged)
    assert len(promised) >= 500
    stored = {e["message_id"] for e in workspace.events(anonymous_id=vid)}
    missing = promised - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
