"""Integration fixtures: the real store on a SQLite file and on the local PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from seam.store.engine import Database, open_database
from seam.store.migrations import migrate

PG_ADMIN = os.environ.get("SEAM_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/postgres")


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def _scratch_pg(prefix: str) -> Iterator[str]:
    if not pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable")
        pytest.skip("PostgreSQL is not reachable")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://root@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, dropped afterwards."""
    with _scratch_pg("seam_it") as url:
        yield url


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A PostgreSQL database of the test's own, which no other test's traffic has touched."""
    with _scratch_pg("seam_fresh") as url:
        yield url


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    """The store on this session's PostgreSQL database, for what only PostgreSQL does."""
    database = open_database(pg_url)
    migrate(database)
    yield database
    database.dispose()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('it') / 'seam.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    database = open_database(url)
    migrate(database)
    yield database
    database.dispose()
