"""Write transactions that start over when another transaction got in their way.

Several Seam processes write one PostgreSQL database. A transaction may deadlock with another,
lose a serialization check, find its pooled connection dropped by the server, or (SQLite) find
the file locked. And an ingest transaction that read a contact another process merged away or
erased before this one could hold it must not write rows naming that contact. In every case
nothing of it is kept, and running it again from the start (reading again) is correct.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("seam.store")

T = TypeVar("T")
ATTEMPTS = 3


class ConcurrentChange(Exception):
    """What this transaction read was changed by another one before it could hold it."""


def run(engine: Engine, work: Callable[[Connection], T], attempts: int = ATTEMPTS) -> T:
    """`work` in one transaction, committed; run again on a fresh transaction if it failed
    for a reason another try can get past."""
    with engine.connect() as conn:
        return run_on(conn, work, attempts)


def run_on(conn: Connection, work: Callable[[Connection], T], attempts: int = ATTEMPTS) -> T:
    """`run`, on a connection the caller keeps. A connection the database dropped is
    invalidated by the failing statement, and the next try begins on a new one."""
    for attempt in range(attempts):
        try:
            with conn.begin():
                return work(conn)
        except (DBAPIError, ConcurrentChange) as exc:
            if not retryable(exc) or attempt == attempts - 1:
                raise
            cause = exc.orig if isinstance(exc, DBAPIError) else exc
            log.warning("running a transaction again after %s", type(cause).__name__)
    raise AssertionError("unreachable")


def retryable(exc: DBAPIError | ConcurrentChange) -> bool:
    """Deadlocks and serialization failures between processes, connections the database
    dropped (restart, idle timeout), a locked SQLite file, a contact changed meanwhile."""
    if isinstance(exc, ConcurrentChange) or exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlstate", None)
    if code in ("40P01", "40001"):
        return True
    return "database is locked" in str(exc.orig)
