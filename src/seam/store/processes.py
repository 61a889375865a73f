"""The Seam processes sharing one database, known to each other through heartbeats."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, select

from seam.store.dialect import insert
from seam.store.tables import processes

# A process unheard of for this long has stopped (crashed, killed, or its host is gone).
LIVE_FOR_US = 15 * 1_000_000


def heartbeat(conn: Connection, process_id: str, now: int, live_for: int = LIVE_FOR_US) -> int:
    """Record that `process_id` is alive at `now`; returns how many processes were heard from
    within `live_for` µs (itself included). Rows of processes long gone are deleted."""
    stmt = insert(conn, processes).values(id=process_id, seen_at=now)
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={"seen_at": now}))
    conn.execute(delete(processes).where(processes.c.seen_at < now - 10 * live_for))
    live = select(func.count()).where(processes.c.seen_at >= now - live_for)
    return max(1, int(conn.execute(live).scalar_one()))


def leave(conn: Connection, process_id: str) -> None:
    """A process that stops says so, so that the others count it out at their next heartbeat."""
    conn.execute(delete(processes).where(processes.c.id == process_id))
