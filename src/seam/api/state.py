"""What the app holds while it runs: database, writer, caches of keys and workspaces."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, ParamSpec, TypeVar

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
V = TypeVar("V")
P = ParamSpec("P")


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


class SharedReads(Generic[V]):
    """Values read from the database by key, each trusted for `seconds` after its read began
    (0: never kept), and one read of a key at a time: when a value expires under load, the
    requests that arrive meanwhile wait for that read instead of each starting their own."""

    def __init__(self, seconds: float, limit: int = 10_000) -> None:
        self.seconds = seconds
        self.limit = limit  # beyond it the kept values are dropped (keys nobody holds)
        self._kept: dict[str, tuple[float, V]] = {}
        self._reading: dict[str, asyncio.Future[V]] = {}

    async def get(
        self, key: str, read: Callable[P, Awaitable[V]], *args: P.args, **kwargs: P.kwargs
    ) -> V:
        kept = self._kept.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        pending = self._reading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._read(key, read(*args, **kwargs)))
            self._reading[key] = pending
            pending.add_done_callback(lambda _: self._reading.pop(key, None))
        return await asyncio.shield(pending)

    async def _read(self, key: str, reading: Awaitable[V]) -> V:
        read_at = time.monotonic()
        value = await reading
        if self.seconds > 0:
            if len(self._kept) > self.limit:
                self._kept.clear()
            self._kept[key] = (read_at + self.seconds, value)
        return value


@dataclass
class AppState:
    settings: Settings
    db: Database
    writer: Writer
    # Looked-up keys by digest, and every workspace for the requests that name none (a CORS
    # preflight without a key, a session identify): trusted for the key cache period.
    keys: SharedReads[Principal | None] = field(init=False)
    workspace_list: SharedReads[list[Workspace]] = field(init=False)
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

    def __post_init__(self) -> None:
        self.keys = SharedReads(self.settings.key_cache_seconds)
        self.workspace_list = SharedReads(self.settings.key_cache_seconds)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Read-only database work off the event loop (see `Database.read`)."""
        return await run_in_threadpool(self.db.read, work)

    async def all_workspaces(self) -> list[Workspace]:
        """Every workspace, read at most once per key cache period (as keys are): the
        requests that need them present no key, so anybody could otherwise make the server
        read the whole table with each request."""
        return await self.workspace_list.get("", self.read, ws_store.list_workspaces)


class SeamApp(Starlette):
    """The application, holding its state as a plain attribute: `app.state.x` goes through
    Starlette's `State.__getattr__`, ~0.6 µs a time on every request."""

    seam: AppState


def app_state(request: Request) -> AppState:
    app: SeamApp = request.scope["app"]
    return app.seam
