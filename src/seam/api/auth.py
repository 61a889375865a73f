"""Keys in, caller out: where a key may come from, its scopes, rate limits (SPEC §2, §8)."""

from __future__ import annotations

import base64
import hmac
import time
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from seam.errors import Forbidden, RateLimited, Unauthorized
from seam.ingest.apply import Caller
from seam.store import workspaces as ws_store
from seam.store.workspaces import ApiKey, Workspace, hash_key

from .state import AppState, Cached, TokenBucket, app_state


@dataclass(frozen=True)
class Principal:
    key: ApiKey
    workspace: Workspace

    def caller(self) -> Caller:
        return Caller(
            workspace=self.workspace,
            key_id=self.key.id,
            secret=self.key.is_secret,
            can_write_contacts="contacts:write" in self.key.scopes,
        )


def key_from_headers(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
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
    key, workspace = await _lookup(state, plain)
    if key is None or workspace is None or key.revoked_at is not None:
        raise Unauthorized("the API key is invalid or revoked", code="invalid_key")
    if scope not in key.scopes:
        raise Forbidden(f"this key lacks the scope {scope}", code="insufficient_scope")
    _rate_limit(state, key, workspace)
    return Principal(key, workspace)


async def require(request: Request, scope: str) -> Principal:
    return await authenticate(request, key_from_headers(request), scope)


async def _lookup(state: AppState, plain: str) -> tuple[ApiKey | None, Workspace | None]:
    digest = hash_key(plain)
    now = time.monotonic()
    cached = state.keys.get(digest)
    if cached is not None and cached.expires > now:
        return cached.key, cached.workspace

    def read() -> tuple[ApiKey | None, Workspace | None]:
        with state.db.reader.connect() as conn:
            key = ws_store.find_key(conn, plain)
            if key is None:
                return None, None
            return key, ws_store.get_workspace(conn, key.workspace_id)

    key, workspace = await run_in_threadpool(read)
    # The index lookup finds the row; the final equality is checked in constant time.
    if key is not None and not hmac.compare_digest(key.key_hash, digest):
        key = None
    if state.settings.key_cache_seconds > 0:
        if len(state.keys) > 10_000:
            state.keys.clear()
        state.keys[digest] = Cached(key, workspace, now + state.settings.key_cache_seconds)
    return key, workspace


def forget_cached(state: AppState) -> None:
    """After a change made through this process (key revoked, settings updated)."""
    state.keys.clear()


def _rate_limit(state: AppState, key: ApiKey, workspace: Workspace) -> None:
    rate = float(workspace.rate_limit or state.settings.rate_limit_per_second)
    bucket = state.buckets.get(key.id)
    if bucket is None or bucket.rate != rate:
        bucket = state.buckets[key.id] = TokenBucket(rate, rate)
    wait = bucket.take()
    if wait > 0:
        retry_after = str(max(1, int(wait + 0.999)))
        raise RateLimited("too many requests for this key", headers={"Retry-After": retry_after})
