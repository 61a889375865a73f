"""The service's own documents: /openapi.json, /metrics, /seam.js."""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seam.clock import now_us
from seam.errors import NotFound

from .auth import require
from .envelope import JSON
from .openapi import document
from .state import app_state

TRACKER_DIR = Path(__file__).resolve().parent.parent / "tracker"


@cache
def tracker() -> tuple[bytes, bytes, str]:
    """The script, gzipped once (it loads on every page of every site: 3.6 KB instead of
    7.7), and its version tag."""
    for name in ("seam.min.js", "seam.js"):
        path = TRACKER_DIR / name
        if path.exists():
            body = path.read_bytes()
            return body, gzip.compress(body, 9, mtime=0), hashlib.sha256(body).hexdigest()[:16]
    raise NotFound("the tracker is not built")


async def seam_js(request: Request) -> Response:
    body, gzipped, version = tracker()
    compressed = "gzip" in request.headers.get("accept-encoding", "").lower()
    etag = f'"{version}-gzip"' if compressed else f'"{version}"'
    headers = {
        "Cache-Control": "public, max-age=3600",
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "Access-Control-Allow-Origin": "*",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if compressed:
        headers["Content-Encoding"] = "gzip"
    return Response(
        gzipped if compressed else body, media_type="application/javascript", headers=headers
    )


async def openapi(request: Request) -> Response:
    return JSON(document())


async def metrics(request: Request) -> Response:
    state = app_state(request)
    if not state.settings.metrics_enabled:
        raise NotFound("metrics are disabled; start with SEAM_METRICS=1")
    await require(request, "admin")
    stats = state.writer.stats
    lag_from = state.enrichment_passed_at or state.started_at
    lines = [
        "# TYPE seam_requests_total counter",
        *(
            f'seam_requests_total{{status="{k[9:]}"}} {v}'
            for k, v in sorted(state.counters.items())
            if k.startswith("requests_")
        ),
        "# TYPE seam_events_accepted_total counter",
        f"seam_events_accepted_total {state.counters.get('events_accepted', 0)}",
        "# TYPE seam_events_rejected_total counter",
        f"seam_events_rejected_total {state.counters.get('events_rejected', 0)}",
        "# TYPE seam_events_enriched_total counter",
        f"seam_events_enriched_total {state.counters.get('events_enriched', 0)}",
        "# TYPE seam_commit_seconds summary",
        f"seam_commit_seconds_sum {stats.commit_seconds_total:.6f}",
        f"seam_commit_seconds_count {stats.transactions}",
        "# TYPE seam_commit_batch_messages summary",
        f"seam_commit_batch_messages_sum {stats.messages}",
        f"seam_commit_batch_messages_count {stats.transactions}",
        "# TYPE seam_enrichment_pass_seconds gauge",
        f"seam_enrichment_pass_seconds {state.enrichment_pass_seconds:.6f}",
        # How stale stored attributions of raced events may be: since the last pass began
        # (since startup before the first one).
        "# TYPE seam_enrichment_lag_seconds gauge",
        f"seam_enrichment_lag_seconds {(now_us() - lag_from) / 1e6:.6f}",
    ]
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


routes = [
    Route("/seam.js", seam_js, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
