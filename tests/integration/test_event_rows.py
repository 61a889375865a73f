"""Event rows as the write path makes them (`events.EventRow`): every column of `events`, the
empty ones left out of what PostgreSQL is sent, stored as given on both backends, alone and in
bundles large enough for PostgreSQL's COPY (`store.copying`)."""

from __future__ import annotations

import msgspec
import pytest
from ingesting import stored_event_row
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from seam.store import events
from seam.store.copying import COPY_MIN_ROWS
from seam.store.engine import Database
from seam.store.tables import events as events_table


def test_an_event_row_has_every_column_of_events() -> None:
    names = tuple(f.name for f in msgspec.structs.fields(events.EventRow))
    assert names == events.EVENT_COLUMNS


def _stored(db: Database, ws: str) -> dict[str, dict[str, object]]:
    with db.reader.connect() as conn:
        rows = conn.execute(select(events_table).where(events_table.c.workspace_id == ws))
        return {r.message_id: {c: getattr(r, c) for c in events.EVENT_COLUMNS} for r in rows}


def _filler(ws: str, count: int, prefix: str = "filler") -> list[events.EventRow]:
    return [stored_event_row(workspace_id=ws, message_id=f"{prefix}-{i}") for i in range(count)]


BUNDLES = {"alone": 0, "in a large bundle": COPY_MIN_ROWS}


@pytest.mark.parametrize("fillers", BUNDLES.values(), ids=BUNDLES.keys())
def test_rows_with_empty_and_full_columns_are_stored_as_given(db: Database, fillers: int) -> None:
    ws = f"ws-event-rows-{fillers}"
    sparse = stored_event_row(workspace_id=ws, message_id="sparse")
    full = events.EventRow(
        workspace_id=ws,
        message_id="full",
        type="page",
        event="Viewed",
        name="Pricing",
        anonymous_id="device-1",
        user_id="user-1",
        contact_id="contact-1",
        session_id="session-1",
        timestamp=3,
        received_at=4,
        properties='{"plan": "pro"}',
        traits='{"email": "ada@example.com"}',
        context='{"ip": "203.0.113.9"}',
        via="user_id",
        attributed_at=5,
        duration_ms=6,
        scroll_depth=7,
        flags="a,b",
    )
    with db.writer.begin() as conn:
        events.insert_events(conn, [sparse, full, *_filler(ws, fillers)])
    stored = _stored(db, ws)
    assert len(stored) == 2 + fillers
    assert stored["sparse"] == msgspec.structs.asdict(sparse)
    assert stored["full"] == msgspec.structs.asdict(full)
    assert stored["sparse"]["contact_id"] is None and stored["sparse"]["flags"] is None


@pytest.mark.parametrize("fillers", BUNDLES.values(), ids=BUNDLES.keys())
def test_message_ids_already_stored_are_skipped_and_the_rest_stored(
    db: Database, fillers: int
) -> None:
    """A retried message leaves its stored event as it was; its new neighbours are stored (on
    PostgreSQL a large bundle's COPY fails on the retried id and the bundle is inserted again,
    skipping it)."""
    ws = f"ws-event-rows-retried-{fillers}"
    first = [
        stored_event_row(workspace_id=ws, message_id=f"m-{i}", event="First") for i in range(3)
    ]
    with db.writer.begin() as conn:
        events.insert_events(conn, first)
    retried = [
        stored_event_row(workspace_id=ws, message_id=f"m-{i}", event="Retry") for i in range(3)
    ]
    new = _filler(ws, fillers + 1, prefix="new")
    with db.writer.begin() as conn:
        events.insert_events(conn, [*new[:1], *retried, *new[1:]])
        # The transaction goes on after the bundle: a later statement sees every row.
        count = conn.execute(
            select(func.count()).select_from(events_table).where(events_table.c.workspace_id == ws)
        ).scalar_one()
    assert count == 3 + len(new)
    stored = _stored(db, ws)
    assert {stored[f"m-{i}"]["event"] for i in range(3)} == {"First"}
    assert {row.message_id for row in new} <= stored.keys()


@pytest.mark.postgres
@pytest.mark.parametrize("fillers", BUNDLES.values(), ids=BUNDLES.keys())
def test_a_value_postgresql_refuses_fails_the_bundle_whatever_its_size(
    pg_db: Database, fillers: int
) -> None:
    """Validation keeps such values out; should one get through, a large bundle fails as a
    small one does (a DataError, which the writer answers with a 400), and stores nothing."""
    ws = f"ws-event-rows-refused-{fillers}"
    bad = stored_event_row(workspace_id=ws, message_id="bad", properties='{"k": "a\u0000"}')
    with pytest.raises(DataError), pg_db.writer.begin() as conn:
        events.insert_events(conn, [*_filler(ws, fillers), bad])
    assert _stored(pg_db, ws) == {}
