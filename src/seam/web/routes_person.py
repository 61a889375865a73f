"""A person's page: traits with their provenance, identifiers, devices, and the timeline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seam.errors import NotFound
from seam.store import dashboard, reads, timelines
from seam.web.auth import Ctx, base_context, page, read
from seam.web.paging import cursor_parts, encode_cursor, int64
from seam.web.templating import render
from seam.web.timeline import audit_view, event_view, group_sessions

TIMELINE_PAGE = 100


def person_data(
    conn: Connection, ws: str, contact_id: str, after: tuple[int, int] | None
) -> dict[str, Any] | None:
    view = reads.contact_view(conn, ws, contact_id)
    if view is None:
        return None
    rows = timelines.find(
        conn,
        ws,
        timelines.EventQuery(contact_id=contact_id, limit=TIMELINE_PAGE, after=after),
    )
    derived = timelines.missing_durations(conn, ws, rows)
    devices = [v.anonymous_id for v in view.visitors]
    entries = [audit_view(r) for r in dashboard.audit_of_person(conn, ws, contact_id, devices)]
    events = [event_view(r, derived, entries) for r in rows]
    return {
        "contact": view.row,
        "name": dashboard.person_name(view.traits),
        "traits": sorted(view.traits.items()),
        "trait_meta": view.trait_meta,
        "identifiers": view.identifiers,
        "devices": view.visitors,
        "event_count": view.event_count,
        "groups": view.groups,
        "sessions": group_sessions(events),
        "audit": entries[:30],
        "next_cursor": (
            encode_cursor(rows[-1].timestamp, rows[-1].id) if len(rows) == TIMELINE_PAGE else None
        ),
    }


async def person(request: Request, ctx: Ctx) -> Response:
    contact_id = request.path_params["contact_id"]
    parts = cursor_parts(request, 2)
    at, last_id = (int64(parts[0]), int64(parts[1])) if parts else (None, None)
    after = (at, last_id) if at is not None and last_id is not None else None
    found = await read(request, lambda c: person_data(c, ctx.ws.id, contact_id, after))
    if found is None:
        raise NotFound("person")
    return render("person.html", {**base_context(ctx, "people"), **found})


routes = [
    Route("/w/{ws}/people/{contact_id}", page(person), methods=["GET"]),
]
