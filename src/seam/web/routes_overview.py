"""Overview: events per day, the share attributed to a contact, top pages, totals.

The aggregates cover a fixed window (30 days; top pages: the latest page views) but still
read every index entry of that window: about 0.2-0.6 s at a million events on SQLite. So the
page never waits for them once they exist: each workspace's overview is kept in memory and
recomputed in the background when older than a minute (stale-while-revalidate). Only the very
first view waits, for at most COLD_WAIT seconds; past that it shows a placeholder that
reloads itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
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

log = logging.getLogger("seam.web")

DAYS = 30
TOP_PAGES_SAMPLE = 5_000
CACHE_SECONDS = 60.0
COLD_WAIT = 2.0


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


@dataclass
class Slot:
    data: Overview | None = None
    at: float = 0.0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def _slots(request: Request) -> dict[str, Slot]:
    state: Any = request.app.state
    if not hasattr(state, "dashboard_overview"):
        state.dashboard_overview = {}
    slots: dict[str, Slot] = state.dashboard_overview
    return slots


async def _refresh(request: Request, ws: str, slot: Slot) -> None:
    try:
        slot.data = await read(request, lambda c: compute(c, ws))
        slot.at = time.monotonic()
    except Exception as exc:  # the next view tries again; the page keeps the old numbers
        log.warning("overview of %s failed: %r", ws, exc)


async def current_overview(request: Request, ws: str, *, force: bool) -> Overview | None:
    """The cached overview, refreshed in the background when stale; None while the first
    computation of a large workspace is still running."""
    slot = _slots(request).setdefault(ws, Slot())
    stale = slot.data is None or force or time.monotonic() - slot.at > CACHE_SECONDS
    if stale and (slot.task is None or slot.task.done()):
        slot.task = asyncio.create_task(_refresh(request, ws, slot))
    if slot.data is not None and not force:
        return slot.data
    assert slot.task is not None
    with contextlib.suppress(TimeoutError):  # then the placeholder page; the task goes on
        await asyncio.wait_for(asyncio.shield(slot.task), COLD_WAIT)
    return slot.data


async def overview(request: Request, ctx: Ctx) -> Response:
    data = await current_overview(request, ctx.ws.id, force="fresh" in request.query_params)
    if data is None:
        return render("overview_pending.html", base_context(ctx, "overview"))
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
