"""Running wrk (pinned to the load core) with bench/wrk/ingest.lua and reading its summary."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bench.config import LOAD_CORE, WRK_SCRIPTS
from bench.procs import BenchError, run


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    latency_p50_ms: float
    latency_p99_ms: float

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def non_2xx(self) -> int:
        return self.requests - self.ok

    @property
    def ok_per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        errors = ", ".join(f"{k}: {v}" for k, v in self.socket_errors.items() if v)
        return (
            f"{self.requests} requests in {self.seconds:.1f}s, statuses {{{statuses}}}, "
            f"non-2xx {self.non_2xx}, socket errors {{{errors or 'none'}}}, "
            f"latency p50 {self.latency_p50_ms:.2f} ms p99 {self.latency_p99_ms:.2f} ms"
        )


def run_wrk(
    url: str,
    *,
    mode: str,
    prefix: str,
    authorization: str,
    pool: int,
    seconds: int,
    connections: int,
    threads: int,
    batch_size: int = 100,
) -> WrkResult:
    """One wrk run against `url` (the server root); the Lua script picks the path from `mode`."""
    cmd = [
        "taskset", "-c", str(LOAD_CORE),
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(WRK_SCRIPTS / "ingest.lua"), url,
        "--", mode, prefix, authorization, str(pool), str(batch_size),
    ]  # fmt: skip
    out = run(cmd, timeout=seconds + 60)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise BenchError(f"wrk printed no summary:\n{out[-2000:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        statuses={int(k): v for k, v in data["statuses"].items()},
        socket_errors=data["errors"],
        latency_p50_ms=data["latency_us"]["p50"] / 1000,
        latency_p99_ms=data["latency_us"]["p99"] / 1000,
    )
