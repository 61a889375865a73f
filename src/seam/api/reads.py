"""Reading: events, contacts, visitors, audit and quarantine (SPEC §7, §8)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seam.errors import BadRequest, NotFound
from seam.identity.normalize import normalize_email, normalize_linkedin, normalize_phone
from seam.store import audit as audit_repo
from seam.store import quarantine as quarantine_repo
from seam.store import reads, timelines, visitors

from . import params, render
from .auth import require
from .envelope import JSON
from .state import app_state


async def list_events(request: Request) -> Response:
    principal = await require(request, "events:read")
    ws = principal.workspace.id
    q = timelines.EventQuery(
        contact_id=params.text(request, "contact_id"),
        anonymous_id=params.text(request, "anonymous_id"),
        session_id=params.text(request, "session_id"),
        identified_only=params.boolean(request, "identified_only") or False,
        types=params.text_list(request, "type"),
        since=params.timestamp(request, "since"),
        until=params.timestamp(request, "until"),
        descending=params.choice(request, "order", ("desc", "asc"), "desc") == "desc",
        limit=params.limit(request),
    )
    if not (q.contact_id or q.anonymous_id or q.session_id or q.since is not None):
        raise BadRequest(
            "give at least one of contact_id, anonymous_id, session_id, since",
            code="missing_filter",
        )
    cursor = params.text(request, "cursor")
    if cursor:
        ts, last_id = render.decode_cursor(cursor, 2)
        after = (render.cursor_number(ts, negative=True), render.cursor_number(last_id))
        q = timelines.EventQuery(**{**q.__dict__, "after": after})

    def work(conn: Any) -> tuple[list[Any], dict[int, int]]:
        rows = timelines.find(conn, ws, q)
        return rows, timelines.missing_durations(conn, ws, rows)

    rows, durations = await app_state(request).read(work)
    next_cursor = (
        render.encode_cursor(rows[-1].timestamp, rows[-1].id) if len(rows) == q.limit else None
    )
    return JSON({"data": [render.event(r, durations) for r in rows], "next_cursor": next_cursor})


async def get_contact(request: Request) -> Response:
    principal = await require(request, "contacts:read")
    contact_id = request.path_params["contact_id"]
    ws = principal.workspace.id
    view = await app_state(request).read(lambda c: reads.contact_view(c, ws, contact_id))
    if view is None:
        raise NotFound("no such contact")
    return JSON({"data": render.contact(view)})


async def list_contacts(request: Request) -> Response:
    principal = await require(request, "contacts:read")
    ws = principal.workspace
    identifier: tuple[str, str] | None = None
    for kind, normalize in (
        ("email", normalize_email),
        ("phone", lambda v: normalize_phone(v, ws.default_region)),
        ("linkedin_url", normalize_linkedin),
    ):
        raw = params.text(request, kind)
        if raw is not None:
            identifier = (kind, normalize(raw) or raw)
    before: tuple[int, str] | None = None
    cursor = params.text(request, "cursor")
    if cursor:
        created, cid = render.decode_cursor(cursor, 2)
        before = (render.cursor_number(created), cid)
    limit = params.limit(request, default=50, maximum=500)
    rows = await app_state(request).read(
        lambda c: reads.find_contacts(
            c,
            ws.id,
            external_id=params.text(request, "external_id"),
            identifier=identifier,
            q=params.text(request, "q"),
            before=before,
            limit=limit,
        ),
    )
    next_cursor = (
        render.encode_cursor(rows[-1].created_at, rows[-1].id) if len(rows) == limit else None
    )
    return JSON({"data": [render.contact_summary(r) for r in rows], "next_cursor": next_cursor})


async def get_visitor(request: Request) -> Response:
    principal = await require(request, "contacts:read")
    ws = principal.workspace.id
    anonymous_id = request.path_params["anonymous_id"]

    def work(conn: Any) -> tuple[Any, int, Any]:
        row = visitors.get(conn, ws, anonymous_id)
        if row is None:
            return None, 0, None
        count = timelines.count_for_visitor(conn, ws, anonymous_id)
        contact = reads.contact_view(conn, ws, row.contact_id) if row.contact_id else None
        return row, count, contact

    row, count, contact = await app_state(request).read(work)
    if row is None:
        raise NotFound("this visitor was never seen")
    return JSON(
        {
            "data": {
                **render.visitor_binding(row),
                "contact_id": row.contact_id,
                "contact": render.contact(contact) if contact else None,
                "event_count": count,
            }
        }
    )


def _row_id_cursor(request: Request) -> int | None:
    """The row id a list of audit or quarantine rows continues from."""
    cursor = params.text(request, "cursor")
    if not cursor:
        return None
    (raw_id,) = render.decode_cursor(cursor, 1)
    return render.cursor_number(raw_id)


async def list_audit(request: Request) -> Response:
    principal = await require(request, "contacts:read")
    limit = params.limit(request)
    before_id = _row_id_cursor(request)
    rows = await app_state(request).read(
        lambda c: audit_repo.query(
            c,
            principal.workspace.id,
            contact_id=params.text(request, "contact_id"),
            anonymous_id=params.text(request, "anonymous_id"),
            action=params.text(request, "action"),
            before_id=before_id,
            limit=limit,
        ),
    )
    next_cursor = render.encode_cursor(rows[-1].id) if len(rows) == limit else None
    return JSON({"data": [render.audit_entry(r) for r in rows], "next_cursor": next_cursor})


async def list_quarantine(request: Request) -> Response:
    principal = await require(request, "admin")
    limit = params.limit(request)
    since = params.timestamp(request, "since")
    after_id = _row_id_cursor(request)
    rows = await app_state(request).read(
        lambda c: quarantine_repo.query(
            c, principal.workspace.id, since=since, after_id=after_id, limit=limit
        ),
    )
    next_cursor = render.encode_cursor(rows[-1].id) if len(rows) == limit else None
    return JSON({"data": [render.quarantined(r) for r in rows], "next_cursor": next_cursor})


routes = [
    Route("/v1/events", list_events, methods=["GET"]),
    Route("/v1/contacts", list_contacts, methods=["GET"]),
    Route("/v1/contacts/{contact_id}", get_contact, methods=["GET"]),
    Route("/v1/visitors/{anonymous_id:path}", get_visitor, methods=["GET"]),
    Route("/v1/audit", list_audit, methods=["GET"]),
    Route("/v1/quarantine", list_quarantine, methods=["GET"]),
]
