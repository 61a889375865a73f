"""People: the searchable contact list, the anonymous visitors list and a visitor's page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seam.errors import NotFound
from seam.store import audit, dashboard, timelines, visitors
from seam.web.auth import Ctx, base_context, page, read
from seam.web.paging import cursor_parts, encode_cursor, int64, text_param
from seam.web.templating import render
from seam.web.timeline import audit_view, event_view, group_sessions

PAGE_SIZE = 50


def _before(parts: list[str] | None) -> tuple[int, str] | None:
    """Where a list sorted by (time, id) descending continues; a mangled cursor restarts it."""
    at = int64(parts[0]) if parts else None
    return (at, parts[1]) if parts and at is not None else None


async def people(request: Request, ctx: Ctx) -> Response:
    q = text_param(request, "q")
    parts = cursor_parts(request, 2)
    before = _before(parts)
    rows = await read(
        request,
        lambda c: dashboard.people(c, ctx.ws.id, q=q, before=before, limit=PAGE_SIZE),
    )
    next_cursor = (
        encode_cursor(rows[-1].created_at, rows[-1].id) if len(rows) == PAGE_SIZE else None
    )
    return render(
        "people.html",
        {**base_context(ctx, "people"), "people": rows, "q": q or "", "next_cursor": next_cursor},
    )


async def visitor_list(request: Request, ctx: Ctx) -> Response:
    parts = cursor_parts(request, 2)
    before = _before(parts)

    def work(conn: Connection) -> tuple[list[Any], dict[str, int]]:
        rows = dashboard.anonymous_visitors(conn, ctx.ws.id, before=before, limit=PAGE_SIZE)
        counts = timelines.event_counts_of_devices(conn, ctx.ws.id, [r.anonymous_id for r in rows])
        return rows, counts

    rows, counts = await read(request, work)
    next_cursor = (
        encode_cursor(rows[-1].last_seen, rows[-1].anonymous_id) if len(rows) == PAGE_SIZE else None
    )
    return render(
        "visitors.html",
        {
            **base_context(ctx, "visitors"),
            "visitors": rows,
            "counts": counts,
            "next_cursor": next_cursor,
        },
    )


async def visitor_page(request: Request, ctx: Ctx) -> Response:
    """One device: its binding and its latest events (a bound visitor links to its person)."""
    # "." and ".." cannot be path segments (browsers resolve them): they come as ?anonymous_id=.
    anonymous_id = request.path_params["anonymous_id"] or request.query_params.get(
        "anonymous_id", ""
    )
    ws = ctx.ws.id

    def work(conn: Connection) -> dict[str, Any] | None:
        row = visitors.get(conn, ws, anonymous_id)
        if row is None:
            return None
        rows = timelines.find(conn, ws, timelines.EventQuery(anonymous_id=anonymous_id, limit=100))
        derived = timelines.missing_durations(conn, ws, rows)
        return {
            "visitor": row,
            "groups": group_sessions([event_view(r, derived, []) for r in rows]),
            "audit": dashboard_audit(conn, ws, anonymous_id),
        }

    found = await read(request, work)
    if found is None:
        raise NotFound("visitor")
    return render("visitor.html", {**base_context(ctx, "visitors"), **found})


def dashboard_audit(conn: Connection, ws: str, anonymous_id: str) -> list[Any]:
    return [audit_view(r) for r in audit.query(conn, ws, anonymous_id=anonymous_id, limit=50)]


routes = [
    Route("/w/{ws}/people", page(people), methods=["GET"]),
    Route("/w/{ws}/visitors", page(visitor_list), methods=["GET"]),
    Route("/w/{ws}/visitors/{anonymous_id:path}", page(visitor_page), methods=["GET"]),
]
