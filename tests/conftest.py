"""Shared fixtures for the black-box suites (tests/e2e, tests/compat).

A real `seam serve` process per backend (SQLite file, fresh PostgreSQL database), started once per
session, and a fresh workspace per test made with the SPEC's own CLI (`seam workspace create`).
Tests talk to the server over HTTP only; the harness lives in tests/e2e/support.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from e2e.support import (
    Server,
    Workspace,
    create_workspace,
    free_port,
    http_client,
    postgres_database,
    start_server,
    stop_server,
)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A running `seam serve` on the parametrized backend."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"seam-{backend}")
    if backend == "sqlite":
        databases: Iterator[str] = iter([f"sqlite:///{tmp / 'seam.db'}"])
        db_url = next(databases)
    else:
        databases = postgres_database()
        db_url = next(databases)
    srv = Server(backend, db_url, f"http://127.0.0.1:{free_port()}", tmp / "server.log")
    try:
        start_server(srv)
        yield srv
    finally:
        stop_server(srv)
        for _ in databases:  # finish the generator: drops the PostgreSQL database
            pass


@pytest.fixture(scope="session")
def http(server: Server) -> Iterator[httpx.Client]:
    with http_client(server.base_url) as client:
        yield client


@pytest.fixture
def workspace(server: Server, http: httpx.Client) -> Workspace:
    """A fresh workspace (domain example.com) for one test: tests share the server, not data."""
    return create_workspace(server, http)


@pytest.fixture(scope="session")
def shared_workspace(server: Server, http: httpx.Client) -> Workspace:
    """One workspace for tests that only check validation and leave no state they read back."""
    return create_workspace(server, http)


@pytest.fixture(scope="session")
def make_workspace(server: Server, http: httpx.Client) -> Callable[..., Workspace]:
    def make(*domains: str) -> Workspace:
        return create_workspace(server, http, *domains)

    return make
