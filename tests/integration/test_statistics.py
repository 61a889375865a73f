"""Planner statistics: a freshly migrated PostgreSQL database filled at ingest speed gets them
from Seam within seconds, not after autovacuum's next round."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ingesting import stored_event_row
from sqlalchemy import Connection, text

from seam.store import events, statistics, visitors
from seam.store.engine import Database, open_database
from seam.store.events import EventRow
from seam.store.migrations import migrate


@pytest.fixture
def fresh_pg(fresh_pg_url: str) -> Iterator[Database]:
    database = open_database(fresh_pg_url)
    try:
        migrate(database)
        yield database
    finally:
        database.dispose()


def _event(i: int, workspace_id: str = "ws-stats") -> EventRow:
    return stored_event_row(
        workspace_id=workspace_id,
        message_id=f"m-{i}",
        anonymous_id=f"a-{i % 300}",
        timestamp=1_700_000_000_000_000 + i,
        received_at=1_700_000_000_000_000 + i,
        properties='{"plan": "pro", "quote": "\\"it\'s\\""}',
    )


def _until_named(tables: Callable[[Connection], list[str]], db: Database, name: str) -> list[str]:
    """`tables` in a transaction of its own, again until it names `name` or 20 s have passed
    (the inserting backend reports its counts within ~1 s); its last answer."""
    found: list[str] = []
    deadline = time.monotonic() + 20
    while name not in found and time.monotonic() < deadline:
        with db.writer.begin() as conn:
            found = tables(conn)
        time.sleep(0.2)
    return found


def _analyzed(database: Database) -> set[str]:
    with database.reader.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables"
                " WHERE coalesce(last_analyze, last_autoanalyze) IS NOT NULL"
            )
        )
        return {name for (name,) in rows}


@pytest.mark.postgres
def test_a_table_filled_after_migrate_is_analyzed_once_and_then_left_alone(
    fresh_pg: Database,
) -> None:
    with fresh_pg.writer.begin() as conn:
        events.insert_events(conn, [_event(i) for i in range(3000)])
    assert "events" not in _analyzed(fresh_pg)

    assert "events" in _until_named(statistics.refresh, fresh_pg, "events")
    assert "events" in _analyzed(fresh_pg)
    with fresh_pg.writer.begin() as conn:
        assert "events" not in statistics.refresh(conn)
    with fresh_pg.reader.connect() as conn:
        with_statistics = set(
            conn.execute(text("SELECT attname FROM pg_stats WHERE tablename = 'events'")).scalars()
        )
        stored = conn.execute(
            text("SELECT count(*), min(properties) FROM events WHERE workspace_id = 'ws-stats'")
        ).one()
    # The columns queries compare, not the payloads (a third of the analysis).
    assert {"workspace_id", "anonymous_id", "message_id", "timestamp"} <= with_statistics
    assert not with_statistics & {"properties", "traits", "context"}
    assert tuple(stored) == (3000, '{"plan": "pro", "quote": "\\"it\'s\\""}')


@pytest.mark.postgres
def test_a_table_changed_by_a_tenth_again_is_analyzed_once_its_spacing_has_passed(
    fresh_pg: Database,
) -> None:
    with fresh_pg.writer.begin() as conn:
        events.insert_events(conn, [_event(i) for i in range(3000)])
    with fresh_pg.writer.begin() as conn:
        conn.execute(text("ANALYZE events"))
    with fresh_pg.writer.begin() as conn:
        events.insert_events(conn, [_event(i) for i in range(3000, 4500)])

    def stale(conn: Connection) -> list[str]:
        return statistics.stale_tables(conn, max_spacing=0.0)

    # Changed by half since its analysis.
    assert "events" in _until_named(stale, fresh_pg, "events")

    # 4,500 rows of a 30,000-row sample: a tenth of an hour apart at the least.
    with fresh_pg.writer.begin() as conn:
        assert "events" not in statistics.refresh(conn, max_spacing=3600.0)
    with fresh_pg.writer.begin() as conn:
        assert "events" in statistics.refresh(conn, max_spacing=0.0)


def test_sqlite_has_nothing_to_analyze(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'seam.db'}")
    try:
        migrate(database)
        with database.writer.begin() as conn:
            events.insert_events(conn, [_event(i) for i in range(3000)])
        with database.writer.begin() as conn:
            assert statistics.refresh(conn) == []
    finally:
        database.dispose()


def _index_entries_read(conn: Connection, table: str) -> dict[str, int]:
    """Index entries each index of `table` has returned in this transaction so far."""
    rows = conn.execute(
        text(
            "SELECT indexrelid::regclass::text, pg_stat_get_xact_tuples_returned(indexrelid)"
            " FROM pg_index WHERE indrelid = CAST(:table AS regclass)"
        ),
        {"table": table},
    )
    return {name: int(n) for name, n in rows}


@pytest.mark.postgres
def test_batch_lookups_in_a_workspace_newer_than_the_statistics_read_only_their_keys(
    fresh_pg: Database,
) -> None:
    """The statistics know workspace `old` only: `new` looks empty to the planner. A commit's
    lookups of `new`'s visitors and message ids must still go by key, not read all of `new`
    through another index led by workspace_id."""
    with fresh_pg.writer.begin() as conn:
        visitors.record_seen(conn, "old", {f"old-a-{i}": (1, 2) for i in range(3000)})
        events.insert_events(conn, [_event(i, workspace_id="old") for i in range(3000)])
        conn.execute(text("ANALYZE visitors"))
        conn.execute(text("ANALYZE events"))
        visitors.record_seen(conn, "new", {f"new-a-{i}": (1, 2) for i in range(3000)})
        events.insert_events(conn, [_event(i, workspace_id="new") for i in range(3000)])
    devices = [f"new-a-{i}" for i in range(0, 3000, 150)] + ["new-a-missing"]
    message_ids = [f"m-{i}" for i in range(0, 3000, 150)] + ["m-missing"]

    with fresh_pg.writer.begin() as conn:
        before = _index_entries_read(conn, "visitors") | _index_entries_read(conn, "events")
        found = visitors.known(conn, "new", devices)
        stored = events.stored_message_ids(conn, "new", message_ids)
        after = _index_entries_read(conn, "visitors") | _index_entries_read(conn, "events")

    assert (len(found), len(stored)) == (20, 20)
    read = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    assert read == {"visitors_pkey": 20, "uq_events_message_id": 20}
