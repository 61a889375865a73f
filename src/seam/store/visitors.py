"""Visitors (devices) and their binding to a contact: at most one, decided atomically."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ClauseElement,
    Connection,
    bindparam,
    exists,
    func,
    literal_column,
    select,
    update,
)

from seam.store.dialect import (
    Statement,
    greatest,
    insert,
    insert_rows,
    least,
    select_in,
)
from seam.store.tables import events, traits, visitors


@dataclass(frozen=True)
class Known:
    """What a batch needs to know about a visitor that exists."""

    contact_id: str | None
    first_seen: int
    last_seen: int


def known(conn: Connection, ws: str, anonymous_ids: Iterable[str]) -> dict[str, Known]:
    """The visitors among `anonymous_ids` that exist: binding and seen window."""
    rows = select_in(
        conn,
        "SELECT anonymous_id, contact_id, first_seen, last_seen FROM visitors"
        " WHERE workspace_id = {ws} AND {match}",
        [ws],
        "anonymous_id",
        sorted(set(anonymous_ids)),
    )
    return {a: Known(contact_id, first, last) for a, contact_id, first, last in rows}


def still_bound(conn: Connection, ws: str, bindings: Mapping[str, str]) -> bool:
    """Whether each device of `bindings` is still bound to its contact. Always so on SQLite,
    where a write transaction has the whole database from its first read."""
    if conn.dialect.name != "postgresql" or not bindings:
        return True
    current = known(conn, ws, bindings)
    return all(
        a in current and current[a].contact_id == contact_id for a, contact_id in bindings.items()
    )


# last_seen is kept to the minute.
LAST_SEEN_RESOLUTION_US = 60 * 1_000_000


def _build_record_seen(conn: Connection) -> ClauseElement:
    names = ("workspace_id", "anonymous_id", "first_seen", "last_seen")
    stmt = insert_rows(conn, visitors, names)
    upsert: ClauseElement = stmt.on_conflict_do_update(
        index_elements=["workspace_id", "anonymous_id"],
        set_={
            "first_seen": least(conn, visitors.c.first_seen, stmt.excluded.first_seen),
            "last_seen": greatest(conn, visitors.c.last_seen, stmt.excluded.last_seen),
        },
        # An active visitor sends many events a minute; rewriting its row (and, on PostgreSQL,
        # every index entry of the new row version) for each would dominate the write path.
        where=(stmt.excluded.first_seen < visitors.c.first_seen)
        | (
            stmt.excluded.last_seen
            > visitors.c.last_seen + literal_column(str(LAST_SEEN_RESOLUTION_US))
        ),
    )
    return upsert


_record_seen = Statement(_build_record_seen)


def needs_recording(window: tuple[int, int], known: Known | None) -> bool:
    """Whether `record_seen` would change the visitor: it is new, or the window widens (the
    end by more than the resolution). The upsert checks the same again against the row."""
    if known is None:
        return True
    first, last = window
    return first < known.first_seen or last > known.last_seen + LAST_SEEN_RESOLUTION_US


def record_seen(conn: Connection, ws: str, seen: Mapping[str, tuple[int, int]]) -> None:
    """Create visitors on first sight and widen their first/last seen window (last_seen to
    the minute). Sorted, so that concurrent writers lock rows in the same order and cannot
    deadlock each other."""
    rows = [
        {"workspace_id": ws, "anonymous_id": a, "first_seen": lo, "last_seen": hi}
        for a, (lo, hi) in sorted(seen.items())
    ]
    _record_seen.write_many(conn, rows)


def _build_bind(conn: Connection) -> ClauseElement:
    ws: Any = bindparam("ws")
    anonymous_id: Any = bindparam("anonymous_id")
    # What the binding takes over, read in the same statement: the device's events stored
    # without a contact (it back-fills them by being made, see store/events.py) and whether
    # an anonymous identify left traits on it to adopt.
    unattributed = (
        select(func.count())
        .select_from(events)
        .where(
            events.c.workspace_id == ws,
            events.c.anonymous_id == anonymous_id,
            events.c.contact_id.is_(None),
        )
    )
    held = (
        select(func.count())
        .select_from(traits)
        .where(
            traits.c.workspace_id == ws,
            traits.c.owner_kind == "visitor",
            traits.c.owner_id == anonymous_id,
        )
    )
    stmt = insert(conn, visitors).values(
        workspace_id=bindparam("ws"),
        anonymous_id=bindparam("anonymous_id"),
        first_seen=bindparam("now"),
        last_seen=bindparam("now"),
        contact_id=bindparam("contact_id"),
        bound_at=bindparam("now"),
        bound_via=bindparam("via"),
        bound_trust=bindparam("trust"),
    )
    upsert: ClauseElement = stmt.on_conflict_do_update(
        index_elements=["workspace_id", "anonymous_id"],
        set_={
            "contact_id": stmt.excluded.contact_id,
            "bound_at": stmt.excluded.bound_at,
            "bound_via": stmt.excluded.bound_via,
            "bound_trust": stmt.excluded.bound_trust,
        },
        where=visitors.c.contact_id.is_(None),
    ).returning(visitors.c.contact_id, unattributed.scalar_subquery(), held.scalar_subquery())
    return upsert


_bind = Statement(_build_bind)
_binding = Statement(
    lambda conn: select(visitors.c.contact_id).where(
        visitors.c.workspace_id == bindparam("ws"),
        visitors.c.anonymous_id == bindparam("anonymous_id"),
    )
)


@dataclass(frozen=True)
class BindResult:
    contact_id: str  # whoever the visitor is bound to now
    bound_here: bool  # this call made the binding
    events_linked: int = 0  # the visitor's events stored without a contact, now the contact's
    holds_traits: bool = False  # an anonymous identify left traits on the visitor


def bind(
    conn: Connection, ws: str, anonymous_id: str, contact_id: str, *, now: int, via: str, trust: int
) -> BindResult:
    """Bind the visitor if it is free (creating it if new).

    The conditional upsert is the one-device-one-contact invariant: of two racing binders only
    one can see `contact_id IS NULL` (it gets the row back); the other reads the winner, which
    may be the same contact (two requests of one person).
    """
    key = {"ws": ws, "anonymous_id": anonymous_id}
    made = _bind.first(conn, **key, contact_id=contact_id, now=now, via=via, trust=trust)
    if made is not None:
        return BindResult(contact_id, True, int(made[1]), bool(made[2]))
    return BindResult(str(_binding.scalar(conn, **key)), False)


def move(
    conn: Connection, ws: str, anonymous_id: str, contact_id: str, *, now: int, trust: int
) -> bool:
    """The explicit admin operation that re-binds a device."""
    result = conn.execute(
        update(visitors)
        .where(visitors.c.workspace_id == ws, visitors.c.anonymous_id == anonymous_id)
        .values(contact_id=contact_id, bound_at=now, bound_via="admin", bound_trust=trust)
    )
    return result.rowcount == 1


def reassign_contact(conn: Connection, ws: str, from_contact: str, to_contact: str) -> None:
    conn.execute(
        update(visitors)
        .where(visitors.c.workspace_id == ws, visitors.c.contact_id == from_contact)
        .values(contact_id=to_contact)
    )


@dataclass(frozen=True)
class Binding:
    anonymous_id: str
    contact_id: str
    bound_at: int


def _build_raced_since(conn: Connection) -> ClauseElement:
    raced = exists().where(
        events.c.workspace_id == visitors.c.workspace_id,
        events.c.anonymous_id == visitors.c.anonymous_id,
        events.c.contact_id.is_(None),
        events.c.received_at > visitors.c.bound_at,
    )
    return select(visitors.c.anonymous_id, visitors.c.contact_id, visitors.c.bound_at).where(
        visitors.c.workspace_id == bindparam("ws"),
        visitors.c.bound_at >= bindparam("since"),
        visitors.c.contact_id.is_not(None),
        raced,
    )


_raced_since = Statement(_build_raced_since)


def raced_since(conn: Connection, ws: str, since: int) -> list[Binding]:
    """The workspace's visitors bound at or after `since` that have events stored without a
    contact although they arrived after the binding (they raced it). One probe of the
    unattributed-events index per binding; races are rare, so the list is mostly empty."""
    return [Binding(*row) for row in _raced_since.rows(conn, ws=ws, since=since)]


def get(conn: Connection, ws: str, anonymous_id: str) -> Any:
    return conn.execute(
        select(visitors).where(
            visitors.c.workspace_id == ws, visitors.c.anonymous_id == anonymous_id
        )
    ).first()


def of_contact(conn: Connection, ws: str, contact_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(visitors)
            .where(visitors.c.workspace_id == ws, visitors.c.contact_id == contact_id)
            .order_by(visitors.c.bound_at, visitors.c.anonymous_id)
        )
    )
