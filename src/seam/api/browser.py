"""What only browser traffic needs: origin checks, CORS, cookieless fingerprints."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from seam.errors import Forbidden
from seam.store.salts import salt_for
from seam.store.workspaces import Workspace

from .state import AppState

# A web page's origin: what a browser sends from a site (never chrome-extension:, file:, ...).
WEB_SCHEMES = ("http", "https")
_LABEL = re.compile(r"[a-z0-9-]+")


def request_origin(request: Request) -> tuple[str, str] | None:
    """(origin as sent, host) from the Origin header, else (no Origin, or the opaque "null")
    from the Referer; None when that is not a web origin."""
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value and value != "null":
            return web_origin(value)
    return None


def web_origin(value: str) -> tuple[str, str] | None:
    """(scheme://host[:port], host) of an http(s) URL whose host is a hostname and whose port,
    if any, is valid; None for anything else, which no workspace domain can match."""
    try:
        parts = urlsplit(value)
        port = parts.port  # raises for a port that is not a number in 0-65535
    except ValueError:  # also a malformed netloc ("[", unicode that normalizes to "/")
        return None
    host = parts.hostname or ""
    if (
        parts.scheme.lower() not in WEB_SCHEMES
        or parts.username is not None
        or port == 0
        or not is_hostname(host)
    ):
        return None
    return f"{parts.scheme}://{parts.netloc}", host


def is_hostname(host: str) -> bool:
    """Dot-separated labels of letters, digits and hyphens (lower case, as urlsplit gives the
    host), none empty: so "evil.com\\.example.com" or ".example.com" match no domain."""
    return all(_LABEL.fullmatch(label) for label in host.split("."))


def domain_problem(domain: str) -> str | None:
    """Why `domain` cannot be a workspace domain (the tracker's pages are on it or its
    subdomains), or None. A bare top-level domain would admit every site under it."""
    if not domain or len(domain) > 253 or not is_hostname(domain.lower()):
        return f"{domain!r} is not a host name such as example.com (no scheme, port or path)"
    if "." not in domain and domain.lower() != "localhost":
        return f"{domain!r} is a top-level domain: give the site's own domain"
    return None


def host_allowed(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def allowed_origin(request: Request, workspace: Workspace) -> str:
    origin = workspace_origin(request, workspace)
    if origin is None:
        raise Forbidden(
            "this origin is not one of the workspace's domains", code="forbidden_origin"
        )
    return origin


def workspace_origin(request: Request, workspace: Workspace) -> str | None:
    """The request's origin if it is one of the workspace's domains or their subdomains."""
    found = request_origin(request)
    return found[0] if found is not None and host_allowed(found[1], workspace.domains) else None


def cors_headers(origin: str, *, expose: tuple[str, ...] = ()) -> dict[str, str]:
    """`expose`: response headers the page's script may read (Retry-After of a 429)."""
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Authorization",
        "Access-Control-Max-Age": "86400",
        "Vary": "Origin",
    }
    if expose:
        headers["Access-Control-Expose-Headers"] = ", ".join(expose)
    return headers


def client_ip(request: Request) -> str:
    """The client's address. Behind a proxy `seam serve --forwarded-allow-ips` trusts, uvicorn
    has already put the address the proxy's X-Forwarded-For names here; the header itself is
    not read, or anyone could name another visitor's address and write to their fingerprint."""
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
