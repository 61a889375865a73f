"""Reading events: timelines by contact, device, session or time, and counts.

An event is attributed when it is stored, or later through its device: binding a device to a
contact makes its events stored without a contact that contact's, without rewriting them (one
row update instead of one per event). Every reader goes through `find` and the counts here, so
they all see the same attribution.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, or_, select, true, union_all
from sqlalchemy.sql.elements import ColumnElement

from seam.identity.attribution import attribute_through_device
from seam.store.dialect import Statement
from seam.store.tables import events, visitors


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


class EventRow(NamedTuple):
    """A stored event as readers see it: `contact_id`, `via` and `attributed_at` include the
    attribution through its device's binding."""

    id: int
    workspace_id: str
    message_id: str
    type: str
    event: str | None
    name: str | None
    anonymous_id: str | None
    user_id: str | None
    contact_id: str | None
    session_id: str | None
    timestamp: int
    received_at: int
    properties: str
    traits: str
    context: str
    via: str | None
    attributed_at: int | None
    duration_ms: int | None
    scroll_depth: int | None
    flags: str | None


# The binding of an event's device, joined only for events stored without a contact.
_device = visitors.alias("device")
_DEVICE_JOIN = and_(
    events.c.contact_id.is_(None),
    _device.c.workspace_id == events.c.workspace_id,
    _device.c.anonymous_id == events.c.anonymous_id,
)
_DEVICE_COLUMNS = (
    _device.c.contact_id.label("bound_contact_id"),
    _device.c.bound_at.label("bound_at"),
    _device.c.bound_via.label("bound_via"),
)


_STORED = len(EventRow._fields)


def _event_row(row: tuple[Any, ...]) -> EventRow:
    stored = EventRow._make(row[:_STORED])
    bound, bound_at, bound_via = row[_STORED:]
    if stored.contact_id is not None or bound is None:
        return stored
    decided = attribute_through_device(
        received_at=stored.received_at, bound_at=bound_at, bound_via=bound_via
    )
    return stored._replace(contact_id=bound, via=decided.via, attributed_at=decided.at)


@dataclass(frozen=True)
class _Shape:
    """Which conditions a query has: one statement is built and compiled per shape."""

    contact: bool
    anonymous: bool
    session: bool
    types: int
    since: bool
    until: bool
    after: bool
    descending: bool
    identified_only: bool

    @classmethod
    def of(cls, q: EventQuery) -> _Shape:
        return cls(
            q.contact_id is not None,
            q.anonymous_id is not None,
            q.session_id is not None,
            len(q.types),
            q.since is not None,
            q.until is not None,
            q.after is not None,
            q.descending,
            q.identified_only,
        )


def _params(ws: str, q: EventQuery) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ws": ws,
        "contact_id": q.contact_id,
        "anonymous_id": q.anonymous_id,
        "session_id": q.session_id,
        "since": q.since,
        "until": q.until,
        "limit": q.limit,
        **{f"type_{i}": t for i, t in enumerate(q.types)},
    }
    if q.after is not None:
        params["after_ts"], params["after_id"] = q.after
    return params


def _order(shape: _Shape, ts: Any, row_id: Any) -> tuple[Any, Any]:
    return (ts.desc(), row_id.desc()) if shape.descending else (ts.asc(), row_id.asc())


def _filters(shape: _Shape) -> list[ColumnElement[bool]]:
    """The query's conditions on the events table itself (not on who they belong to)."""
    where: list[ColumnElement[bool]] = []
    if shape.anonymous:
        where.append(events.c.anonymous_id == bindparam("anonymous_id"))
    if shape.session:
        where.append(events.c.session_id == bindparam("session_id"))
    if shape.types:
        where.append(or_(*(events.c.type == bindparam(f"type_{i}") for i in range(shape.types))))
    if shape.since:
        where.append(events.c.timestamp >= bindparam("since"))
    if shape.until:
        where.append(events.c.timestamp < bindparam("until"))
    if shape.after:
        # The redundant bound on timestamp alone lets PostgreSQL start the index scan at the
        # cursor instead of filtering every newer row out (SQLite finds the range either way).
        ts: Any = bindparam("after_ts")
        last_id: Any = bindparam("after_id")
        if shape.descending:
            where += [
                events.c.timestamp <= ts,
                or_(events.c.timestamp < ts, events.c.id < last_id),
            ]
        else:
            where += [
                events.c.timestamp >= ts,
                or_(events.c.timestamp > ts, events.c.id > last_id),
            ]
    return where


