"""The dashboard's routes, mounted at /app (see seam.app)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from seam.web import (
    routes_actions,
    routes_identity,
    routes_members,
    routes_overview,
    routes_people,
    routes_person,
    routes_settings,
)
from seam.web.auth import Ctx, base_context, login, login_form, logout, not_found, page
from seam.web.templating import render

STATIC = Path(__file__).resolve().parent / "static"


async def home(request: Request, ctx: Ctx) -> Response:
    """The first workspace's overview (or a note when the user belongs to none)."""
    if not ctx.workspaces:
        return render("no_workspace.html", base_context(ctx))
    return RedirectResponse(f"/app/w/{ctx.workspaces[0].id}/", status_code=303)


async def switch(request: Request, ctx: Ctx) -> Response:
    """The workspace switcher (a GET form, so it works without JavaScript)."""
    wanted = request.query_params.get("ws", "")
    section = request.query_params.get("section", "")
    if section not in ("", "people", "visitors", "identity", "settings"):
        section = ""
    if not any(w.id == wanted for w in ctx.workspaces):
        return await home(request, ctx)
    return RedirectResponse(f"/app/w/{wanted}/{section}", status_code=303)


async def unknown(request: Request, ctx: Ctx) -> Response:
    """Any other dashboard address: a page saying so, in the dashboard (an API-style JSON
    error is no answer for a person who followed an old link or mistyped)."""
    return not_found(ctx, "page")


async def workspace_root(request: Request) -> Response:
    return RedirectResponse(f"/app/w/{request.path_params['ws']}/", status_code=307)


def mount() -> Mount:
    return Mount(
        "/app",
        routes=[
            Route("/", page(home), methods=["GET"]),
            Route("/login", login_form, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/switch", page(switch), methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC), name="dashboard-static"),
            Route("/w/{ws}", workspace_root, methods=["GET"]),
            *routes_overview.routes,
            *routes_people.routes,
            *routes_actions.routes,
            *routes_person.routes,
            *routes_identity.routes,
            *routes_settings.routes,
            *routes_members.routes,
            Route("/{path:path}", page(unknown), methods=["GET"]),
        ],
    )
