"""Migrations: a new database gets every version; an older one is brought up to date in place."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Connection, delete, select, text

from seam.store import workspaces
from seam.store.engine import Database, open_database
from seam.store.migrations import MIGRATIONS, migrate
from seam.store.tables import schema_version


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'seam.db'}"
    else:
        url = request.getfixturevalue("fresh_pg_url")
    database = open_database(url)
    yield database
    database.dispose()


def _index_sql(conn: Connection, name: str = "ix_events_contact_ts") -> str:
    if conn.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE name = :name"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
    return str(conn.execute(text(query), {"name": name}).scalar_one())


def test_a_new_database_gets_every_version_once(empty_db: Database) -> None:
    assert migrate(empty_db) == [m.version for m in MIGRATIONS]
    assert migrate(empty_db) == []
    with empty_db.reader.connect() as conn:
        assert "IS NOT NULL" in _index_sql(conn)
        assert "session_id IS NOT NULL" in _index_sql(conn, "ix_events_session")
        _assert_device_indexes_are_disjoint(conn)


def _columns(index_sql: str) -> list[str]:
    listed = index_sql[index_sql.index("(") + 1 : index_sql.index(")")]
    return [column.strip().strip('"') for column in listed.split(",")]


def _assert_device_indexes_are_disjoint(conn: Connection) -> None:
    """A device's attributed events and those stored without a contact, each by time."""
    attributed = _index_sql(conn, "ix_events_device_attributed")
    unattributed = _index_sql(conn, "ix_events_unattributed")
    assert "contact_id IS NOT NULL" in attributed
    assert "contact_id IS NULL" in unattributed
    assert _columns(attributed) == ["workspace_id", "anonymous_id", "timestamp", "id", "contact_id"]
    assert _columns(unattributed) == [
        "workspace_id", "anonymous_id", "timestamp", "id", "received_at", "contact_id"
    ]  # fmt: skip
    exists = (
        "SELECT count(*) FROM sqlite_master WHERE name = 'ix_events_anonymous'"
        if conn.dialect.name == "sqlite"
        else "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_events_anonymous'"
    )
    assert conn.execute(text(exists)).scalar_one() == 0


def test_a_version_1_database_keeps_its_events_and_keys_and_gets_the_later_versions(
    empty_db: Database,
) -> None:
    migrate(empty_db)
    with empty_db.writer.begin() as conn:  # as version 1 left it: every event in the index
        conn.execute(text("DROP INDEX ix_events_contact_ts"))
        conn.execute(text("DROP INDEX ix_events_unattributed"))
        conn.execute(text("DROP INDEX ix_events_device_attributed"))
        conn.execute(
            text(
                "CREATE INDEX ix_events_contact_ts"
                " ON events (workspace_id, contact_id, timestamp, id)"
            )
        )
        conn.execute(
            text(
                "CREATE INDEX ix_events_anonymous"
                " ON events (workspace_id, anonymous_id, timestamp, id)"
            )
        )
        conn.execute(text("DROP INDEX ix_events_session"))
        conn.execute(
            text(
                "CREATE INDEX ix_events_session ON events (workspace_id, session_id, timestamp, id)"
            )
        )
        conn.execute(text("DROP INDEX uq_api_keys_form"))
        conn.execute(text("ALTER TABLE api_keys DROP COLUMN form_id"))
        conn.execute(text("DROP TABLE sign_in_failures"))
        conn.execute(text("ALTER TABLE processes DROP COLUMN key_rates"))
        conn.execute(delete(schema_version).where(schema_version.c.version > 1))
        conn.execute(
            text(
                "INSERT INTO events (workspace_id, message_id, type, timestamp, received_at,"
                " properties, traits, context, contact_id)"
                " VALUES ('ws', 'm1', 'page', 1, 1, '{}', '{}', '{}', NULL),"
                " ('ws', 'm2', 'page', 2, 2, '{}', '{}', '{}', 'c1')"
            )
        )

    with empty_db.writer.begin() as conn:  # a key made before version 5
        ws = workspaces.create_workspace(conn, "before-5")
        conn.execute(
            text(
                "INSERT INTO api_keys (id, workspace_id, kind, key_hash, prefix, scopes,"
                " created_at) VALUES ('k1', :ws, 'write', 'h1', 'wk_abcd', '[]', 1)"
            ),
            {"ws": ws.id},
        )

    assert migrate(empty_db) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]

    with empty_db.reader.connect() as conn:
        _assert_device_indexes_are_disjoint(conn)
        assert "IS NOT NULL" in _index_sql(conn)
        assert "session_id IS NOT NULL" in _index_sql(conn, "ix_events_session")
        rows = conn.execute(text("SELECT message_id, contact_id FROM events ORDER BY 1")).all()
    assert [tuple(r) for r in rows] == [("m1", None), ("m2", "c1")]
    with empty_db.writer.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM sign_in_failures")).scalar() == 0
        assert conn.execute(text("SELECT count(key_rates) FROM processes")).scalar() == 0
        assert len(workspaces.list_keys(conn, ws.id)) == 1
        once = {"form_id": "form-1", "kind": "secret", "scopes": ["admin"]}
        assert workspaces.create_key_once(conn, ws.id, **once) is not None
        assert workspaces.create_key_once(conn, ws.id, **once) is None


