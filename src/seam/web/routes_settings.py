"""Workspace settings (domains, cookieless, identity verification, app JWT) and API keys."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from seam.api.browser import domain_problem
from seam.api.state import app_state
from seam.app_tokens import public_key_problem, secret_too_short
from seam.errors import NotFound
from seam.store import users
from seam.store import workspaces as ws_store
from seam.store.workspaces import ALL_SCOPES, WRITE_KEY_SCOPES
from seam.web.auth import Ctx, base_context, page, read
from seam.web.templating import render

MAX_FIELD = 20_000  # a PEM public key fits; nothing pasted by mistake grows the row unbounded


async def render_settings(request: Request, ctx: Ctx, status: int = 200, **extra: Any) -> Response:
    """The settings page: the workspace's keys and members as stored now, and `extra` (an
    error, a new key shown once)."""
    ws = ctx.ws.id
    keys, members = await read(request, lambda c: (ws_store.list_keys(c, ws), users.members(c, ws)))
    context = {
        **base_context(ctx, "settings"),
        "keys": keys,
        "members": members,
        "roles": users.ROLES,
        "all_scopes": ALL_SCOPES,
        "form_id": secrets.token_urlsafe(16),
        **extra,
    }
    return render("settings.html", context, status=status)


async def settings(request: Request, ctx: Ctx) -> Response:
    return await render_settings(request, ctx)


def _sentence(problem: str) -> str:
    return problem[0].upper() + problem[1:] + "."


def _changes(form: dict[str, str]) -> tuple[dict[str, Any], str | None]:
    """The workspace columns the settings form sets, or an error message."""
    # Lower-case as stored: host names compare case-insensitively with the page's origin.
    domains = [d.lower() for d in form.get("domains", "").replace(",", "\n").split()]
    for domain in domains:
        # A domain decides which sites may send events and identify visitors: `com` or `*`
        # would admit every site, and the value is shown back on pages.
        problem = domain_problem(domain)
        if problem:
            return {}, _sentence(problem)
    verification = form.get("identity_verification", "off")
    if verification not in ("off", "required"):
        return {}, "Identity verification is either off or required."
    changes: dict[str, Any] = {
        "domains": domains,
        "cookieless": form.get("cookieless") == "on",
        "identity_verification": verification,
        "jwt_issuer": form.get("jwt_issuer") or None,
        "jwt_audience": form.get("jwt_audience") or None,
    }
    # The secret is never shown again; an empty field keeps the stored value.
    if form.get("jwt_secret"):
        problem = secret_too_short(form["jwt_secret"])
        if problem:
            return {}, _sentence(problem)
        changes.update(jwt_secret=form["jwt_secret"], jwt_public_key=None)
    elif form.get("jwt_public_key"):
        # Saving a key replaces the HS256 secret: one that cannot verify tokens must not
        # silently end app sign-ins.
        problem = public_key_problem(form["jwt_public_key"])
        if problem:
            return {}, _sentence(problem)
        changes.update(jwt_public_key=form["jwt_public_key"], jwt_secret=None)
    elif form.get("jwt_clear") == "on":
        changes.update(jwt_secret=None, jwt_public_key=None)
    return changes, None


async def save_settings(request: Request, ctx: Ctx) -> Response:
    raw = await request.form()
    form = {k: v.strip()[:MAX_FIELD] for k, v in raw.items() if isinstance(v, str)}
    changes, error = _changes(form)
    if error:
        return await render_settings(request, ctx, 400, error=error)
    ws = ctx.ws.id
    await app_state(request).writer.run(lambda c: ws_store.update_workspace(c, ws, **changes))
    # Ingest caches workspaces for a second (settings.key_cache_seconds); that is the delay.
    return RedirectResponse(ctx.url("settings?done=saved"), status_code=303)


async def create_key(request: Request, ctx: Ctx) -> Response:
    form = await request.form()
    kind = "write" if form.get("kind") == "write" else "secret"
    scopes = [s for s in form.getlist("scopes") if s in ALL_SCOPES]
    if kind == "write":
        scopes = list(WRITE_KEY_SCOPES)
    ws = ctx.ws.id
    form_id = str(form.get("form_id") or "")
    problem = None
    if not form_id:
        problem = "This form is incomplete; reload the page and send it again."
    elif not scopes:
        problem = "Choose at least one scope."
    if problem:
        return await render_settings(request, ctx, 400, error=problem)
    # The answer holds the new key, so a reload re-sends the form: each form makes one key.
    made = await app_state(request).writer.run(
        lambda c: ws_store.create_key_once(c, ws, form_id=form_id, kind=kind, scopes=scopes)
    )
    if made is None:
        message = "This form was already sent and its key shown once; no new key was made."
        return await render_settings(request, ctx, 409, error=message)
    record, plain = made
    # Rendered, not redirected: the plain key exists only in this response.
    return await render_settings(request, ctx, new_key=plain, new_key_record=record)


async def revoke_key(request: Request, ctx: Ctx) -> Response:
    key_id = request.path_params["key_id"]
    ws = ctx.ws.id
    keys = await read(request, lambda c: ws_store.list_keys(c, ws))
    key = next((k for k in keys if k.id == key_id), None)
    if key is None:
        raise NotFound("key")
    form = await request.form() if request.method == "POST" else None
    if form is None or form.get("confirmed") != "yes":
        return render("revoke.html", {**base_context(ctx, "settings"), "key": key})
    await app_state(request).writer.run(lambda c: ws_store.revoke_key(c, key_id, workspace_id=ws))
    return RedirectResponse(ctx.url("settings?done=revoked"), status_code=303)


routes = [
    Route("/w/{ws}/settings", page(settings, admin_only=True), methods=["GET"]),
    Route("/w/{ws}/settings", page(save_settings, admin_only=True), methods=["POST"]),
    Route("/w/{ws}/keys", page(create_key, admin_only=True), methods=["POST"]),
    Route(
        "/w/{ws}/keys/{key_id}/revoke", page(revoke_key, admin_only=True), methods=["GET", "POST"]
    ),
]
