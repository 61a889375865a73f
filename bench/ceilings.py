"""Ceilings measured in the same run: what the web stack and the database can do at most."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.config import Profile
from bench.procs import free_port, server
from bench.raw_inserts import postgres_rows_per_second, sqlite_rows_per_second
from bench.results import BackendResult, Figure
from bench.scratch import scratch_pg_database
from bench.wrk_driver import WrkResult, run_wrk

TRIVIAL = "trivial endpoint, Starlette (req/s)"
TRIVIAL_ASGI = "trivial endpoint, bare ASGI (req/s)"
RAW_SQLITE = "raw inserts, executemany (rows/s)"
# Seam's SQLite default is synchronous=FULL (durable acknowledgements); shown for context.
RAW_SQLITE_FULL = "raw inserts, executemany, sync=FULL (rows/s)"
RAW_COPY = "raw inserts, COPY (rows/s)"
RAW_EXECUTEMANY = "raw inserts, executemany (rows/s)"


# Runs wrk against a server already up: (prefix, seconds) -> result.
Load = Callable[[str, int], WrkResult]


@contextlib.contextmanager
def trivial_server(profile: Profile, workdir: Path, module: str) -> Iterator[Load]:
    """Serve `module` (bench.trivial_app: Starlette + msgspec; bench.trivial_asgi: the same
    without Starlette) with uvicorn uvloop/httptools, 1 worker, warmed up; yield its load."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", f"{module}:app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with server(cmd, port=port, log=workdir / f"{module}.log"):

        def load(prefix: str, seconds: int) -> WrkResult:
            return run_wrk(
                url,
                mode="track",
                prefix=prefix,
                authorization="Basic d2tfdHJpdmlhbDo=",
                pool=profile.anon_pool,
                seconds=seconds,
                connections=profile.wrk_connections,
                threads=profile.wrk_threads,
            )

        load("warm", profile.wrk_warmup_seconds)
        yield load


def trivial_endpoint(profile: Profile, workdir: Path, module: str) -> WrkResult:
    with trivial_server(profile, workdir, module) as load:
        return load("trivial", profile.wrk_seconds)


def sqlite_again(profile: Profile, workdir: Path, synchronous: str) -> Callable[[int], float]:
    """The SQLite raw insert once more, on a new file each time: run number -> rows/s."""

    def insert(i: int) -> float:
        path = workdir / f"raw-again-{synchronous.lower()}-{i}.db"
        try:
            return sqlite_rows_per_second(path, profile.raw_rows, synchronous=synchronous)
        finally:
            for leftover in workdir.glob(f"{path.name}*"):
                leftover.unlink()

    return insert


def postgres_copy_again(profile: Profile, pg_server: str) -> Callable[[int], float]:
    """The PostgreSQL COPY insert once more, in a new database each time: run number ->
    rows/s."""

    def insert(_i: int) -> float:
        with scratch_pg_database(pg_server, "raw") as url:
            return postgres_rows_per_second(url, profile.raw_rows, ("copy",))["copy"]

    return insert


def measure(
    backend: str, profile: Profile, workdir: Path, pg_server: str, out: BackendResult
) -> None:
    """Add the ceiling figures of `backend` to `out`."""
    for name, module in ((TRIVIAL, "bench.trivial_app"), (TRIVIAL_ASGI, "bench.trivial_asgi")):
        trivial = trivial_endpoint(profile, workdir, module)
        out.add(Figure(backend, name, trivial.ok_per_second, "req/s", is_ceiling=True))
        out.notes.append(f"{name.removesuffix(' (req/s)')}: {trivial.describe()}")
    if backend == "sqlite":
        for synchronous, name in (("NORMAL", RAW_SQLITE), ("FULL", RAW_SQLITE_FULL)):
            path = workdir / f"raw-{synchronous.lower()}.db"
            rate = sqlite_rows_per_second(path, profile.raw_rows, synchronous=synchronous)
            out.add(Figure(backend, name, rate, "rows/s", is_ceiling=True))
    else:
        with scratch_pg_database(pg_server, "raw") as url:
            rates = postgres_rows_per_second(url, profile.raw_rows)
        out.add(Figure(backend, RAW_COPY, rates["copy"], "rows/s", is_ceiling=True))
        out.add(Figure(backend, RAW_EXECUTEMANY, rates["executemany"], "rows/s", is_ceiling=True))
