"""The enrichment pass: attribute events that raced an identify (SPEC §5, via "enrichment").

An event whose transaction read its visitor as unbound just before an identify committed is
stored without a contact. Readers already show it on the contact's timeline through the
device's binding (`identity.attribution.attribute_through_device`, as "enrichment"); the pass
stores that attribution in the event itself. The periodic pass looks only at visitors bound
recently (a race lasts milliseconds); `seam enrich` looks at every bound visitor.
"""

from __future__ import annotations

from sqlalchemy import Connection

from seam.clock import now_us
from seam.store import contacts, events, visitors, workspaces
from seam.store.turns import ENRICHMENT, take_turn

RECENT_WINDOW_US = 15 * 60 * 1_000_000


def enrich(conn: Connection, *, since: int | None) -> int:
    """Attribute what can be attributed; returns how many events were attributed."""
    return sum(
        events.attribute_raced(conn, ws.id, _held_bindings(conn, ws.id, since or 0))
        for ws in workspaces.list_workspaces(conn)
    )


def _held_bindings(conn: Connection, ws: str, since: int) -> list[visitors.Binding]:
    """The bindings made since `since` that events raced, their contacts held until this
    transaction ends: a merge, erasure or move of one (in another process) waits, and then
    sees the events attributed here. Only those contacts: holding every recently bound one
    would write a lock into each of their rows on PostgreSQL, every pass. Read again once
    held; a binding that changed in between waits for the next pass."""
    raced = visitors.raced_since(conn, ws, since)
    if not raced:  # the usual pass: nothing to hold, nor to read again
        return []
    held = contacts.hold(conn, ws, {b.contact_id for b in raced})
    return [b for b in visitors.raced_since(conn, ws, since) if b.contact_id in held]


def enrich_recent(conn: Connection) -> int:
    """The periodic pass over recent bindings, by one process at a time: the others skip the
    round (their passes would update the same rows)."""
    return enrich(conn, since=recent_window_start()) if take_turn(conn, ENRICHMENT) else 0


def recent_window_start() -> int:
    return now_us() - RECENT_WINDOW_US
