"""What the app holds while it runs: database, writer, caches of keys and workspaces."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from seam.api.rate_limits import TokenBucket
from seam.clock import now_us
from seam.ids import new_id
from seam.ingest.apply import Caller
from seam.ingest.writer import Writer
from seam.settings import Settings
from seam.store import workspaces as ws_store
from seam.store.engine import Database
from seam.store.workspaces import ApiKey, Workspace

T = TypeVar("T")


@dataclass(frozen=True)
class Principal:
    """An authenticated key with its workspace, and the caller the write path sees."""

    key: ApiKey
    workspace: Workspace
    caller: Caller

    @classmethod
    def of(cls, key: ApiKey, workspace: Workspace) -> Principal:
        caller = Caller(
            workspace=workspace,
            key_id=key.id,
            secret=key.is_secret,
            can_write_contacts="contacts:write" in key.scopes,
        )
        return cls(key, workspace, caller)


@dataclass
class Cached:
    principal: Principal | None
    expires: float


@dataclass
class AppState:
    settings: Settings
    db: Database
    writer: Writer
    keys: dict[str, Cached] = field(default_factory=dict)
    # One database read per key at a time: when a cached key expires under load, the requests
    # that arrive meanwhile wait for that read instead of each starting their own.
    key_reads: dict[str, asyncio.Future[Principal | None]] = field(default_factory=dict)
    # Every workspace, for the requests that name none (a CORS preflight without a key, a
    # session identify): (until when it is trusted, the list), and the read under way.
    every_workspace: tuple[float, list[Workspace]] | None = None
    every_workspace_read: asyncio.Future[list[Workspace]] | None = None
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    # Requests each key was let through since `counted_since` (monotonic seconds), published
    # with the next heartbeat; and what the other processes published (requests a second).
    let_through: dict[str, int] = field(default_factory=dict)
    counted_since: float = field(default_factory=time.monotonic)
    used_by_others: dict[str, float] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    enrichment_pass_seconds: float = 0.0
    enrichment_passed_at: int | None = None  # when the last pass that succeeded started
    started_at: int = field(default_factory=now_us)
    # This process's id among those serving the database, and how many are live (heartbeats).
    process_id: str = field(default_factory=new_id)
    live_processes: int = 1
    salt: tuple[str, str] | None = None  # (UTC day, that day's cookieless salt)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Read-only database work off the event loop (see `Database.read`)."""
        return await run_in_threadpool(self.db.read, work)

    async def all_workspaces(self) -> list[Workspace]:
        """Every workspace, read at most once per key cache period (as keys are), one read
        at a time: the requests that need them present no key, so anybody could otherwise
        make the server read the whole table with each request."""
        cached = self.every_workspace
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        if self.every_workspace_read is None:
            self.every_workspace_read = asyncio.ensure_future(self._read_all_workspaces())
            self.every_workspace_read.add_done_callback(self._all_workspaces_read)
        return await asyncio.shield(self.every_workspace_read)

    async def _read_all_workspaces(self) -> list[Workspace]:
        read_at = time.monotonic()
        found = await self.read(ws_store.list_workspaces)
        if self.settings.key_cache_seconds > 0:
            self.every_workspace = (read_at + self.settings.key_cache_seconds, found)
        return found

    def _all_workspaces_read(self, _: asyncio.Future[list[Workspace]]) -> None:
        self.every_workspace_read = None


class SeamApp(Starlette):
    """The application, holding its state as a plain attribute: `app.state.x` goes through
    Starlette's `State.__getattr__`, ~0.6 µs a time on every request."""

    seam: AppState


def app_state(request: Request) -> AppState:
    app: SeamApp = request.scope["app"]
    return app.seam