def _device_events(shape: _Shape, dialect: str) -> Any:
    """(timestamp, id) of the first page of the events stored without a contact of the devices
    bound to the contact, found device by device (never by scanning such events of the whole
    workspace, whatever the planner believes before it has statistics)."""
    limit: Any = bindparam("limit")
    unattributed = (events.c.contact_id.is_(None), *_filters(shape))
    if dialect == "postgresql":
        # LATERAL: each device's own ordered index range, cut to the page size.
        per_device = (
            select(events.c.timestamp, events.c.id)
            .where(
                events.c.workspace_id == visitors.c.workspace_id,
                events.c.anonymous_id == visitors.c.anonymous_id,
                *unattributed,
            )
            .order_by(*_order(shape, events.c.timestamp, events.c.id))
            .limit(limit)
            .lateral("per_device")
        )
        found = (
            select(per_device.c.timestamp, per_device.c.id)
            .select_from(visitors.join(per_device, true()))
            .where(*_bound_to_contact())
            .order_by(*_order(shape, per_device.c.timestamp, per_device.c.id))
        )
    else:
        # SQLite walks an IN list first, each device's range in the partial index. Ordered by
        # an expression, so that no index of all events looks like a way to skip the sort.
        devices = select(visitors.c.anonymous_id).where(*_bound_to_contact())
        found = (
            select(events.c.timestamp, events.c.id)
            .where(
                events.c.workspace_id == bindparam("ws"),
                events.c.anonymous_id.in_(devices),
                *unattributed,
            )
            .order_by(*_order(shape, events.c.timestamp + 0, events.c.id))
        )
    return found.limit(limit).subquery()


def _bound_to_contact() -> tuple[ColumnElement[bool], ...]:
    return (
        visitors.c.workspace_id == bindparam("ws"),
        visitors.c.contact_id == bindparam("contact_id"),
    )


def _contact_page(shape: _Shape, dialect: str) -> Any:
    """(timestamp, id) of one page of a contact's timeline, from indexes only: the events
    attributed to it, and the events stored without a contact of the devices bound to it,
    each branch ordered and cut to the page size before they are merged."""
    named = _one_range(shape, events.c.contact_id == bindparam("contact_id"))
    return _merged(shape, named, _device_events(shape, dialect))


def _one_range(shape: _Shape, *where: ColumnElement[bool]) -> Any:
    """(timestamp, id) of one page of the events matching `where` and the query's filters,
    in order, from one index range."""
    return (
        select(events.c.timestamp, events.c.id)
        .where(events.c.workspace_id == bindparam("ws"), *where, *_filters(shape))
        .order_by(*_order(shape, events.c.timestamp, events.c.id))
        .limit(bindparam("limit"))
        .subquery()
    )


def _merged(shape: _Shape, *parts: Any) -> Any:
    """One page of (timestamp, id) from parts each already ordered and cut to the page."""
    both = union_all(*(select(part) for part in parts)).subquery()
    return (
        select(both)
        .order_by(*_order(shape, both.c.timestamp, both.c.id))
        .limit(bindparam("limit"))
        .subquery()
    )


def _device_page(shape: _Shape) -> Any:
    """(timestamp, id) of one page of a device's events, from its two indexes (attributed, and
    stored without a contact), each half ordered and cut to the page size before they are
    merged. `identified_only` keeps of the second half only a bound device's events."""
    bound = (
        select(visitors.c.anonymous_id)
        .where(
            visitors.c.workspace_id == bindparam("ws"),
            visitors.c.anonymous_id == bindparam("anonymous_id"),
            visitors.c.contact_id.is_not(None),
        )
        .exists()
    )
    unattributed = (events.c.contact_id.is_(None), *((bound,) if shape.identified_only else ()))
    return _merged(
        shape,
        _one_range(shape, events.c.contact_id.is_not(None)),
        _one_range(shape, *unattributed),
    )


@functools.lru_cache(maxsize=1024)
def _find_statement(shape: _Shape) -> Statement:
    def build(conn: Connection) -> Any:
        stmt = select(events, *_DEVICE_COLUMNS)
        if shape.contact or shape.anonymous:
            page = _contact_page(shape, conn.dialect.name) if shape.contact else _device_page(shape)
            stmt = stmt.select_from(
                page.join(events, events.c.id == page.c.id).outerjoin(_device, _DEVICE_JOIN)
            )
        else:
            stmt = stmt.select_from(events.outerjoin(_device, _DEVICE_JOIN)).where(
                events.c.workspace_id == bindparam("ws"), *_filters(shape)
            )
            if shape.identified_only:
                stmt = stmt.where(
                    or_(events.c.contact_id.is_not(None), _device.c.contact_id.is_not(None))
                )
        order = _order(shape, events.c.timestamp, events.c.id)
        return stmt.order_by(*order).limit(bindparam("limit"))

    return Statement(build)


