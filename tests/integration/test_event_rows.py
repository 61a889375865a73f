"""Event rows as the write path makes them (`events.EventRow`): every column of `events`, the
empty ones left out of what PostgreSQL is sent, stored as given on both backends."""

from __future__ import annotations

import msgspec
from ingesting import stored_event_row
from sqlalchemy import select

from seam.store import events
from seam.store.engine import Database
from seam.store.tables import events as events_table


def test_an_event_row_has_every_column_of_events() -> None:
    names = tuple(f.name for f in msgspec.structs.fields(events.EventRow))
    assert names == events.EVENT_COLUMNS


def _stored(db: Database, ws: str) -> dict[str, dict[str, object]]:
    with db.reader.connect() as conn:
        rows = conn.execute(select(events_table).where(events_table.c.workspace_id == ws))
        return {r.message_id: {c: getattr(r, c) for c in events.EVENT_COLUMNS} for r in rows}


def test_rows_with_empty_and_full_columns_are_stored_as_given(db: Database) -> None:
    ws = "ws-event-rows"
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
        events.insert_events(conn, [sparse, full])
    stored = _stored(db, ws)
    assert stored == {
        "sparse": msgspec.structs.asdict(sparse),
        "full": msgspec.structs.asdict(full),
    }
    assert stored["sparse"]["contact_id"] is None and stored["sparse"]["flags"] is None
