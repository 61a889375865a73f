"""The ASGI application. `create_app(settings)` builds everything; nothing is built at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable

from sqlalchemy.exc import DataError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from seam.api import admin, collect, ingest, meta, reads, sessions
from seam.api.envelope import (
    JSON,
    client_gone,
    http_error,
    seam_error,
    unexpected_error,
    unstorable_value,
)
from seam.api.fast_path import IngestFastPath
from seam.api.state import AppState, SeamApp, app_state
from seam.clock import now_us
from seam.enrichment import enrich_recent
from seam.errors import SeamError
from seam.ingest.writer import Writer
from seam.settings import Settings
from seam.store import processes, statistics
from seam.store.dialect import compile_statements
from seam.store.engine import Database, open_database
from seam.web.dashboard import mount as dashboard_mount

log = logging.getLogger("seam")
CHECKPOINT_INTERVAL = 1.0
STATISTICS_INTERVAL = 1.0


async def healthz(request: Request) -> Response:
    """Up, and how many Seam processes (this one included) serve its database."""
    return JSON({"status": "ok", "processes": app_state(request).live_processes})


async def _enrich_forever(state: AppState) -> None:
    while True:
        await asyncio.sleep(state.settings.enrich_interval)
        started = now_us()
        try:
            linked = await state.writer.run(enrich_recent)
        except Exception as exc:  # the next pass tries again; the server keeps serving
            log.warning("enrichment pass failed: %r", exc)
            continue
        state.enrichment_pass_seconds = (now_us() - started) / 1e6
        state.enrichment_passed_at = started
        state.count("events_enriched", linked)


async def _upkeep_forever(seconds: float, work: Callable[[], object], what: str) -> None:
    """Database upkeep off the request path; a failed round is simply tried again."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(work)
        except Exception as exc:
            log.warning("%s failed: %r", what, exc)


async def _heartbeat_forever(state: AppState) -> None:
    while True:
        await asyncio.sleep(state.settings.heartbeat_seconds)
        try:
            await _heartbeat(state)
        except Exception as exc:  # keep the last count; the next beat tries again
            log.warning("heartbeat failed: %r", exc)


async def _heartbeat(state: AppState) -> None:
    pid = state.process_id
    # Three missed beats before the others count a process out, and never under 15 s.
    live_for = max(processes.LIVE_FOR_US, int(3 * state.settings.heartbeat_seconds * 1e6))
    counted, since = state.let_through, state.counted_since
    state.let_through, state.counted_since = {}, time.monotonic()
    seconds = max(state.counted_since - since, 1e-3)
    rates = {key_id: n / seconds for key_id, n in counted.items()}
    peers = await state.writer.run(
        lambda conn: processes.heartbeat(conn, pid, now_us(), live_for, rates)
    )
    state.live_processes = peers.live
    state.used_by_others = peers.used_by_others


def _refresh_statistics(db: Database) -> None:
    with db.writer.begin() as conn:
        analyzed = statistics.refresh(conn)
    if analyzed:
        log.info("analyzed %s", ", ".join(analyzed))


def _tune_garbage_collector() -> None:
    """Measured under single-event ingest on one core: with the default thresholds the
    collector ran ~1,900 times in 8 s (~5% of the core), and a full collection, walking every
    module, table and compiled statement, paused requests for ~25 ms. What exists at startup
    lives as long as the process, so it is frozen out of collections; the youngest generation
    is collected every 10,000 net allocations instead of 700 (12 collections of ~2 ms)."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def create_app(settings: Settings) -> SeamApp:
    db = open_database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        write_transactions=settings.write_transactions,
    )
    state = AppState(settings=settings, db=db, writer=Writer(db, settings.write_transactions))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.writer.start()
        await state.writer.run(compile_statements)
        await _heartbeat(state)
        background = [
            asyncio.create_task(_enrich_forever(state)),
            asyncio.create_task(_heartbeat_forever(state)),
        ]
        if db.is_sqlite:
            # A busy database is checkpointed next time.
            upkeep = _upkeep_forever(CHECKPOINT_INTERVAL, db.checkpoint, "WAL checkpoint")
        else:
            # Autovacuum still analyzes eventually; meanwhile try again next time.
            upkeep = _upkeep_forever(
                STATISTICS_INTERVAL, lambda: _refresh_statistics(db), "refreshing statistics"
            )
        background.append(asyncio.create_task(upkeep))
        _tune_garbage_collector()
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            with contextlib.suppress(Exception):  # else the others count it out in 15 s
                pid = state.process_id
                await state.writer.run(lambda conn: processes.leave(conn, pid))
            await state.writer.stop()
            db.dispose()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        *ingest.routes,
        *collect.routes,
        *reads.routes,
        *admin.routes,
        *sessions.routes,
        *meta.routes,
        dashboard_mount(),
    ]
    if settings.demo:
        from seam.web.demo import routes as demo_routes

        routes.extend(demo_routes)
    app = SeamApp(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            SeamError: seam_error,
            HTTPException: http_error,
            ClientDisconnect: client_gone,
            DataError: unstorable_value,
            Exception: unexpected_error,
        },
    )
    app.seam = state
    return app


def app_from_env() -> IngestFastPath:
    """The factory `seam serve` hands to uvicorn (each worker process builds its own app)."""
    return IngestFastPath(create_app(Settings.from_env()))
