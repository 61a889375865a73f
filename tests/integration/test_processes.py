"""Processes on one database count each other by heartbeat, and a workspace's rate limit is
the deployment's: two servers together let through about the limit, not twice it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from servers import Cluster, two_servers

from seam.store import processes
from seam.store.engine import Database

SECOND = 1_000_000


def test_a_heartbeat_counts_the_processes_heard_of_lately(db: Database) -> None:
    at = 1_900_000_000 * SECOND  # years ahead: rows of real processes are long gone by then
    with db.writer.begin() as conn:
        assert processes.heartbeat(conn, "a", at) == 1
        assert processes.heartbeat(conn, "b", at + SECOND) == 2
        assert processes.heartbeat(conn, "a", at + 2 * SECOND) == 2  # a beat again: still 2
        # b falls silent: once its last beat is older than the window, it no longer counts.
        later = at + SECOND + processes.LIVE_FOR_US + 1
        assert processes.heartbeat(conn, "a", later) == 1
        processes.heartbeat(conn, "b", later)
        processes.leave(conn, "b")
        assert processes.heartbeat(conn, "a", later + SECOND) == 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    logs = tmp_path_factory.mktemp("limited")
    url = (
        f"sqlite:///{logs / 'seam.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_pg_url")
    )
    with two_servers(url, logs, env={"SEAM_HEARTBEAT_SECONDS": "0.2"}, rate_limit=10) as found:
        yield found


def test_servers_on_one_database_share_a_workspaces_rate_limit(limited: Cluster) -> None:
    urls, secret = limited
    deadline = time.monotonic() + 10
    while not all(httpx.get(f"{u}/healthz").json()["processes"] == 2 for u in urls):
        assert time.monotonic() < deadline, "the servers never counted each other"
        time.sleep(0.1)
    time.sleep(1.5)  # the buckets the health checks did not touch are full again anyway

    def burst(url: str) -> list[int]:
        with httpx.Client(base_url=url, auth=(secret, "")) as http:
            return [http.get("/v1/contacts").status_code for _ in range(30)]

    with ThreadPoolExecutor(2) as pool:
        statuses = [s for found in pool.map(burst, urls) for s in found]
    assert set(statuses) <= {200, 429}
    # Each server allows half of 10 a second: a burst passes ~5 on each (plus what refills
    # while it runs), where two unshared limits would pass ~10 on each.
    assert statuses.count(200) <= 15, statuses.count(200)
    assert statuses.count(200) >= 8
