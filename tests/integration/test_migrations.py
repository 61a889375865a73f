"""Migrations: a new database gets every version; an older one is brought up to date in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, text

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
    assert migrate(empty_db) == [version for version, _, _ in MIGRATIONS]
    assert migrate(empty_db) == []
    with empty_db.reader.connect() as conn:
        assert "IS NOT NULL" in _index_sql(conn)
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
        conn.execute(text("DROP INDEX uq_api_keys_form"))
        conn.execute(text("ALTER TABLE api_keys DROP COLUMN form_id"))
        conn.execute(text("DROP TABLE sign_in_failures"))
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

    assert migrate(empty_db) == [2, 3, 4, 5, 6, 7, 8, 9]

    with empty_db.reader.connect() as conn:
        _assert_device_indexes_are_disjoint(conn)
        assert "IS NOT NULL" in _index_sql(conn)
        rows = conn.execute(text("SELECT message_id, contact_id FROM events ORDER BY 1")).all()
    assert [tuple(r) for r in rows] == [("m1", None), ("m2", "c1")]
    with empty_db.writer.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM sign_in_failures")).scalar() == 0
        assert len(workspaces.list_keys(conn, ws.id)) == 1
        once = {"form_id": "form-1", "kind": "secret", "scopes": ["admin"]}
        assert workspaces.create_key_once(conn, ws.id, **once) is not None
        assert workspaces.create_key_once(conn, ws.id, **once) is None
