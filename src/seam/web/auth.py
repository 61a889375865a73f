"""Dashboard sign-in: argon2 passwords, server-side sessions, CSRF tokens, workspace access.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, so a
leaked database cannot be replayed as cookies. Each session has its own CSRF token, which every
POST form carries and `page` checks (synchronizer token). The sign-in form, which has no session
yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from seam.api.state import app_state
from seam.clock import now_us
from seam.errors import NotFound
from seam.secrets_compare import same_secret
from seam.store import users
from seam.store.workspaces import Workspace
from seam.web.templating import render

SESSION_COOKIE = "seam_session"
LOGIN_CSRF_COOKIE = "seam_login_csrf"
SESSION_SECONDS = 12 * 3600
HASHER = PasswordHasher()
# What `?done=` after a redirect says (a fixed table: the URL cannot inject text).
FLASH = {
    "moved": "The device was moved to this person.",
    "merged": "The contact was merged into this person.",
    "erased": "The person was erased.",
    "saved": "Settings saved.",
    "revoked": "The key was revoked.",
    "member_added": "The member was added.",
    "member_changed": "The member's role was changed.",
    "member_removed": "The member was removed.",
}
# Verified against when the email is unknown, so a wrong email costs as much as a wrong
# password and response times do not reveal which accounts exist.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


@dataclass(frozen=True)
class Ctx:
    """Who is asking and about which workspace; what every dashboard page renders with."""

    request: Request
    user: users.User
    csrf_token: str
    workspaces: list[Workspace]
    workspace: Workspace | None
    role: str | None = None  # the user's role in `workspace`

    @property
    def is_admin(self) -> bool:
        return self.role == users.ADMIN

    @property
    def ws(self) -> Workspace:
        assert self.workspace is not None
        return self.workspace

    def url(self, path: str = "") -> str:
        return f"/app/w/{self.ws.id}/{path}"


async def read(request: Request, work: Callable[[Connection], Any]) -> Any:
    """Run read-only database work off the event loop."""
    return await app_state(request).read(work)


def _session_and_memberships(
    conn: Connection, token: str
) -> tuple[users.SessionRow, list[tuple[Workspace, str]]] | None:
    found = users.session(conn, token_hash(token), now=now_us())
    if found is None:
        return None
    return found, users.memberships(conn, found.user.id)


def not_found(ctx: Ctx | None, what: str = "page") -> Response:
    context = base_context(ctx) if ctx else {"user": None}
    return render("not_found.html", {**context, "what": what}, status=404)


def base_context(ctx: Ctx, section: str = "") -> dict[str, Any]:
    return {
        "user": ctx.user,
        "csrf_token": ctx.csrf_token,
        "workspaces": ctx.workspaces,
        "workspace": ctx.workspace,
        "base": f"/app/w/{ctx.workspace.id}/" if ctx.workspace else "/app/",
        "is_admin": ctx.is_admin,
        "section": section,
        "path": ctx.request.url.path,
        "done": FLASH.get(ctx.request.query_params.get("done", "")),
    }


Handler = Callable[[Request, Ctx], Awaitable[Response]]


def page(handler: Handler, *, admin_only: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a dashboard endpoint: signed in (else to the sign-in page), a member of the
    workspace in the URL (else 404, the same answer as for a workspace that does not exist, so
    URLs reveal nothing), an admin of it for `admin_only` pages and for every POST (else 403),
    and a valid CSRF token on every POST (else 403)."""

    async def endpoint(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        found = await read(request, lambda c: _session_and_memberships(c, token)) if token else None
        if found is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/app/login?next={quote(target)}", status_code=303)
        session, memberships = found
        ws_id = request.path_params.get("ws")
        workspace, role = next(((w, r) for w, r in memberships if w.id == ws_id), (None, None))
        workspaces = [w for w, _ in memberships]
        ctx = Ctx(request, session.user, session.csrf_token, workspaces, workspace, role)
        if ws_id is not None and workspace is None:
            return not_found(ctx, "workspace")
        if workspace is not None and not ctx.is_admin and (admin_only or request.method == "POST"):
            return render("forbidden.html", {**base_context(ctx), "reason": "role"}, status=403)
        if request.method == "POST":
            form = await request.form()
            sent = form.get("csrf_token")
            if not isinstance(sent, str) or not same_secret(sent, session.csrf_token):
                return render("forbidden.html", {**base_context(ctx), "reason": "csrf"}, status=403)
        try:
            return await handler(request, ctx)
        except NotFound as exc:
            return not_found(ctx, exc.message)

    return endpoint


def _safe_next(raw: str | None) -> str:
    # Only paths inside the dashboard: an open redirect would make a phishing link look ours.
    if raw and raw.startswith("/app/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/app/"


def _login_page(
    request: Request, error: str | None = None, status: int = 200, *, retry_after: int = 0
) -> Response:
    csrf = secrets.token_urlsafe(24)
    response = render(
        "login.html",
        {
            "user": None,
            "csrf_token": csrf,
            "error": error,
            "next": _safe_next(request.query_params.get("next")),
        },
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        csrf,
        path="/app/login",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def login_form(request: Request) -> Response:
    return _login_page(request)


async def login(request: Request) -> Response:
    form = await request.form()
    sent, cookie = form.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)
    if not (isinstance(sent, str) and cookie and same_secret(sent, cookie)):
        return _login_page(request, "Your sign-in form expired. Please try again.", 403)
    email = str(form.get("email") or "").strip().lower()
    password = str(form.get("password") or "")
    next_url = _safe_next(str(form.get("next") or ""))
    state = app_state(request)
    tried = token_hash(email)

    def lookup(conn: Connection) -> tuple[users.User | None, int]:
        locked_until = users.sign_in_locked_until(conn, tried)
        if locked_until > now_us():  # refused before the password costs any work
            return None, locked_until
        return users.by_email(conn, email), 0

    def check() -> tuple[users.User | None, int]:
        user, locked_until = state.db.read(lookup)
        if locked_until:
            return None, locked_until
        ok = verify_password(user.password_hash if user else None, password)
        return (user if ok else None), 0

    user, locked_until = await run_in_threadpool(check)
    if locked_until:
        wait = max(1, (locked_until - now_us() + 999_999) // 1_000_000)
        return _login_page(
            request, f"Too many failed sign-ins. Try again in {wait} s.", 429, retry_after=wait
        )
    if user is None:
        await state.writer.run(lambda c: users.record_sign_in_failure(c, tried, now=now_us()))
        return _login_page(request, "Wrong email or password.", 401)
    await state.writer.run(lambda c: users.clear_sign_in_failures(c, tried))
    token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), now_us()
    await state.writer.run(
        lambda conn: users.create_session(
            conn,
            token_hash(token),
            user.id,
            csrf,
            now=now,
            expires_at=now + SESSION_SECONDS * 1_000_000,
        )
    )
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_SECONDS,
        path="/app",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/app/login")
    return response


async def _logout(request: Request, ctx: Ctx) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    await app_state(request).writer.run(lambda conn: users.delete_session(conn, token_hash(token)))
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/app")
    return response


logout = page(_logout)