def find(conn: Connection, ws: str, q: EventQuery) -> list[EventRow]:
    """Events as readers see them, one page in (timestamp, id) order."""
    statement = _find_statement(_Shape.of(q))
    return [_event_row(r) for r in statement.rows(conn, **_params(ws, q))]


# A page view without a page_leave lasts until its session's next page view, at most an hour.
PAGE_DURATION_CAP_MS = 3_600_000
SESSIONS_PER_LOOKUP = 500


def missing_durations(conn: Connection, ws: str, rows: Sequence[EventRow]) -> dict[int, int]:
    """event id -> duration (ms) for the page views among `rows` that have none: time until
    the session's next page view, capped at an hour (only a session's last page view depends
    on the page_leave beacon)."""
    sessions = {r.session_id for r in rows if r.type == "page" and r.duration_ms is None}
    return _durations_until_next_page(rows, _page_views_of_sessions(conn, ws, sessions))


def _durations_until_next_page(
    rows: Sequence[EventRow], session_pages: Mapping[str, list[tuple[int, int]]]
) -> dict[int, int]:
    out: dict[int, int] = {}
    for row in rows:
        if row.type != "page" or row.duration_ms is not None or not row.session_id:
            continue
        pages = session_pages.get(row.session_id, [])
        following = bisect.bisect_right(pages, (row.timestamp, row.id))
        if following < len(pages):
            ts = pages[following][0]
            out[row.id] = min(PAGE_DURATION_CAP_MS, (ts - row.timestamp) // 1000)
    return out


def _page_views_of_sessions(
    conn: Connection, ws: str, session_ids: Iterable[str | None]
) -> dict[str, list[tuple[int, int]]]:
    """session -> sorted (timestamp, id) of its page views."""
    ids = sorted(s for s in set(session_ids) if s)
    out: dict[str, list[tuple[int, int]]] = {}
    # In chunks: an export asks for every session of a contact's timeline, and PostgreSQL
    # takes at most 65,535 parameters a statement (SQLite, as commonly built, 32,766).
    for start in range(0, len(ids), SESSIONS_PER_LOOKUP):
        rows = conn.execute(
            select(events.c.session_id, events.c.timestamp, events.c.id)
            .where(
                events.c.workspace_id == ws,
                events.c.session_id.in_(ids[start : start + SESSIONS_PER_LOOKUP]),
                events.c.type == "page",
            )
            .order_by(events.c.timestamp, events.c.id)
        )
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


_named_count = (
    select(func.count())
    .select_from(events)
    .where(events.c.workspace_id == bindparam("ws"), events.c.contact_id == bindparam("contact_id"))
    .scalar_subquery()
)
# Device by device (a correlated count per bound visitor), whatever the planner's statistics.
_through_devices_count = select(
    func.coalesce(
        func.sum(
            select(func.count())
            .where(
                events.c.workspace_id == visitors.c.workspace_id,
                events.c.anonymous_id == visitors.c.anonymous_id,
                events.c.contact_id.is_(None),
            )
            .scalar_subquery()
        ),
        0,
    )
).where(*_bound_to_contact())
_count_for_contact = Statement(
    lambda conn: select(_named_count + _through_devices_count.scalar_subquery())
)
_count_through_devices = Statement(lambda conn: _through_devices_count)


def count_for_contact(conn: Connection, ws: str, contact_id: str) -> int:
    """Events attributed to the contact, including those through its devices' bindings."""
    return int(_count_for_contact.scalar(conn, ws=ws, contact_id=contact_id))


def count_through_devices(conn: Connection, ws: str, contact_id: str) -> int:
    """Events stored without a contact that belong to it through its devices' bindings."""
    return int(_count_through_devices.scalar(conn, ws=ws, contact_id=contact_id))


def count_for_visitor(conn: Connection, ws: str, anonymous_id: str) -> int:
    return event_counts_of_devices(conn, ws, [anonymous_id]).get(anonymous_id, 0)


def event_counts_of_devices(
    conn: Connection, ws: str, anonymous_ids: Sequence[str]
) -> dict[str, int]:
    """anonymous id -> how many events the device sent (those with none are left out), from
    its two indexes: attributed, and stored without a contact."""
    if not anonymous_ids:
        return {}
    out: dict[str, int] = {}
    for half in (events.c.contact_id.is_not(None), events.c.contact_id.is_(None)):
        rows = conn.execute(
            select(events.c.anonymous_id, func.count())
            .where(
                events.c.workspace_id == ws,
                events.c.anonymous_id.in_(list(anonymous_ids)),
                half,
            )
            .group_by(events.c.anonymous_id)
        )
        for anonymous_id, n in rows:
            out[anonymous_id] = out.get(anonymous_id, 0) + int(n)
    return out
