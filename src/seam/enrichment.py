"""The enrichment pass: attribute events that raced an identify (SPEC §5, via "enrichment").

An event whose transaction read its visitor as unbound just before an identify committed stays
anonymous at ingest. The pass finds still-anonymous events of bound visitors and attributes
them. The periodic pass looks only at visitors bound recently (a race lasts milliseconds);
`seam enrich` looks at every bound visitor.
"""

from __future__ import annotations

from sqlalchemy import Connection

from seam.clock import now_us
from seam.store import events, visitors

RECENT_WINDOW_US = 15 * 60 * 1_000_000


def enrich(conn: Connection, *, since: int | None) -> int:
    """Attribute what can be attributed; returns how many events were attributed."""
    now = now_us()
    linked = 0
    for ws, anonymous_id, contact_id in visitors.bound_since(conn, None, since or 0):
        linked += events.backfill(conn, ws, anonymous_id, contact_id, via="enrichment", now=now)
    return linked


def recent_window_start() -> int:
    return now_us() - RECENT_WINDOW_US
