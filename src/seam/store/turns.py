"""Turns between processes: periodic upkeep that one process at a time should do."""

from __future__ import annotations

from sqlalchemy import Connection, text

STATISTICS = 0x5EA3_57A7
ENRICHMENT = 0x5EA3_E471


def take_turn(conn: Connection, turn: int) -> bool:
    """Whether this transaction may do the work of `turn` now: on PostgreSQL, unless another
    process's transaction is doing it (the turn ends with the transaction). On SQLite the
    write transaction itself already admits one process at a time."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": turn}).scalar())
