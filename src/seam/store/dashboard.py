"""Read models of the dashboard: people and visitor lists, timelines, overview aggregates.

Every query is bounded: lists page by an indexed key, timelines by (timestamp, id), and the
overview aggregates a fixed time window (and top pages a fixed number of recent page views),
so a page costs the same with a thousand events or a million.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, String, and_, cast, func, or_, select, text, true
from sqlalchemy.sql.elements import ColumnElement

from seam.store import reads
from seam.store.jsonb import as_text, decode_value
from seam.store.tables import audit, contacts, events, identifiers, traits, visitors

DAY_US = 86_400_000_000
NAME_KEYS = ("name", "firstname", "first_name", "lastname", "last_name")


@dataclass(frozen=True)
class Person:
    id: str
    external_id: str | None
    identified: bool
    created_at: int
    email: str | None
    name: str | None
    devices: int
    first_seen: int
    last_seen: int


def person_name(found: Mapping[str, Any]) -> str | None:
    """The name a person is shown by: the `name` trait, else first and last name (a value
    that is not a string, as JSON)."""
    if found.get("name"):
        return as_text(found["name"])
    first = found.get("firstname") or found.get("first_name")
    last = found.get("lastname") or found.get("last_name")
    joined = " ".join(as_text(p) for p in (first, last) if p)
    return joined or None


def people(
    conn: Connection,
    ws: str,
    *,
    q: str | None,
    before: tuple[int, str] | None,
    limit: int,
) -> list[Person]:
    """One page of contacts, newest first, with the columns of the people list. The extra
    columns are fetched for the page's ids only (three small IN queries), never per row."""
    rows = reads.find_contacts(conn, ws, q=q, before=before, limit=limit)
    ids = [r.id for r in rows]
    if not ids:
        return []
    # A comprehension, not dict(result): a Result has .keys(), so dict() would treat it as a
    # mapping of column names.
    emails = {
        cid: value
        for cid, value in conn.execute(
            select(identifiers.c.contact_id, identifiers.c.value).where(
                identifiers.c.workspace_id == ws,
                identifiers.c.contact_id.in_(ids),
                identifiers.c.kind == "email",
            )
        )
    }
    names: dict[str, dict[str, Any]] = {}
    for owner, key, value in conn.execute(
        select(traits.c.owner_id, traits.c.key, traits.c.value).where(
            traits.c.workspace_id == ws,
            traits.c.owner_kind == "contact",
            traits.c.owner_id.in_(ids),
            traits.c.key.in_(NAME_KEYS),
        )
    ):
        names.setdefault(owner, {})[key] = decode_value(value)
    devices = {
        r.contact_id: r
        for r in conn.execute(
            select(
                visitors.c.contact_id,
                func.count().label("n"),
                func.min(visitors.c.first_seen).label("first_seen"),
                func.max(visitors.c.last_seen).label("last_seen"),
            )
            .where(visitors.c.workspace_id == ws, visitors.c.contact_id.in_(ids))
            .group_by(visitors.c.contact_id)
        )
    }
    out = []
    for r in rows:
        d = devices.get(r.id)
        out.append(
            Person(
                id=r.id,
                external_id=r.external_id,
                identified=bool(r.identified),
                created_at=r.created_at,
                email=emails.get(r.id),
                name=person_name(names.get(r.id, {})),
                devices=int(d.n) if d else 0,
                # A contact known only from server calls has no device: its own times stand in.
                first_seen=min(d.first_seen, r.created_at) if d else r.created_at,
                last_seen=max(d.last_seen, r.updated_at) if d else r.updated_at,
            )
        )
    return out


