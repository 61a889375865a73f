"""Raw-insert ceilings: the real `events` table (seam.store.tables), 500-row transactions.

SQLite: a scratch file in WAL mode with synchronous=NORMAL (also FULL, Seam's default),
sqlite3 executemany.
PostgreSQL: a scratch database, psycopg 3 COPY and executemany (pipelined by psycopg).
The inserting client is pinned to the server core, like the Seam process it stands for.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import psycopg
from sqlalchemy import create_engine

from bench.config import SERVER_CORE
from bench.procs import pinned
from bench.rows import COLUMNS, chunks, make_rows
from seam.store.tables import events

TX_ROWS = 500


def _create_table(sqlalchemy_url: str) -> None:
    engine = create_engine(sqlalchemy_url)
    try:
        events.drop(engine, checkfirst=True)
        events.create(engine)
    finally:
        engine.dispose()


def sqlite_rows_per_second(path: Path, n: int, *, synchronous: str = "NORMAL") -> float:
    _create_table(f"sqlite:///{path}")
    batches = chunks(make_rows(n, "raw"), TX_ROWS)
    sql = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        with pinned(SERVER_CORE):
            start = time.perf_counter()
            for batch in batches:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, batch)
                conn.execute("COMMIT")
            elapsed = time.perf_counter() - start
        (stored,) = conn.execute("SELECT count(*) FROM events").fetchone()
    finally:
        conn.close()
    if stored != n:
        raise RuntimeError(f"sqlite raw insert stored {stored} of {n} rows")
    return n / elapsed


def postgres_rows_per_second(
    conninfo: str, n: int, methods: tuple[str, ...] = ("copy", "executemany")
) -> dict[str, float]:
    """{method: rows/s} for "copy" and "executemany", each on a freshly created table."""
    url = "postgresql+psycopg://" + conninfo.split("://", 1)[1]
    columns = ", ".join(COLUMNS)
    insert = f"INSERT INTO events ({columns}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    results: dict[str, float] = {}
    for method in methods:
        _create_table(url)
        batches = chunks(make_rows(n, f"raw-{method}"), TX_ROWS)
        with psycopg.connect(conninfo, autocommit=True) as conn, conn.cursor() as cur:
            with pinned(SERVER_CORE):
                start = time.perf_counter()
                for batch in batches:
                    with conn.transaction():
                        if method == "copy":
                            with cur.copy(f"COPY events ({columns}) FROM STDIN") as copy:
                                for values in batch:
                                    copy.write_row(values)
                        else:
                            cur.executemany(insert, batch)
                elapsed = time.perf_counter() - start
            cur.execute("SELECT count(*) FROM events")
            counted = cur.fetchone()
        if counted is None or counted[0] != n:
            raise RuntimeError(f"postgres raw {method} stored {counted} of {n} rows")
        results[method] = n / elapsed
    return results
