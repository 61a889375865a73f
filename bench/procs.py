"""Spawning pinned server processes, waiting for them to be healthy, and always stopping them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from bench.config import REPO, SERVER_CORE


class BenchError(RuntimeError):
    """The harness could not take a measurement (a server did not start, a command failed)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin_self(core: int) -> None:
    """Run this process (and the children it spawns without `taskset`) on one core."""
    os.sched_setaffinity(0, {core})


@contextlib.contextmanager
def pinned(core: int) -> Iterator[None]:
    """Temporarily move this process to `core` (used for in-process ceilings)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def run(cmd: Sequence[str], *, timeout: float = 120, cwd: Path = REPO) -> str:
    """Run a command to completion; its stdout, or BenchError with its stderr."""
    try:
        done = subprocess.run(
            list(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"timed out after {timeout}s: {' '.join(cmd)}") from exc
    if done.returncode != 0:
        raise BenchError(
            f"exit {done.returncode}: {' '.join(cmd)}\n{done.stderr[-2000:]}{done.stdout[-500:]}"
        )
    return done.stdout


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def server(
    cmd: Sequence[str],
    *,
    port: int,
    log: Path,
    health_path: str = "/healthz",
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    start_timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `cmd` pinned to the server core, wait until `health_path` answers 200, yield it,
    and stop its whole process group on exit (also on error or Ctrl-C)."""
    full = ["taskset", "-c", str(SERVER_CORE), *cmd]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            full,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    try:
        _wait_healthy(proc, f"http://127.0.0.1:{port}{health_path}", log, start_timeout)
        yield proc
    finally:
        stop(proc)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited with {proc.returncode} before {url}:\n{tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"{url} not healthy after {timeout}s:\n{tail(log)}")


def stop(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)
