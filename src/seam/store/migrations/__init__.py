"""Versioned schema migrations, applied in order and recorded in `seam_schema_version`.

Each migration is a function of a connection. Version 1 is the whole initial schema; later
versions add to it. Concurrent `seam serve` processes may all call `migrate`: on PostgreSQL an
advisory lock serializes them, on SQLite the write transaction does.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Index, Table, inspect, select, text

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

Migration = Callable[[Connection], None]


def _initial_schema(conn: Connection) -> None:
    metadata.create_all(conn)


def _index(table: Table, name: str) -> Index:
    return next(i for i in table.indexes if i.name == name)


def _partial_contact_index(conn: Connection) -> None:
    """Anonymous events leave the contact timeline index (see `tables.events`). Version 1
    already creates it this way on a new database; rebuilding that empty index is free."""
    conn.execute(text("DROP INDEX IF EXISTS ix_events_contact_ts"))
    _index(events, "ix_events_contact_ts").create(conn)


def _unattributed_index(conn: Connection) -> None:
    """Version 1 already creates it on a new database."""
    _index(events, "ix_events_unattributed").create(conn, checkfirst=True)


def _unattributed_timeline_index(conn: Connection) -> None:
    """Events stored without a contact are no longer rewritten when their device is bound:
    contact timelines read them, and the enrichment pass finds those that arrived after the
    binding, from the index alone. Existing rows need nothing: an attribution already stored
    in a row stays what it is."""
    conn.execute(text("DROP INDEX IF EXISTS ix_events_unattributed"))
    _index(events, "ix_events_unattributed").create(conn)


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
    without a contact is ordered by time, so a device's timeline reads both in order."""
    conn.execute(text("DROP INDEX IF EXISTS ix_events_anonymous"))
    _index(events, "ix_events_device_attributed").create(conn, checkfirst=True)
    conn.execute(text("DROP INDEX IF EXISTS ix_events_unattributed"))
    _index(events, "ix_events_unattributed").create(conn)


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial schema", _initial_schema),
    (2, "contact timeline index without anonymous events", _partial_contact_index),
    (3, "index of the events still waiting for a contact", _unattributed_index),
    (4, "device events by time, attributed through the binding", _unattributed_timeline_index),
    (5, "one key per dashboard form, across processes", _key_form_ids),
    (6, "the processes serving the database", _processes_table),
    (7, "failed dashboard sign-ins, for throttling", _sign_in_failures_table),
    (8, "no planner statistics for event payloads", _no_payload_statistics),
    (9, "a device's events in two indexes that never overlap", _disjoint_device_indexes),
]

_LOCK_KEY = 0x5EA3


def migrate(db: Database) -> list[int]:
    """Apply the migrations this database lacks; returns the versions applied."""
    applied: list[int] = []
    with db.writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        schema_version.create(conn, checkfirst=True)
        done = set(conn.execute(select(schema_version.c.version)).scalars())
        for version, _description, apply in MIGRATIONS:
            if version in done:
                continue
            apply(conn)
            conn.execute(schema_version.insert().values(version=version, applied_at=now_us()))
            applied.append(version)
    return applied
