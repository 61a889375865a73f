"""Readers use pooled PostgreSQL connections without pinging them first: a connection the
server dropped is found dead by the read itself, which then runs once more on a fresh one."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from seam.store.engine import Database, open_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_db(fresh_pg_url: str) -> Iterator[Database]:
    database = open_database(fresh_pg_url)
    yield database
    database.dispose()


def _backend_pid(conn: Connection) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _drop_every_connection(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_read_on_a_dropped_connection_runs_again_on_a_fresh_one(
    pg_db: Database, fresh_pg_url: str
) -> None:
    before = pg_db.read(_backend_pid)  # the pool now holds this connection
    assert _drop_every_connection(fresh_pg_url) >= 1
    runs: list[int] = []

    def work(conn: Connection) -> int:
        runs.append(1)
        return _backend_pid(conn)

    after = pg_db.read(work)
    assert after != before
    assert len(runs) == 2  # the first run met the dead connection
    assert pg_db.read(_backend_pid) == after  # and the pool kept the fresh one


def test_a_read_that_fails_for_another_reason_is_not_run_again(pg_db: Database) -> None:
    runs: list[int] = []

    def work(conn: Connection) -> None:
        runs.append(1)
        conn.execute(text("SELECT no_such_column FROM pg_class"))

    with pytest.raises(ProgrammingError):
        pg_db.read(work)
    assert runs == [1]


def test_a_read_is_run_twice_at_most(pg_db: Database, fresh_pg_url: str) -> None:
    """Both connections dead (the server dropped the fresh one too): the error reaches the
    caller instead of a loop of retries."""
    pg_db.read(_backend_pid)
    _drop_every_connection(fresh_pg_url)
    runs: list[int] = []

    def work(conn: Connection) -> int:
        runs.append(1)
        if len(runs) == 2:
            _drop_every_connection(fresh_pg_url)
        return _backend_pid(conn)

    with pytest.raises(DBAPIError):
        pg_db.read(work)
    assert len(runs) == 2
