"""Admin actions on a person (SPEC §8): move a device, merge a contact in, erase.

Each is two steps: a form (or the button) posts without `confirmed`, which renders a
confirmation page saying exactly what will happen; only the confirmation's own POST acts.
Both POSTs carry the session's CSRF token. The audit rows name the dashboard user as
`key_id = "user:<id>"`, so the identity log says who did it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from seam import operations
from seam.api.state import app_state
from seam.errors import NotFound, SeamError
from seam.identity.merge import plan_merge
from seam.identity.resolve import ContactRef
from seam.store import dashboard, reads, visitors
from seam.web.auth import Ctx, base_context, page, read
from seam.web.templating import render, segment


def _actor(ctx: Ctx) -> str:
    return f"user:{ctx.user.id}"


def _summary(conn: Connection, ws: str, contact_id: str) -> dict[str, Any] | None:
    view = reads.contact_view(conn, ws, contact_id)
    if view is None:
        return None
    return {
        "id": view.row.id,
        "external_id": view.row.external_id,
        "email": view.identifiers.get("email"),
        "devices": len(view.visitors),
        "events": view.event_count,
    }


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


async def move(request: Request, ctx: Ctx) -> Response:
    ws, contact_id = ctx.ws.id, request.path_params["contact_id"]
    form = await _form(request) if request.method == "POST" else {}
    anonymous_id = form.get("anonymous_id") or request.query_params.get("anonymous_id", "")
    target_ref = form.get("target", "")

    def load(conn: Connection) -> dict[str, Any] | None:
        source = _summary(conn, ws, contact_id)
        device = visitors.get(conn, ws, anonymous_id) if anonymous_id else None
        if source is None or device is None or device.contact_id != contact_id:
            return None
        target_id = dashboard.find_contact_id(conn, ws, target_ref) if target_ref else None
        target = _summary(conn, ws, target_id) if target_id else None
        return {"source": source, "device": device, "target": target}

    found = await read(request, load)
    if found is None:
        raise NotFound("device")
    context = {
        **base_context(ctx, "people"),
        **found,
        "target_ref": target_ref,
        "anonymous_id": anonymous_id,
    }
    if request.method == "GET" or found["target"] is None or found["target"]["id"] == contact_id:
        if request.method == "POST":
            context["error"] = (
                "That is already this person." if found["target"] else "No such contact."
            )
        return render("move.html", context, status=400 if "error" in context else 200)
    if form.get("confirmed") != "yes":
        return render("move.html", {**context, "confirm": True})
    target_id = found["target"]["id"]
    await app_state(request).writer.run(
        lambda conn: operations.move_visitor(conn, ws, anonymous_id, target_id, _actor(ctx))
    )
    return RedirectResponse(ctx.url(f"people/{segment(target_id)}?done=moved"), status_code=303)


async def merge(request: Request, ctx: Ctx) -> Response:
    ws, contact_id = ctx.ws.id, request.path_params["contact_id"]
    form = await _form(request) if request.method == "POST" else {}
    other_ref = form.get("other", "")

    def load(conn: Connection) -> dict[str, Any] | None:
        into = _summary(conn, ws, contact_id)
        if into is None:
            return None
        other_id = dashboard.find_contact_id(conn, ws, other_ref) if other_ref else None
        return {"into": into, "other": _summary(conn, ws, other_id) if other_id else None}

    found = await read(request, load)
    if found is None:
        raise NotFound("person")
    context = {**base_context(ctx, "people"), **found, "other_ref": other_ref}
    other = found["other"]
    if request.method == "POST":
        if other is None:
            context["error"] = "No such contact."
        else:
            # Checked before the confirmation, so nobody confirms a merge that cannot happen.
            plan = plan_merge(
                ContactRef(contact_id, found["into"]["external_id"]),
                ContactRef(other["id"], other["external_id"]),
            )
            if not plan.allowed:
                context["error"] = f"These contacts cannot be merged: {plan.reason}."
    if request.method == "GET" or "error" in context:
        return render("merge.html", context, status=400 if "error" in context else 200)
    if form.get("confirmed") != "yes":
        return render("merge.html", {**context, "confirm": True})
    try:
        await app_state(request).writer.run(
            lambda conn: operations.merge_contacts(conn, ws, contact_id, other["id"], _actor(ctx))
        )
    except SeamError as exc:
        if isinstance(exc, NotFound):
            raise
        return render("merge.html", {**context, "error": exc.message}, status=exc.status)
    return RedirectResponse(ctx.url(f"people/{segment(contact_id)}?done=merged"), status_code=303)


async def erase(request: Request, ctx: Ctx) -> Response:
    ws, contact_id = ctx.ws.id, request.path_params["contact_id"]
    summary = await read(request, lambda c: _summary(c, ws, contact_id))
    if summary is None:
        raise NotFound("person")
    form = await _form(request) if request.method == "POST" else {}
    if form.get("confirmed") != "yes":
        return render("erase.html", {**base_context(ctx, "people"), "contact": summary})
    await app_state(request).writer.run(
        lambda conn: operations.erase_contact(conn, ws, contact_id, _actor(ctx))
    )
    return RedirectResponse(ctx.url("people?done=erased"), status_code=303)


# Each changes who someone is: for the workspace's admins only.
routes = [
    Route(
        f"/w/{{ws}}/people/{{contact_id}}/{name}",
        page(action, admin_only=True),
        methods=["GET", "POST"],
    )
    for name, action in (("move", move), ("merge", merge), ("erase", erase))
]
