"""Overview: events per day, the share attributed to a contact, top pages, totals.

The aggregates cover a fixed window (30 days; top pages: the latest page views) and are kept
for a short while per workspace, so a busy team reloading the overview costs one aggregation
per minute, not one per view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seam.clock import now_us
from seam.store import dashboard
from seam.store.dashboard import DAY_US
from seam.web import charts
from seam.web.auth import Ctx, base_context, page, read
from seam.web.templating import number, render

DAYS = 30
TOP_PAGES_SAMPLE = 10_000
CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Overview:
    days: list[dashboard.DayCount]
    pages: list[tuple[str, int]]
    totals: dashboard.Totals
    computed_at: int


def compute(conn: Connection, ws: str) -> Overview:
    now = now_us()
    today = now - now % DAY_US
    since = today - (DAYS - 1) * DAY_US
    return Overview(
        days=dashboard.daily_counts(conn, ws, since=since, until=today + DAY_US),
        pages=dashboard.top_pages(conn, ws, since=since, sample=TOP_PAGES_SAMPLE, limit=10),
        totals=dashboard.totals(conn, ws),
        computed_at=now,
    )


def _cache(request: Request) -> dict[str, tuple[float, Overview]]:
    state: Any = request.app.state
    if not hasattr(state, "dashboard_overview"):
        state.dashboard_overview = {}
    cache: dict[str, tuple[float, Overview]] = state.dashboard_overview
    return cache


async def overview(request: Request, ctx: Ctx) -> Response:
    cache = _cache(request)
    hit = cache.get(ctx.ws.id)
    if hit is None or time.monotonic() - hit[0] > CACHE_SECONDS or "fresh" in request.query_params:
        data = await read(request, lambda c: compute(c, ctx.ws.id))
        cache[ctx.ws.id] = (time.monotonic(), data)
    else:
        data = hit[1]
    bars = [
        charts.Bar(
            charts.day_label(d.day_start),
            d.events,
            d.attributed,
            f"{charts.day_label(d.day_start)}: {number(d.events)} events, "
            f"{number(d.attributed)} attributed",
        )
        for d in data.days
    ]
    share = [
        (
            charts.day_label(d.day_start),
            100 * d.attributed / d.events if d.events else None,
            f"{charts.day_label(d.day_start)}: "
            + (f"{100 * d.attributed / d.events:.1f}% attributed" if d.events else "no events"),
        )
        for d in data.days
    ]
    total_events = sum(d.events for d in data.days)
    attributed = sum(d.attributed for d in data.days)
    top = data.pages[0][1] if data.pages else 1
    return render(
        "overview.html",
        {
            **base_context(ctx, "overview"),
            "data": data,
            "total_events": total_events,
            "attributed_share": (100 * attributed / total_events) if total_events else None,
            "events_chart": charts.stacked_bars(
                bars,
                title=f"Events per day, last {DAYS} days",
                desc="Bars are all events of a day; the darker part is attributed to a contact.",
                css="events-chart",
            ),
            "share_chart": charts.share_line(
                share,
                title="Share of events attributed to a contact",
                desc="Percentage of each day's events that belong to a known contact.",
                css="share-chart",
            ),
            "pages": [(p, n, charts.meter(n / top, f"{n} views")) for p, n in data.pages],
            "sample": TOP_PAGES_SAMPLE,
            "days": DAYS,
        },
    )


routes = [Route("/w/{ws}/", page(overview), methods=["GET"])]
