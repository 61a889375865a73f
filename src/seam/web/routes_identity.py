"""The identity log: every identity decision, filterable, with refusals and conflicts marked."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seam.store import audit
from seam.web.auth import Ctx, base_context, page, read
from seam.web.paging import int64, text_param
from seam.web.templating import render
from seam.web.timeline import audit_view

PAGE_SIZE = 100
ACTIONS = (
    "contact_created",
    "external_id_bound",
    "visitor_bound",
    "visitor_bind_refused",
    "identifier_conflict",
    "identity_unverified",
    "visitor_moved",
    "contacts_merged",
    "contact_erased",
)


async def identity_log(request: Request, ctx: Ctx) -> Response:
    action = text_param(request, "action", 32)
    contact_id = text_param(request, "contact_id", 64)
    anonymous_id = text_param(request, "anonymous_id")
    before_raw = request.query_params.get("before", "")
    before_id = int64(before_raw)
    rows = await read(
        request,
        lambda c: audit.query(
            c,
            ctx.ws.id,
            contact_id=contact_id,
            anonymous_id=anonymous_id,
            action=action,
            before_id=before_id,
            limit=PAGE_SIZE,
        ),
    )
    entries = [audit_view(r) for r in rows]
    return render(
        "identity.html",
        {
            **base_context(ctx, "identity"),
            "entries": entries,
            "actions": ACTIONS,
            "action": action or "",
            "contact_id": contact_id or "",
            "anonymous_id": anonymous_id or "",
            "next_before": entries[-1].id if len(entries) == PAGE_SIZE else None,
        },
    )


routes = [Route("/w/{ws}/identity", page(identity_log), methods=["GET"])]
