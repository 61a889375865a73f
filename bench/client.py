"""HTTP clients for Seam's API: an async one for bulk loading through /v1/batch, a lean one
for the requests whose latency is measured.

Runs on the load core with the harness. Every request has a timeout, every loop a bound.
"""

from __future__ import annotations

import asyncio
import http.client
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from bench.seam_server import SeamInstance

Message = dict[str, Any]
RETRY_STATUSES = {429, 502, 503, 504}
MAX_ATTEMPTS = 6


def iso(ts: float) -> str:
    """Unix seconds → ISO 8601 UTC with milliseconds, as Segment SDKs send timestamps."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class LoadStats:
    """What the bulk loader saw; `accepted` is the sum of the servers' `accepted` counts."""

    requests: int = 0
    messages: int = 0
    accepted: int = 0
    rejected: int = 0
    failed_requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # first few unexpected answers

    def note(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(text[:500])

    def describe(self) -> str:
        rate = self.accepted / self.seconds if self.seconds else 0
        return (
            f"{self.messages} messages in {self.requests} requests, {self.seconds:.1f}s "
            f"({rate:,.0f} accepted/s); accepted {self.accepted}, rejected {self.rejected}, "
            f"failed requests {self.failed_requests}, retries {self.retries}, "
            f"statuses {dict(sorted(self.statuses.items()))}"
        )


class SeamClient:
    def __init__(self, seam: SeamInstance, concurrency: int = 16) -> None:
        self.concurrency = concurrency
        self.http = httpx.AsyncClient(
            base_url=seam.url,
            headers={"Authorization": f"Bearer {seam.workspace.secret_key}"},
            timeout=httpx.Timeout(60.0, connect=10.0),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    async def __aenter__(self) -> SeamClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.http.aclose()

    async def post(self, path: str, body: bytes, stats: LoadStats | None = None) -> httpx.Response:
        """POST with bounded retries on 429/5xx-unavailable and transport errors."""
        headers = {"Content-Type": "application/json"}
        for attempt in range(MAX_ATTEMPTS):
            try:
                response = await self.http.post(path, content=body, headers=headers)
            except httpx.TransportError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or attempt == MAX_ATTEMPTS - 1:
                    return response
                if stats is not None:
                    stats.statuses[response.status_code] += 1
            if stats is not None:
                stats.retries += 1
            await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
        raise AssertionError("unreachable")

    async def load(self, batches: Iterator[list[Message]]) -> LoadStats:
        """Send every batch through POST /v1/batch with `concurrency` requests in flight."""
        stats = LoadStats()

        async def worker() -> None:
            for batch in batches:  # a shared iterator: each batch goes to exactly one worker
                await self._send_batch(batch, stats)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        stats.seconds = time.perf_counter() - start
        return stats

    async def _send_batch(self, batch: list[Message], stats: LoadStats) -> None:
        stats.requests += 1
        stats.messages += len(batch)
        try:
            response = await self.post("/v1/batch", msgspec.json.encode({"batch": batch}), stats)
        except httpx.HTTPError as exc:
            stats.failed_requests += 1
            stats.note(f"transport error: {exc!r}")
            return
        stats.statuses[response.status_code] += 1
        if response.status_code != 200:
            stats.failed_requests += 1
            stats.note(f"{response.status_code}: {response.text}")
            return
        answer = response.json()
        rejected = answer.get("rejected") or []
        stats.accepted += int(answer.get("accepted", len(batch) - len(rejected)))
        stats.rejected += len(rejected)
        if rejected:
            stats.note(f"rejected: {rejected[:3]}")


class TimedClient:
    """One keep-alive connection through the standard library, for the requests whose latency
    is reported: httpx's async client added ~1.8 ms to every request on this machine (GET
    /healthz: 2.2 ms p50 through httpx, 0.46 ms through http.client), which would be measured
    as the server's."""

    def __init__(self, seam: SeamInstance) -> None:
        parts = urllib.parse.urlsplit(seam.url)
        self._conn = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=60
        )
        self._headers = {
            "Authorization": f"Bearer {seam.workspace.secret_key}",
            "Content-Type": "application/json",
        }

    def __enter__(self) -> TimedClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._conn.close()

    def request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[float, int, bytes]:
        """(seconds until the whole answer was read, status, body)."""
        start = time.perf_counter()
        self._conn.request(method, path, body=body, headers=self._headers)
        response = self._conn.getresponse()
        data = response.read()
        return time.perf_counter() - start, response.status, data

    def pages(
        self, params: dict[str, str], *, max_pages: int
    ) -> Iterator[tuple[float, list[dict[str, Any]]]]:
        """GET /v1/events page by page via next_cursor: yields (seconds, events) per page."""
        cursor: str | None = None
        for _ in range(max_pages):
            query = {**params, **({"cursor": cursor} if cursor else {})}
            elapsed, status, data = self.request(
                "GET", "/v1/events?" + urllib.parse.urlencode(query)
            )
            if status != 200:
                raise RuntimeError(f"GET /v1/events {query}: {status} {data[:500]!r}")
            body = msgspec.json.decode(data)
            yield elapsed, body["data"]
            cursor = body.get("next_cursor")
            if not cursor or not body["data"]:
                return
        raise RuntimeError(f"GET /v1/events {params}: more than {max_pages} pages")
