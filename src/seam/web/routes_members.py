"""Who may use a workspace's dashboard: its admins add existing accounts as members, change
their roles and remove them. A workspace always keeps an admin."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from seam.api.state import app_state
from seam.errors import NotFound
from seam.store import users
from seam.web.auth import Ctx, page, read
from seam.web.routes_settings import render_settings

LAST_ADMIN = (
    "A workspace needs an admin: make another member admin before changing this one's role "
    "or removing them."
)


async def add_member(request: Request, ctx: Ctx) -> Response:
    form = await request.form()
    email = str(form.get("email") or "").strip().lower()
    role = str(form.get("role") or "")
    if role not in users.ROLES:
        return await render_settings(request, ctx, 400, error="Choose admin or viewer.")
    account = await read(request, lambda c: users.by_email(c, email)) if email else None
    if account is None:
        # Accounts are made with `seam user create`, which sets their password.
        problem = "No account has that email; create it with `seam user create` first."
        return await render_settings(request, ctx, 400, error=problem)
    return await _set_role(request, ctx, account.id, role, "member_added", add=True)


async def change_member(request: Request, ctx: Ctx) -> Response:
    user_id = request.path_params["user_id"]
    form = await request.form()
    if form.get("remove") == "yes":
        return await _set_role(request, ctx, user_id, None, "member_removed")
    role = str(form.get("role") or "")
    if role not in users.ROLES:
        return await render_settings(request, ctx, 400, error="Choose admin or viewer.")
    return await _set_role(request, ctx, user_id, role, "member_changed")


async def _set_role(
    request: Request, ctx: Ctx, user_id: str, role: str | None, done: str, *, add: bool = False
) -> Response:
    ws = ctx.ws.id
    outcome = await app_state(request).writer.run(
        lambda c: users.set_role(c, ws, user_id, role, add=add)
    )
    if outcome == "not_a_member":  # or another admin removed them meanwhile
        raise NotFound("member")
    if outcome == "last_admin":
        return await render_settings(request, ctx, 409, error=LAST_ADMIN)
    if user_id == ctx.user.id and role != users.ADMIN:
        # Their own settings page is no longer theirs to see.
        return RedirectResponse("/app/", status_code=303)
    return RedirectResponse(ctx.url(f"settings?done={done}#members"), status_code=303)


routes = [
    Route("/w/{ws}/members", page(add_member, admin_only=True), methods=["POST"]),
    Route("/w/{ws}/members/{user_id}", page(change_member, admin_only=True), methods=["POST"]),
]
