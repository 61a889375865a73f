"""Large bundles of new rows sent to PostgreSQL with COPY, the JSON insert kept as the fallback.

An `insert_rows` statement makes PostgreSQL read the rows from one JSON document, plan the
statement and check each row for a conflict before inserting it; COPY only parses and inserts.
Storing bundles of 455 events in Seam's `events` table, PostgreSQL's backend spent 14-16 µs an
event with COPY against 20-24 µs with the JSON statement, the client ~1 µs more. Under
100-message batch load (wrk, 16 connections) PostgreSQL's CPU fell from 31-36 to ~24 µs an
event. One Seam process pinned to one core served as many requests as before (it is the
bound there); `seam serve --workers 2` on both cores, sharing them with PostgreSQL, served
8-11% more (8 of 10 alternating 6 s rounds). COPY costs two more round trips, so small bundles
(a group commit of single events) keep the one statement that travels with COMMIT
(`seam.store.bundling`).

COPY cannot skip a row whose key exists: a retried message makes it fail with a unique
violation. It runs in a savepoint, so that a failure (that one, or any other) undoes the COPY
alone, and the rows then go through `fallback`, the statement that skips known keys and
reports bad values as it always has. Each savepoint is a subtransaction, and past 64 in one
transaction PostgreSQL makes other sessions' snapshots dearer until it ends. A transaction
COPYs once per 128 rows at most (rows are flushed before a binding, and at the end): 64 would
take one 500 KB body of over 8,000 tiny messages with a binding after every 128th.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec
import psycopg
from sqlalchemy import Connection

from seam.store.dialect import driver_in_transaction, run_sql

# Bundles smaller than this go through the JSON statement. Stored alone, bundles of 128 rows
# already cost PostgreSQL 2-10 µs less an event with COPY, and less time; bundles of 32 saved
# it 1-4 µs for 1-4 µs more of the client's (which, under single-event load, is the bound).
COPY_MIN_ROWS = 128
_SAVEPOINT = "seam_copy"


def insert_or_fall_back(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[msgspec.Struct],
    fallback: Callable[[], None],
) -> None:
    """COPY `rows` (Structs whose fields are `columns`, in order) into `table`, or, if the
    bundle is small, the database is not PostgreSQL or the COPY fails, run `fallback`."""
    if conn.dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
        fallback()
        return
    # The writes waiting in the transaction go first (their order holds), with the savepoint.
    run_sql(conn, f"SAVEPOINT {_SAVEPOINT}")
    raw = driver_in_transaction(conn)
    try:
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(msgspec.structs.astuple(row))
    except psycopg.Error:
        run_sql(conn, f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        fallback()
