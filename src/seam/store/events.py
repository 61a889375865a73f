"""Events: insert-or-ignore by message id, back-fill, timeline queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement, Connection, func, or_, select, update

from seam.store.dialect import execute_many, insert_rows, prepare
from seam.store.tables import events

# Attributions where the event itself named its contact; a device move leaves them in place.
NAMED_VIAS = ("user_id", "cookie")


EVENT_COLUMNS = tuple(c.name for c in events.columns if c.name != "id")


def _insert_events(conn: Connection) -> ClauseElement:
    stmt: ClauseElement = insert_rows(conn, events, EVENT_COLUMNS).on_conflict_do_nothing()
    return stmt


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store events; a message id seen before in the workspace is ignored (retries are safe).
    Each row has every column of EVENT_COLUMNS."""
    execute_many(conn, prepare(conn, "insert_events", _insert_events), rows)


def backfill(
    conn: Connection, ws: str, anonymous_id: str, contact_id: str, *, via: str, now: int
) -> int:
    """Attribute the visitor's still-anonymous events to the contact; returns how many."""
    result = conn.execute(
        update(events)
        .where(
            events.c.workspace_id == ws,
            events.c.anonymous_id == anonymous_id,
            events.c.contact_id.is_(None),
        )
        .values(contact_id=contact_id, via=via, attributed_at=now)
    )
    return int(result.rowcount)


def close_page_view(
    conn: Connection,
    ws: str,
    page_message_id: str,
    duration_ms: int | None,
    scroll_depth: int | None,
) -> None:
    """Attach a page_leave's measurements to the page view it ends."""
    values: dict[str, int] = {}
    if duration_ms is not None:
        values["duration_ms"] = duration_ms
    if scroll_depth is not None:
        values["scroll_depth"] = scroll_depth
    if values:
        conn.execute(
            update(events)
            .where(
                events.c.workspace_id == ws,
                events.c.message_id == page_message_id,
                events.c.type == "page",
            )
            .values(**values)
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
    themselves (a userId or the external-id cookie)."""
    return int(
        conn.execute(
            update(events)
            .where(
                events.c.workspace_id == ws,
                events.c.anonymous_id == anonymous_id,
                or_(events.c.contact_id.is_(None), events.c.via.not_in(NAMED_VIAS)),
            )
            .values(contact_id=contact_id, via=via, attributed_at=now)
        ).rowcount
    )


@dataclass(frozen=True)
class EventQuery:
    contact_id: str | None = None
    anonymous_id: str | None = None
    session_id: str | None = None
    identified_only: bool = False
    types: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None
    descending: bool = True
    limit: int = 100
    after: tuple[int, int] | None = None  # (timestamp, id) of the last row of the previous page


def find(conn: Connection, ws: str, q: EventQuery) -> list[Any]:
    stmt = select(events).where(events.c.workspace_id == ws)
    if q.contact_id is not None:
        stmt = stmt.where(events.c.contact_id == q.contact_id)
    if q.anonymous_id is not None:
        stmt = stmt.where(events.c.anonymous_id == q.anonymous_id)
    if q.session_id is not None:
        stmt = stmt.where(events.c.session_id == q.session_id)
    if q.identified_only:
        stmt = stmt.where(events.c.contact_id.is_not(None))
    if q.types:
        stmt = stmt.where(events.c.type.in_(q.types))
    if q.since is not None:
        stmt = stmt.where(events.c.timestamp >= q.since)
    if q.until is not None:
        stmt = stmt.where(events.c.timestamp < q.until)
    if q.after is not None:
        # The redundant bound on timestamp alone lets PostgreSQL start the index scan at the
        # cursor instead of filtering every newer row out (SQLite finds the range either way).
        ts, last_id = q.after
        if q.descending:
            stmt = stmt.where(
                events.c.timestamp <= ts,
                or_(events.c.timestamp < ts, events.c.id < last_id),
            )
        else:
            stmt = stmt.where(
                events.c.timestamp >= ts,
                or_(events.c.timestamp > ts, events.c.id > last_id),
            )
    order = (
        (events.c.timestamp.desc(), events.c.id.desc())
        if q.descending
        else (events.c.timestamp.asc(), events.c.id.asc())
    )
    return list(conn.execute(stmt.order_by(*order).limit(q.limit)).fetchall())


def page_views_of_sessions(
    conn: Connection, ws: str, session_ids: Iterable[str]
) -> dict[str, list[tuple[int, int]]]:
    """session -> sorted (timestamp, id) of its page views, to derive missing durations."""
    ids = list(set(session_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(events.c.session_id, events.c.timestamp, events.c.id)
        .where(
            events.c.workspace_id == ws,
            events.c.session_id.in_(ids),
            events.c.type == "page",
        )
        .order_by(events.c.timestamp, events.c.id)
    )
    out: dict[str, list[tuple[int, int]]] = {}
    for r in rows:
        out.setdefault(r.session_id, []).append((r.timestamp, r.id))
    return out


def visitor_of_session(conn: Connection, ws: str, session_id: str) -> str | None:
    row = conn.execute(
        select(events.c.anonymous_id)
        .where(
            events.c.workspace_id == ws,
            events.c.session_id == session_id,
            events.c.anonymous_id.is_not(None),
        )
        .limit(1)
    ).first()
    return row.anonymous_id if row else None


def count_for_contact(conn: Connection, ws: str, contact_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.workspace_id == ws, events.c.contact_id == contact_id)
        ).scalar_one()
    )


def count_for_visitor(conn: Connection, ws: str, anonymous_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.workspace_id == ws, events.c.anonymous_id == anonymous_id)
        ).scalar_one()
    )