def _back_to_version_8(db: Database) -> None:
    """The indexes of `events` as version 8 left them, and some events in them."""
    with db.writer.begin() as conn:
        conn.execute(text("DROP INDEX ix_events_device_attributed"))
        conn.execute(text("DROP INDEX ix_events_unattributed"))
        conn.execute(
            text(
                "CREATE INDEX ix_events_unattributed ON events"
                " (workspace_id, anonymous_id, received_at) WHERE contact_id IS NULL"
            )
        )
        conn.execute(
            text(
                "CREATE INDEX ix_events_anonymous"
                " ON events (workspace_id, anonymous_id, timestamp, id)"
            )
        )
        conn.execute(delete(schema_version).where(schema_version.c.version == 9))
        for i in range(3):
            _store_event(conn, f"before-{i}")


def _store_event(conn: Connection, message_id: str) -> None:
    conn.execute(
        text(
            "INSERT INTO events (workspace_id, message_id, type, anonymous_id, timestamp,"
            " received_at, properties, traits, context)"
            " VALUES ('ws', :m, 'page', 'dev', 1, 1, '{}', '{}', '{}')"
        ),
        {"m": message_id},
    )


def _waiting_for_a_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        waiting = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(waiting and waiting[0])


@pytest.mark.postgres
def test_rebuilding_the_event_indexes_on_postgresql_does_not_hold_off_ingest(
    fresh_pg_url: str,
) -> None:
    """Migration 9 rebuilds indexes of `events` on a database that servers of the previous
    version are writing. While it runs (here: waiting for a transaction that is storing
    events), other transactions still store events, and the indexes it leaves hold them."""
    db = open_database(fresh_pg_url)
    try:
        migrate(db)
        _back_to_version_8(db)
        with db.writer.connect() as storing, ThreadPoolExecutor(1) as pool:
            transaction = storing.begin()
            try:
                _store_event(storing, "open-while-migrating")
                migrating = pool.submit(migrate, db)
                deadline = time.monotonic() + 30
                while not _waiting_for_a_lock(fresh_pg_url):
                    assert time.monotonic() < deadline, "the migration never waited"
                    assert not migrating.done(), migrating.result()
                    time.sleep(0.05)
                with psycopg.connect(fresh_pg_url, autocommit=True) as other:
                    other.execute("SET lock_timeout = '5s'")  # a CREATE INDEX holds it off
                    other.execute(
                        "INSERT INTO events (workspace_id, message_id, type, anonymous_id,"
                        " timestamp, received_at, properties, traits, context)"
                        " VALUES ('ws', 'during', 'page', 'dev', 2, 2, '{}', '{}', '{}')"
                    )
                transaction.commit()
            finally:
                if transaction.is_active:  # let the migration finish, or the pool never does
                    transaction.rollback()
            assert migrating.result(timeout=60) == [9]
        with db.reader.connect() as conn:
            _assert_device_indexes_are_disjoint(conn)
            assert _invalid_or_leftover_indexes(conn) == []
            conn.execute(text("SET enable_seqscan = off"))  # read through the new index
            stored = conn.execute(
                text(
                    "SELECT message_id FROM events WHERE workspace_id = 'ws'"
                    " AND anonymous_id = 'dev' AND contact_id IS NULL ORDER BY timestamp, id"
                )
            ).scalars()
            assert list(stored) == [
                "before-0", "before-1", "before-2", "open-while-migrating", "during"
            ]  # fmt: skip
    finally:
        db.dispose()


def _invalid_or_leftover_indexes(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE NOT i.indisvalid OR c.relname LIKE '%\\_new'"
            )
        ).scalars()
    )


@pytest.mark.postgres
def test_an_index_build_left_unfinished_is_built_again(fresh_pg_url: str) -> None:
    """A migration interrupted while it built an index CONCURRENTLY left an invalid index
    under the temporary name; the next `seam migrate` builds it again and finishes."""
    db = open_database(fresh_pg_url)
    try:
        migrate(db)
        _back_to_version_8(db)
        with db.writer.begin() as conn:
            conn.execute(text("CREATE INDEX ix_events_unattributed_new ON events (workspace_id)"))
            conn.execute(
                text(
                    "UPDATE pg_index SET indisvalid = false"
                    " WHERE indexrelid = 'ix_events_unattributed_new'::regclass"
                )
            )
        assert migrate(db) == [9]
        with db.reader.connect() as conn:
            _assert_device_indexes_are_disjoint(conn)
            assert _invalid_or_leftover_indexes(conn) == []
    finally:
        db.dispose()


def test_servers_starting_together_apply_each_migration_once(empty_db: Database) -> None:
    """Several processes start on a new database at once: one applies the migrations, the
    others wait for it and find nothing left to do."""
    url = empty_db.url
    databases = [open_database(url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(len(databases)) as pool:
            applied = list(pool.map(migrate, databases))
    finally:
        for database in databases:
            database.dispose()
    everything = [m.version for m in MIGRATIONS]
    assert sorted(applied, key=len) == [[], [], everything]
    with empty_db.reader.connect() as conn:
        versions = conn.execute(select(schema_version.c.version)).scalars()
        assert sorted(versions) == everything
