"""What only browser traffic needs: origin checks, CORS, cookieless fingerprints."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from seam.errors import Forbidden
from seam.store.salts import salt_for
from seam.store.workspaces import Workspace

from .state import AppState


def request_origin(request: Request) -> tuple[str, str] | None:
    """(origin as sent, host) from the Origin header, else from the Referer."""
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value and value != "null":
            parts = urlsplit(value)
            if parts.scheme and parts.hostname:
                return f"{parts.scheme}://{parts.netloc}", parts.hostname.lower()
    return None


def host_allowed(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def allowed_origin(request: Request, workspace: Workspace) -> str:
    found = request_origin(request)
    if found is None or not host_allowed(found[1], workspace.domains):
        raise Forbidden(
            "this origin is not one of the workspace's domains", code="forbidden_origin"
        )
    return found[0]


def cors_headers(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Authorization",
        "Access-Control-Max-Age": "86400",
        "Vary": "Origin",
    }


def client_ip(request: Request) -> str:
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else ""


async def fingerprint(state: AppState, request: Request, workspace: Workspace) -> str:
    """The anonymous id of a cookieless visitor: hash of the day's salt, the workspace, the IP
    and the user agent. It changes daily and cannot be reversed once the salt is gone."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    cached = state.salt
    if cached is None or cached[0] != day:

        def read() -> str:
            with state.db.writer.begin() as conn:
                return salt_for(conn, day)

        cached = state.salt = (day, await run_in_threadpool(read))
    material = "\x1f".join(
        (cached[1], workspace.id, client_ip(request), request.headers.get("user-agent", ""))
    )
    return "fp_" + hashlib.sha256(material.encode()).hexdigest()[:32]
