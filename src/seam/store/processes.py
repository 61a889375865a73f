"""The Seam processes sharing one database, known to each other through heartbeats."""

from __future__ import annotations

import heapq
import json
import operator
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from seam.store.dialect import insert
from seam.store.tables import processes

# A process unheard of for this long has stopped (crashed, killed, or its host is gone).
LIVE_FOR_US = 15 * 1_000_000
# The busiest keys a process publishes the rates of. A key the others do not hear of counts
# as unused by this process: they may let it through up to its limit between them.
MAX_KEYS_PUBLISHED = 1000


@dataclass(frozen=True)
class Peers:
    live: int  # processes heard from lately, the caller included
    used_by_others: dict[str, float]  # per key id: requests a second the others let through


def heartbeat(
    conn: Connection,
    process_id: str,
    now: int,
    live_for: int = LIVE_FOR_US,
    key_rates: Mapping[str, float] | None = None,
) -> Peers:
    """Record that `process_id` is alive at `now`, having let through `key_rates` (requests a
    second per key id) lately; returns the processes heard from within `live_for` µs and what
    the others let through. Rows of processes long gone are deleted."""
    busiest = heapq.nlargest(
        MAX_KEYS_PUBLISHED, (key_rates or {}).items(), key=operator.itemgetter(1)
    )
    published = json.dumps({key_id: round(rate, 3) for key_id, rate in busiest})
    stmt = insert(conn, processes).values(id=process_id, seen_at=now, key_rates=published)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"], set_={"seen_at": now, "key_rates": published}
        )
    )
    conn.execute(delete(processes).where(processes.c.seen_at < now - 10 * live_for))
    live = conn.execute(
        select(processes.c.id, processes.c.key_rates).where(processes.c.seen_at >= now - live_for)
    ).all()
    used: defaultdict[str, float] = defaultdict(float)
    for other, rates in live:
        if other != process_id:
            for key_id, rate in json.loads(rates).items():
                used[key_id] += rate
    return Peers(max(1, len(live)), dict(used))


def leave(conn: Connection, process_id: str) -> None:
    """A process that stops says so, so that the others count it out at their next heartbeat."""
    conn.execute(delete(processes).where(processes.c.id == process_id))
