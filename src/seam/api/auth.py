"""Keys in, caller out: where a key may come from, its scopes, rate limits (SPEC §2, §8)."""

from __future__ import annotations

import base64
import functools
import hmac
from collections.abc import Awaitable

from sqlalchemy import Connection
from starlette.requests import Request

from seam.errors import Forbidden, RateLimited, Unauthorized
from seam.store import workspaces as ws_store
from seam.store.workspaces import ApiKey, Workspace, hash_key

from .rate_limits import TokenBucket, share_of_limit
from .state import AppState, Principal, app_state


def header(request: Request, name: bytes) -> str | None:
    """The first value of the header `name` (lower case, as servers hand header names to
    the application). Starlette's `request.headers` builds a `Headers` for the request and
    raises and catches a KeyError for every header absent: ~2 µs of an ingest request, which
    reads three of them."""
    headers: list[tuple[bytes, bytes]] = request.scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def key_from_headers(request: Request) -> str | None:
    return key_from_authorization(header(request, b"authorization") or "")


@functools.lru_cache(maxsize=1024)
def key_from_authorization(header: str) -> str | None:
    """The key an Authorization header carries (Bearer, or Basic with the key as the user
    name, as the Segment SDKs send it). Cached: each SDK sends the same header every time."""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=False).decode("utf-8", "replace")
        except ValueError:
            return None
        username = decoded.partition(":")[0].strip()
        return username or None
    return None


async def authenticate(request: Request, plain: str | None, scope: str) -> Principal:
    state = app_state(request)
    if not plain:
        raise Unauthorized("an API key is required", code="missing_key")
    principal = await _lookup(state, plain)
    if principal is None or principal.key.revoked_at is not None:
        raise Unauthorized("the API key is invalid or revoked", code="invalid_key")
    if scope not in principal.key.scopes:
        raise Forbidden(f"this key lacks the scope {scope}", code="insufficient_scope")
    _rate_limit(state, principal.key, principal.workspace)
    return principal


async def key_owner(request: Request, plain: str) -> Principal | None:
    """The key and its workspace, without checking that the key may be used now (revoked,
    scopes, rate): to tell what a request presented, not to let it in."""
    return await _lookup(app_state(request), plain)


async def require(request: Request, scope: str) -> Principal:
    return await authenticate(request, key_from_headers(request), scope)


def _lookup(state: AppState, plain: str) -> Awaitable[Principal | None]:
    digest = _digest(plain)
    return state.keys.get(digest, _read_key, state, plain, digest)


@functools.lru_cache(maxsize=1024)
def _digest(plain: str) -> str:
    return hash_key(plain)


async def _read_key(state: AppState, plain: str, digest: str) -> Principal | None:
    def read(conn: Connection) -> tuple[ApiKey | None, Workspace | None]:
        key = ws_store.find_key(conn, plain)
        if key is None:
            return None, None
        return key, ws_store.get_workspace(conn, key.workspace_id)

    key, workspace = await state.read(read)
    # The index lookup finds the row; the final equality is checked in constant time.
    if key is not None and workspace is not None and hmac.compare_digest(key.key_hash, digest):
        return Principal.of(key, workspace)
    return None


def _rate_limit(state: AppState, key: ApiKey, workspace: Workspace) -> None:
    """The limit is the deployment's: each live process lets through its share of it
    (`rate_limits.share_of_limit`), bursting at most an even share."""
    # A workspace limit stored below 1 (before the CLI refused such values) means "unset".
    own = workspace.rate_limit if workspace.rate_limit and workspace.rate_limit >= 1 else None
    limit = float(own or state.settings.rate_limit_per_second)
    live = state.live_processes
    rate = share_of_limit(limit, live, state.used_by_others.get(key.id, 0.0))
    burst = max(1.0, limit / live)  # a share below one request a second lets one by
    bucket = state.buckets.get(key.id)
    if bucket is None:
        bucket = state.buckets[key.id] = TokenBucket(rate, burst)
    elif bucket.rate != rate or bucket.burst != burst:
        bucket.retune(rate, burst)
    wait = bucket.take()
    if wait > 0:
        retry_after = str(max(1, int(wait + 0.999)))
        raise RateLimited("too many requests for this key", headers={"Retry-After": retry_after})
    state.let_through[key.id] = state.let_through.get(key.id, 0) + 1