def anonymous_visitors(
    conn: Connection, ws: str, *, before: tuple[int, str] | None, limit: int
) -> list[Any]:
    """Visitors not bound to any contact, most recently seen first."""
    stmt = select(visitors).where(visitors.c.workspace_id == ws, visitors.c.contact_id.is_(None))
    if before is not None:
        seen, anonymous_id = before
        stmt = stmt.where(
            or_(
                visitors.c.last_seen < seen,
                and_(visitors.c.last_seen == seen, visitors.c.anonymous_id < anonymous_id),
            )
        )
    stmt = stmt.order_by(visitors.c.last_seen.desc(), visitors.c.anonymous_id.desc())
    stmt = stmt.limit(limit)
    if conn.dialect.name == "sqlite":
        # Walk (workspace_id, last_seen) backwards and stop after `limit` rows; SQLite's
        # planner otherwise takes the contact_id index and sorts every anonymous visitor.
        # SQLAlchemy cannot render INDEXED BY, so it is spliced into the compiled text.
        compiled = stmt.compile(conn, compile_kwargs={"literal_binds": False})
        sql = str(compiled).replace(
            "FROM visitors", "FROM visitors INDEXED BY ix_visitors_last_seen", 1
        )
        return list(
            conn.exec_driver_sql(sql, tuple(compiled.params[k] for k in compiled.positiontup or ()))
        )
    return list(conn.execute(stmt))


def audit_of_person(
    conn: Connection, ws: str, contact_id: str, anonymous_ids: Sequence[str], *, limit: int = 300
) -> list[Any]:
    """The identity decisions about a contact or any of its devices, newest first."""
    about = or_(audit.c.contact_id == contact_id, audit.c.other_contact_id == contact_id)
    if anonymous_ids:
        about = or_(about, audit.c.anonymous_id.in_(list(anonymous_ids)))
    stmt = select(audit).where(audit.c.workspace_id == ws, about)
    return list(conn.execute(stmt.order_by(audit.c.id.desc()).limit(limit)))


@dataclass(frozen=True)
class DayCount:
    day_start: int
    events: int
    attributed: int


