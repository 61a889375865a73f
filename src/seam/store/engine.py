"""Engines for SQLite (WAL, busy timeout, BEGIN IMMEDIATE writes) and PostgreSQL (pooled)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from seam.store import bundling, redaction
from seam.store.dialect import SQLITE_LOWER, sqlite_lower

T = TypeVar("T")
# How long a SQLite statement waits for another connection's lock before it fails.
SQLITE_BUSY_SECONDS = 30


def normalize_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` as psycopg 3, and a bare path as SQLite."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{url}"
    return url


@dataclass(frozen=True)
class Database:
    """A write engine and a read engine; on SQLite they differ in how transactions begin."""

    url: str
    writer: Engine
    reader: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run read-only `work` on a reader connection, once more on a fresh one if the first
        turned out dead (PostgreSQL restarted, a proxy closed it): readers do not ping before
        each use, which would cost a round trip per request. The failed statement invalidates
        every connection the pool held before it, so the second run gets a new connection.
        `work` may run twice: it must only read."""
        try:
            with self.reader.connect() as conn:
                return work(conn)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self.reader.connect() as conn:
            return work(conn)

    def checkpoint(self) -> None:
        """Copy committed WAL frames into the SQLite file without blocking writers."""
        if not self.is_sqlite:
            return
        raw = self.reader.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            raw.close()

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def _sqlite_engine(url: str, *, immediate: bool, synchronous: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
        hide_parameters=True,  # an error's text is logged; the parameters are people's data
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _wal_mode(cursor)
        # FULL syncs the WAL at every commit, so an acknowledged event survives a power loss;
        # group commit keeps that to one fsync per batch.
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        # Commits should not pay for copying the WAL into the database: `checkpoint` does that
        # in the background; this limit only applies if it falls behind.
        cursor.execute("PRAGMA wal_autocheckpoint=20000")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()
        dbapi_connection.create_function(SQLITE_LOWER, 1, sqlite_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the lock up front: a deferred transaction that upgrades later can fail
        # with SQLITE_BUSY without waiting for the busy timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _wal_mode(cursor: sqlite3.Cursor) -> None:
    """Put the file in WAL mode (it stays so). Processes opening a new file at once all try
    to switch it, and SQLite refuses the switch to all but one at once ("database is locked")
    instead of waiting for the busy timeout: try again until the timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


SQLITE_SYNCHRONOUS = ("FULL", "NORMAL")


def open_database(
    url: str, *, sqlite_synchronous: str = "FULL", write_transactions: int = 2
) -> Database:
    url = normalize_url(url)
    if sqlite_synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"sqlite_synchronous must be one of {SQLITE_SYNCHRONOUS}")
    if make_url(url).get_backend_name() == "sqlite":
        return Database(
            url,
            _sqlite_engine(url, immediate=True, synchronous=sqlite_synchronous),
            _sqlite_engine(url, immediate=False, synchronous=sqlite_synchronous),
        )
    # Neither engine pings a connection before each use (a round trip, ~0.2 ms): a connection
    # the server dropped fails its statement and is invalidated, and the writer retries its
    # transaction, `Database.read` its read, on a fresh one.
    # No server-side prepared statements: a generic plan cached while a table was small (a
    # sequential scan) outlives the table's growth and turns batch lookups into full scans.
    no_prepare = {"prepare_threshold": None}
    # The ingest writers, plus admin operations, the enrichment pass and statistics. Autocommit
    # at the driver: `bundling` sends each transaction's BEGIN and COMMIT with its statements.
    writer = create_engine(
        url,
        pool_size=write_transactions + 2,
        max_overflow=4,
        connect_args=no_prepare,
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,  # an error's text is logged; the parameters are people's data
    )
    bundling.install(writer)
    redaction.install(writer)
    # Readers run each statement on its own (autocommit): one round trip instead of BEGIN, the
    # query and ROLLBACK (SELECT 1 and rollback: 190 µs instead of 480 µs on this machine). A
    # read of several statements may then see writes committed between them, as any reader
    # of a live analytics store does.
    reader = create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        connect_args=no_prepare,
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
    )
    redaction.install(reader)
    return Database(url, writer, reader)
