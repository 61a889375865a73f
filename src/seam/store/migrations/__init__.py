"""Versioned schema migrations, applied in order and recorded in `seam_schema_version`.

Each migration is a function of a connection. Version 1 is the whole initial schema; later
versions add to it. Concurrent `seam serve` processes may all call `migrate`: on PostgreSQL an
advisory lock serializes them, on SQLite the write transaction does.

A migration that builds indexes over `events` is online: on PostgreSQL it runs outside a
transaction and builds them CONCURRENTLY, so the servers still running go on storing events
while it runs (a plain CREATE INDEX holds off every write to the table until it is done, which
on a large table is minutes). It is written so that running it again after it was interrupted
finishes the job. On SQLite it runs in the write transaction like any other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Index, Table, inspect, select, text
from sqlalchemy.schema import CreateIndex

from seam.clock import now_us
from seam.store.engine import Database
from seam.store.tables import (
    api_keys,
    events,
    metadata,
    processes,
    schema_version,
    sign_in_failures,
)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]
    online: bool = False  # builds indexes over a large table: see the module's docstring


def _initial_schema(conn: Connection) -> None:
    metadata.create_all(conn)


def _index(table: Table, name: str) -> Index:
    return next(i for i in table.indexes if i.name == name)


def _online(conn: Connection) -> bool:
    """Whether this migration runs online (PostgreSQL, outside a transaction)."""
    return conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def _create_index(conn: Connection, index: Index) -> None:
    """`index` as `tables` defines it, unless one of its name exists."""
    if not _online(conn):
        index.create(conn, checkfirst=True)
        return
    _drop_if_invalid(conn, str(index.name))
    conn.execute(text(_create_concurrently(conn, index, str(index.name), if_not_exists=True)))


def _rebuild_index(conn: Connection, index: Index) -> None:
    """`index` as `tables` defines it, in place of the index of its name.

    Online, the new one is built beside the old under a temporary name and takes its name once
    the old one is dropped, so the table always has one of them for the queries that use it."""
    name = str(index.name)
    if not _online(conn):
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        index.create(conn)
        return
    building = f"{name}_new"
    _drop_if_invalid(conn, building)  # a build that was interrupted
    if not _index_exists(conn, building):
        conn.execute(text(_create_concurrently(conn, index, building)))
    _drop_index(conn, name)
    conn.execute(text(f"ALTER INDEX {building} RENAME TO {name}"))


def _drop_index(conn: Connection, name: str) -> None:
    concurrently = "CONCURRENTLY " if _online(conn) else ""
    conn.execute(text(f"DROP INDEX {concurrently}IF EXISTS {name}"))


def _create_concurrently(
    conn: Connection, index: Index, name: str, *, if_not_exists: bool = False
) -> str:
    """PostgreSQL's CREATE INDEX CONCURRENTLY of `index`, named `name`."""
    plain = str(CreateIndex(index).compile(dialect=conn.dialect))
    prefix = f"CREATE INDEX {index.name} ON "
    assert plain.startswith(prefix), plain
    exists = "IF NOT EXISTS " if if_not_exists else ""
    return f"CREATE INDEX CONCURRENTLY {exists}{name} ON {plain.removeprefix(prefix)}"


def _index_exists(conn: Connection, name: str) -> bool:
    found = conn.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar()
    return found is not None


def _drop_if_invalid(conn: Connection, name: str) -> None:
    """A CREATE INDEX CONCURRENTLY that failed or was interrupted leaves an invalid index,
    which is kept up to date but never read: drop it, to be built again."""
    valid = conn.execute(
        text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": name},
    ).scalar()
    if valid is False:
        _drop_index(conn, name)


def _partial_contact_index(conn: Connection) -> None:
    """Anonymous events leave the contact timeline index (see `tables.events`). Version 1
    already creates it this way on a new database; rebuilding that empty index is free."""
    _rebuild_index(conn, _index(events, "ix_events_contact_ts"))


def _unattributed_index(conn: Connection) -> None:
    """Version 1 already creates it on a new database."""
    _create_index(conn, _index(events, "ix_events_unattributed"))


def _unattributed_timeline_index(conn: Connection) -> None:
    """Events stored without a contact are no longer rewritten when their device is bound:
    contact timelines read them, and the enrichment pass finds those that arrived after the
    binding, from the index alone. Existing rows need nothing: an attribution already stored
    in a row stays what it is."""
    _rebuild_index(conn, _index(events, "ix_events_unattributed"))


def _key_form_ids(conn: Connection) -> None:
    """Version 1 already has the column on a new database."""
    if "form_id" not in {c["name"] for c in inspect(conn).get_columns("api_keys")}:
        conn.execute(text("ALTER TABLE api_keys ADD COLUMN form_id VARCHAR(64)"))
    _index(api_keys, "uq_api_keys_form").create(conn, checkfirst=True)


def _processes_table(conn: Connection) -> None:
    """Version 1 already creates it on a new database."""
    processes.create(conn, checkfirst=True)


