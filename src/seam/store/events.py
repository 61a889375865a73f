"""Events: insert-or-ignore by message id, and the later changes to stored events (page
closings, the enrichment pass, admin moves and merges). Reading is `store/timelines.py`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import ClauseElement, Column, Connection, Integer, and_, bindparam, func, update
from sqlalchemy.sql.elements import ColumnElement

from seam.store import copying
from seam.store.dialect import Statement, greatest, insert_rows, select_in
from seam.store.tables import events
from seam.store.visitors import Binding

# Attributions where the event itself named its contact; a device move leaves them in place.
NAMED_VIAS = ("user_id", "cookie")


EVENT_COLUMNS = tuple(c.name for c in events.columns if c.name != "id")


class EventRow(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A row to store in `events`, its fields in the order of EVENT_COLUMNS. PostgreSQL gets
    the rows as a JSON array, where an empty column is left out rather than sent as null: an
    anonymous track has 9 empty columns of 19, and sending them cost PostgreSQL ~2 µs of its
    ~24 µs storing the event, and the writer time encoding them."""

    workspace_id: str
    message_id: str
    type: str
    event: str | None = None
    name: str | None = None
    anonymous_id: str | None = None
    user_id: str | None = None
    contact_id: str | None = None
    session_id: str | None = None
    timestamp: int
    received_at: int
    properties: str
    traits: str
    context: str
    via: str | None = None
    attributed_at: int | None = None
    duration_ms: int | None = None
    scroll_depth: int | None = None
    flags: str | None = None


# No conflict target: naming (workspace_id, message_id) spared PostgreSQL a check of the
# primary key's index before each row, but under single-event load ran at 0.98 of this.
_insert_events = Statement(
    lambda conn: insert_rows(conn, events, EVENT_COLUMNS).on_conflict_do_nothing()
)


def insert_events(conn: Connection, rows: Sequence[EventRow]) -> None:
    """Store events; a message id seen before in the workspace is ignored (retries are safe)."""
    copying.insert_or_fall_back(
        conn, events.name, EVENT_COLUMNS, rows, lambda: _insert_events.write_many(conn, rows)
    )


def stored_message_ids(conn: Connection, ws: str, message_ids: Sequence[str]) -> set[str]:
    """Which of these message ids the workspace already holds (by the unique index)."""
    rows = select_in(
        conn,
        "SELECT message_id FROM events WHERE workspace_id = {ws} AND {match}",
        [ws],
        "message_id",
        sorted(set(message_ids)),
    )
    return {message_id for (message_id,) in rows}


_attribute_raced = Statement(
    lambda conn: (
        update(events)
        .where(
            events.c.workspace_id == bindparam("ws"),
            events.c.anonymous_id == bindparam("anonymous_id"),
            events.c.contact_id.is_(None),
            events.c.received_at > bindparam("bound_at"),
        )
        .values(
            contact_id=bindparam("contact_id"), via="enrichment", attributed_at=events.c.received_at
        )
    )
)


def attribute_raced(conn: Connection, ws: str, bindings: Sequence[Binding]) -> int:
    """Store the attribution of the events that raced these bindings: events of the device
    still stored without a contact although they arrived after the binding (they read it as
    free; `attribute_through_device` says the same of them until then). One index range per
    device, holding just those events. Returns how many were attributed."""
    return _attribute_raced.run_many(
        conn,
        [
            {
                "ws": ws,
                "anonymous_id": b.anonymous_id,
                "contact_id": b.contact_id,
                "bound_at": b.bound_at,
            }
            for b in bindings
        ],
    )


def _build_close_page_view(conn: Connection) -> ClauseElement:
    return (
        update(events)
        .where(
            events.c.workspace_id == bindparam("ws"),
            events.c.message_id == bindparam("message_id"),
            events.c.anonymous_id == bindparam("anonymous_id"),
            events.c.type == "page",
        )
        .values(
            duration_ms=_larger(conn, events.c.duration_ms),
            scroll_depth=_larger(conn, events.c.scroll_depth),
        )
    )


def _larger(conn: Connection, column: Column[Any]) -> ColumnElement[Any]:
    """The larger of the stored value and the one sent (the parameter named as the column),
    either of which may be NULL: SQLite's max() of a NULL is NULL, so each falls back to the
    other first."""
    sent = bindparam(column.name, type_=Integer)
    return greatest(conn, func.coalesce(sent, column), func.coalesce(column, sent))


_close_page_view = Statement(_build_close_page_view)


def close_page_view(
    conn: Connection,
    ws: str,
    anonymous_id: str | None,
    page_message_id: str,
    duration_ms: int | None,
    scroll_depth: int | None,
) -> None:
    """Attach a page_leave's measurements (those it has) to the page view it ends: one of the
    same visitor only, so nobody can change another visitor's page views. The tracker sends
    cumulative values, so a later page_leave of the same page view never lowers them."""
    if anonymous_id and (duration_ms is not None or scroll_depth is not None):
        _close_page_view.run(
            conn,
            ws=ws,
            message_id=page_message_id,
            anonymous_id=anonymous_id,
            duration_ms=duration_ms,
            scroll_depth=scroll_depth,
        )


def reassign_contact(conn: Connection, ws: str, from_contact: str, to_contact: str) -> int:
    return int(
        conn.execute(
            update(events)
            .where(events.c.workspace_id == ws, events.c.contact_id == from_contact)
            .values(contact_id=to_contact)
        ).rowcount
    )


def reattribute_visitor(
    conn: Connection, ws: str, anonymous_id: str, contact_id: str, *, via: str, now: int
) -> int:
    """Admin move: the visitor's events follow it, except those that named their contact
    themselves (a userId or the external-id cookie). One statement per index of the device's
    events (see `tables.events`), the attributed ones first: the second statement would
    otherwise find the rows the first just attributed and count them again."""
    moved = 0
    for events_of_device in (
        and_(events.c.contact_id.is_not(None), events.c.via.not_in(NAMED_VIAS)),
        events.c.contact_id.is_(None),
    ):
        moved += conn.execute(
            update(events)
            .where(
                events.c.workspace_id == ws, events.c.anonymous_id == anonymous_id, events_of_device
            )
            .values(contact_id=contact_id, via=via, attributed_at=now)
        ).rowcount
    return moved