def daily_counts(conn: Connection, ws: str, *, since: int, until: int) -> list[DayCount]:
    """Events per UTC day in [since, until) (since is a midnight), and how many of them are
    attributed to a contact.

    Both counts come from indexes alone, never from the table rows (reading a million rows
    to check their contact_id costs seconds; a million index entries, tens of ms):
    totals are one range count per day on (workspace_id, timestamp, id), in one statement;
    events attributed in their row are grouped from (workspace_id, contact_id, timestamp, id),
    whose entries are exactly those events, and the events attributed through their device
    from the index of events stored without a contact, for bound devices only.
    """
    days = (until - since + DAY_US - 1) // DAY_US
    ts = events.c.timestamp
    per_day = [
        select(func.count())
        .select_from(events)
        .where(
            events.c.workspace_id == ws,
            ts >= since + i * DAY_US,
            ts < min(until, since + (i + 1) * DAY_US),
        )
        .scalar_subquery()
        for i in range(days)
    ]
    totals = conn.execute(select(*per_day)).one() if per_day else ()
    attributed_stmt: Any
    if conn.dialect.name == "sqlite":
        # SQLite's planner prefers the timestamp index and then reads every row for its
        # contact_id; INDEXED BY (which SQLAlchemy cannot render) keeps it on the index.
        attributed_stmt = text(
            "SELECT (timestamp - :since) / :day AS day, count(*) FROM events"
            " INDEXED BY ix_events_contact_ts"
            " WHERE workspace_id = :ws AND contact_id IS NOT NULL"
            " AND timestamp >= :since AND timestamp < :until GROUP BY day"
        ).bindparams(ws=ws, since=since, until=until, day=DAY_US)
    else:
        day = ((ts - since) // DAY_US).label("day")
        attributed_stmt = (
            select(day, func.count())
            .where(
                events.c.workspace_id == ws,
                events.c.contact_id.is_not(None),
                ts >= since,
                ts < until,
            )
            .group_by(day)
        )
    attributed = {int(d): int(n) for d, n in conn.execute(attributed_stmt)}
    for d, n in conn.execute(_attributed_through_devices(conn, ws, since, until)):
        attributed[int(d)] = attributed.get(int(d), 0) + int(n)
    return [DayCount(since + i * DAY_US, int(totals[i]), attributed.get(i, 0)) for i in range(days)]


def _attributed_through_devices(conn: Connection, ws: str, since: int, until: int) -> Any:
    """Per day, the events stored without a contact whose device is bound (they are its
    contact's), device by device: each bound device's range of the index of such events. A
    plan that starts from the events of the window reads every row of it (seconds at a million
    events), so neither backend is left to choose."""
    if conn.dialect.name == "sqlite":
        # CROSS JOIN keeps visitors as the outer loop; INDEXED BY keeps events on the index.
        return text(
            "SELECT (e.timestamp - :since) / :day AS day, count(*)"
            " FROM visitors AS v CROSS JOIN events AS e INDEXED BY ix_events_unattributed"
            " WHERE v.workspace_id = :ws AND v.contact_id IS NOT NULL"
            " AND e.workspace_id = v.workspace_id AND e.anonymous_id = v.anonymous_id"
            " AND e.contact_id IS NULL AND e.timestamp >= :since AND e.timestamp < :until"
            " GROUP BY day"
        ).bindparams(ws=ws, since=since, until=until, day=DAY_US)
    ts = events.c.timestamp
    per_device = (
        select(((ts - since) // DAY_US).label("day"))
        .where(
            events.c.workspace_id == visitors.c.workspace_id,
            events.c.anonymous_id == visitors.c.anonymous_id,
            events.c.contact_id.is_(None),
            ts >= since,
            ts < until,
        )
        .lateral("per_device")
    )
    return (
        select(per_device.c.day, func.count())
        .select_from(visitors.join(per_device, true()))
        .where(visitors.c.workspace_id == ws, visitors.c.contact_id.is_not(None))
        .group_by(per_device.c.day)
    )


def _page_path(conn: Connection) -> ColumnElement[Any]:
    if conn.dialect.name == "postgresql":
        ctx = cast(events.c.context, _jsonb())
        props = cast(events.c.properties, _jsonb())
        return func.coalesce(ctx["page"]["path"].astext, props["path"].astext)
    return func.coalesce(
        cast(func.json_extract(events.c.context, "$.page.path"), String),
        cast(func.json_extract(events.c.properties, "$.path"), String),
    )


def _jsonb() -> Any:
    from sqlalchemy.dialects.postgresql import JSONB

    return JSONB


def top_pages(
    conn: Connection, ws: str, *, since: int, sample: int, limit: int
) -> list[tuple[str, int]]:
    """The most viewed paths among the `sample` latest page views since `since`: JSON is
    parsed for at most `sample` rows, whatever the size of the table."""
    recent = (
        select(_page_path(conn).label("path"))
        .where(events.c.workspace_id == ws, events.c.type == "page", events.c.timestamp >= since)
        .order_by(events.c.timestamp.desc(), events.c.id.desc())
        .limit(sample)
        .subquery()
    )
    views = func.count().label("views")
    rows = conn.execute(
        select(recent.c.path, views)
        .where(recent.c.path.is_not(None))
        .group_by(recent.c.path)
        .order_by(views.desc(), recent.c.path)
        .limit(limit)
    )
    return [(str(p), int(n)) for p, n in rows]


@dataclass(frozen=True)
class Totals:
    contacts: int
    identified: int
    anonymous_visitors: int


def totals(conn: Connection, ws: str) -> Totals:
    n, identified = conn.execute(
        select(func.count(), func.count(contacts.c.identified_at)).where(
            contacts.c.workspace_id == ws
        )
    ).one()
    anonymous = conn.execute(
        select(func.count())
        .select_from(visitors)
        .where(visitors.c.workspace_id == ws, visitors.c.contact_id.is_(None))
    ).scalar_one()
    return Totals(int(n), int(identified), int(anonymous))


def find_contact_id(conn: Connection, ws: str, ref: str) -> str | None:
    """A contact named by its id, its external id or its email (admin forms accept any)."""
    ref = ref.strip()
    if not ref:
        return None
    found = conn.execute(
        select(contacts.c.id).where(
            contacts.c.workspace_id == ws,
            or_(contacts.c.id == ref, contacts.c.external_id == ref),
        )
    ).scalar()
    if found is None:
        found = conn.execute(
            select(identifiers.c.contact_id).where(
                identifiers.c.workspace_id == ws,
                identifiers.c.kind == "email",
                identifiers.c.value == ref.lower(),
            )
        ).scalar()
    return str(found) if found is not None else None