def _sign_in_failures_table(conn: Connection) -> None:
    """Version 1 already creates it on a new database."""
    sign_in_failures.create(conn, checkfirst=True)


PAYLOAD_COLUMNS = ("properties", "traits", "context")  # of events


def _no_payload_statistics(conn: Connection) -> None:
    """PostgreSQL: ANALYZE skips the events' payload columns. No query compares them, and
    their statistics were a third of the time an analysis of events took (0.51 s instead of
    0.34 s for 300,000 events), on cores that ingest shares."""
    if conn.dialect.name != "postgresql":
        return
    columns = ", ".join(f"ALTER COLUMN {name} SET STATISTICS 0" for name in PAYLOAD_COLUMNS)
    conn.execute(text(f"ALTER TABLE events {columns}"))


def _disjoint_device_indexes(conn: Connection) -> None:
    """A device's events in two indexes that never overlap (see `tables.events`): the index
    of all of them gives way to one of its attributed events, and the index of those stored
    without a contact is ordered by time, so a device's timeline reads both in order. The new
    indexes are built before the one they replace is dropped: readers always have one."""
    _create_index(conn, _index(events, "ix_events_device_attributed"))
    _rebuild_index(conn, _index(events, "ix_events_unattributed"))
    _drop_index(conn, "ix_events_anonymous")


def _process_key_rates(conn: Connection) -> None:
    """Version 1 already has the column on a new database."""
    if "key_rates" not in {c["name"] for c in inspect(conn).get_columns("processes")}:
        conn.execute(text("ALTER TABLE processes ADD COLUMN key_rates TEXT NOT NULL DEFAULT '{}'"))


def _partial_session_index(conn: Connection) -> None:
    """Events without a session leave the session index (see `tables.events`). Version 1
    already creates it this way on a new database; rebuilding that empty index is free."""
    _rebuild_index(conn, _index(events, "ix_events_session"))


MIGRATIONS: list[Migration] = [
    Migration(1, "initial schema", _initial_schema),
    Migration(
        2, "contact timeline index without anonymous events", _partial_contact_index, online=True
    ),
    Migration(
        3, "index of the events still waiting for a contact", _unattributed_index, online=True
    ),
    Migration(
        4,
        "device events by time, attributed through the binding",
        _unattributed_timeline_index,
        online=True,
    ),
    Migration(5, "one key per dashboard form, across processes", _key_form_ids),
    Migration(6, "the processes serving the database", _processes_table),
    Migration(7, "failed dashboard sign-ins, for throttling", _sign_in_failures_table),
    Migration(8, "no planner statistics for event payloads", _no_payload_statistics),
    Migration(
        9,
        "a device's events in two indexes that never overlap",
        _disjoint_device_indexes,
        online=True,
    ),
    Migration(
        10, "what each process lets through per key, to share rate limits", _process_key_rates
    ),
    Migration(
        11, "session index without events that have no session", _partial_session_index, online=True
    ),
]

_LOCK_KEY = 0x5EA3
LOCK_RETRY_SECONDS = 0.1


def migrate(db: Database) -> list[int]:
    """Apply the migrations this database lacks; returns the versions applied.

    SQLite: all in one write transaction, which also keeps concurrent starts apart.
    PostgreSQL: each in a transaction of its own (an online one in none) while this process
    holds an advisory lock, so that a concurrent start waits until they are all applied."""
    if db.is_sqlite:
        with db.writer.begin() as conn:
            missing = _missing(conn)
            for migration in missing:
                migration.apply(conn)
                _record(conn, migration)
        return [m.version for m in missing]
    with db.writer.connect() as held:
        held.execution_options(isolation_level="AUTOCOMMIT")
        _take_lock(held)
        try:
            with db.writer.begin() as conn:
                missing = _missing(conn)
            for migration in missing:
                _apply_on_postgresql(db, migration)
        finally:
            held.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
    return [m.version for m in missing]


def _take_lock(conn: Connection) -> None:
    """Take the migration lock for this session, trying again until it is free. Not by
    waiting in pg_advisory_lock: a waiting statement holds a snapshot, and CREATE INDEX
    CONCURRENTLY waits until every snapshot older than its own is gone, so the holder's index
    build would wait for the processes waiting for the holder."""
    while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}).scalar():
        time.sleep(LOCK_RETRY_SECONDS)


def _missing(conn: Connection) -> list[Migration]:
    schema_version.create(conn, checkfirst=True)
    done = set(conn.execute(select(schema_version.c.version)).scalars())
    return [m for m in MIGRATIONS if m.version not in done]


def _record(conn: Connection, migration: Migration) -> None:
    conn.execute(schema_version.insert().values(version=migration.version, applied_at=now_us()))


def _apply_on_postgresql(db: Database, migration: Migration) -> None:
    if not migration.online:
        with db.writer.begin() as conn:
            migration.apply(conn)
            _record(conn, migration)
        return
    with db.writer.connect() as conn:
        migration.apply(conn.execution_options(isolation_level="AUTOCOMMIT"))
    with db.writer.begin() as conn:
        _record(conn, migration)
