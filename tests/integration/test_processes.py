"""Processes on one database count each other by heartbeat, and a workspace's rate limit is
the deployment's: two servers together let through about the limit, not twice it, and a
client whose requests all reach one of them gets the whole limit there."""

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
        assert processes.heartbeat(conn, "a", at).live == 1
        assert processes.heartbeat(conn, "b", at + SECOND).live == 2
        assert processes.heartbeat(conn, "a", at + 2 * SECOND).live == 2  # a beat again: still 2
        # b falls silent: once its last beat is older than the window, it no longer counts.
        later = at + SECOND + processes.LIVE_FOR_US + 1
        assert processes.heartbeat(conn, "a", later).live == 1
        processes.heartbeat(conn, "b", later)
        processes.leave(conn, "b")
        assert processes.heartbeat(conn, "a", later + SECOND).live == 1


def test_a_heartbeat_tells_what_the_other_live_processes_let_through(db: Database) -> None:
    at = 1_950_000_000 * SECOND
    with db.writer.begin() as conn:
        processes.heartbeat(conn, "p1", at, key_rates={"k1": 300.0, "k2": 5.0})
        processes.heartbeat(conn, "p2", at, key_rates={"k1": 200.0})
        mine = processes.heartbeat(conn, "p3", at, key_rates={"k1": 999.0, "k3": 1.0})
        assert mine.live == 3
        assert mine.used_by_others == {"k1": 500.0, "k2": 5.0}  # not its own rates
        # p1 falls silent: what it let through no longer counts.
        later = at + processes.LIVE_FOR_US + 1
        processes.heartbeat(conn, "p2", later, key_rates={"k1": 100.0})
        assert processes.heartbeat(conn, "p3", later).used_by_others == {"k1": 100.0}


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


def _counting_each_other(urls: list[str]) -> None:
    deadline = time.monotonic() + 10
    while not all(httpx.get(f"{u}/healthz").json()["processes"] == 2 for u in urls):
        assert time.monotonic() < deadline, "the servers never counted each other"
        time.sleep(0.1)


def _statuses(url: str, secret: str, seconds: float, pause: float = 0.0) -> list[int]:
    """Ask `url` for contacts for `seconds`, pausing `pause` between requests."""
    found = []
    with httpx.Client(base_url=url, auth=(secret, "")) as http:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            found.append(http.get("/v1/contacts").status_code)
            time.sleep(pause)
    return found


def test_servers_on_one_database_share_a_workspaces_rate_limit(limited: Cluster) -> None:
    """Both servers are asked for all they will give for 4 s: together they let through about
    the limit of 10 a second (each bursts at most its even share; for the first heartbeat or
    two each may let through more than half, until it has heard what the other let through),
    where two unshared limits would let through ~100 (measured: 52-53)."""
    urls, secret = limited
    _counting_each_other(urls)
    time.sleep(1.5)  # the buckets the health checks did not touch are full again anyway
    with ThreadPoolExecutor(2) as pool:
        statuses = [s for found in pool.map(lambda u: _statuses(u, secret, 4), urls) for s in found]
    assert set(statuses) <= {200, 429}
    assert 40 <= statuses.count(200) <= 60, statuses.count(200)


def test_a_client_whose_requests_all_reach_one_server_gets_the_whole_limit(
    limited: Cluster,
) -> None:
    """A keep-alive connection stays with one server: at 7 requests a second, under the
    limit of 10, none is refused, although the other server is up (an even share would be 5)."""
    urls, secret = limited
    _counting_each_other(urls)
    time.sleep(1.5)
    statuses = _statuses(urls[0], secret, 4, pause=1 / 7)
    assert len(statuses) >= 20
    assert set(statuses) == {200}, statuses
