"""Timeline pages read index ranges of their contact or device, never the workspace's events by
time: SQLite plans without statistics, and a page after a cursor (`timestamp < …`) once made it
read every event of the workspace older than the cursor through the index by time (32 ms a
page instead of 0.4 with 200,000 events stored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ingesting import ingest, secret_key_caller

from seam.clock import to_iso
from seam.store import contacts, timelines
from seam.store.engine import Database, open_database
from seam.store.migrations import migrate
from seam.store.timelines import EventQuery

BASE = 1_800_000_000_000_000
NOW = BASE + 3_600 * 1_000_000


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'seam.db'}")
    migrate(database)
    yield database
    database.dispose()


def page_view(i: int, **fields: object) -> dict[str, object]:
    return {
        "type": "page",
        "messageId": f"m-{i}",
        "timestamp": to_iso(BASE + i * 1_000_000),
        **fields,
    }


def plans_of_pages(db: Database, ws: str, query: EventQuery) -> list[str]:
    """The query plan of every statement a walk's second page runs (after a cursor)."""
    with db.reader.connect() as conn:
        first = timelines.find(conn, ws, query)
        after = EventQuery(**{**query.__dict__, "after": (first[-1].timestamp, first[-1].id)})
        raw = conn.connection.driver_connection
        statements: list[str] = []
        raw.set_trace_callback(statements.append)
        try:
            timelines.find(conn, ws, after)
        finally:
            raw.set_trace_callback(None)
        return [
            " / ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}"))
            for sql in statements
            if sql.lstrip().upper().startswith("SELECT")
        ]


@pytest.mark.parametrize("descending", [True, False])
def test_pages_after_a_cursor_read_their_own_index_ranges(sqlite_db: Database, descending: bool):
    caller = secret_key_caller(sqlite_db, "plans")
    ws = caller.workspace.id
    ingest(sqlite_db, caller, [page_view(i, userId="usr-plans") for i in range(5)], now=NOW)
    ingest(
        sqlite_db, caller, [page_view(10 + i, anonymousId="dev-bound") for i in range(5)], now=NOW
    )
    ingest(
        sqlite_db, caller, [page_view(20 + i, anonymousId="dev-free") for i in range(5)], now=NOW
    )
    ingest(
        sqlite_db,
        caller,
        [{"type": "identify", "userId": "usr-plans", "anonymousId": "dev-bound", "messageId": "i"}],
        now=NOW,
    )
    with sqlite_db.reader.connect() as conn:
        contact_id = contacts.by_external_ids(conn, ws, ["usr-plans"])["usr-plans"].id
    for query in (
        EventQuery(contact_id=contact_id, descending=descending, limit=2),
        EventQuery(anonymous_id="dev-bound", descending=descending, limit=2),
        EventQuery(anonymous_id="dev-free", descending=descending, limit=2),
    ):
        plans = plans_of_pages(sqlite_db, ws, query)
        assert plans, query
        for plan in plans:
            assert "ix_events_ts" not in plan, (query, plan)
            assert "SCAN events" not in plan, (query, plan)


def test_a_sessions_events_are_read_from_the_session_index(sqlite_db: Database) -> None:
    """The session index holds only events with a session: lookups by session still use it."""
    caller = secret_key_caller(sqlite_db, "plans")
    ws = caller.workspace.id
    ingest(
        sqlite_db,
        caller,
        [page_view(i, anonymousId="dev-s", context={"session_id": f"s-{i % 2}"}) for i in range(6)]
        + [page_view(10 + i, anonymousId="dev-none") for i in range(6)],
        now=NOW,
    )
    plans = plans_of_pages(sqlite_db, ws, EventQuery(session_id="s-1", limit=2))
    assert plans
    for plan in plans:
        assert "ix_events_session" in plan, plan
    with sqlite_db.reader.connect() as conn:
        assert timelines.visitor_of_session(conn, ws, "s-1") == "dev-s"
        found = timelines.find(conn, ws, EventQuery(session_id="s-1", limit=10))
    assert sorted(e.message_id for e in found) == ["m-1", "m-3", "m-5"]
