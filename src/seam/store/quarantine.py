"""Rejected messages, kept with their reason so nothing is dropped silently."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from seam.store.dialect import Statement, insert_rows
from seam.store.tables import quarantine

PAYLOAD_LIMIT = 4096
_insert = Statement(
    lambda conn: insert_rows(
        conn, quarantine, [c.name for c in quarantine.columns if c.name != "id"]
    )
)


def keep(
    conn: Connection, ws: str, rows: list[tuple[str, str, bytes]], *, at: int, key_id: str | None
) -> None:
    """rows: (code, message, raw payload); only the first 4 KB of each payload is kept."""
    _insert.run_many(
        conn,
        [
            {
                "workspace_id": ws,
                "received_at": at,
                "code": code,
                "message": message,
                "payload": _text(payload[:PAYLOAD_LIMIT]),
                "key_id": key_id,
            }
            for code, message, payload in rows
        ],
    )


def _text(payload: bytes) -> str:
    """Storable text on both backends (PostgreSQL text holds no NUL), whatever the bytes."""
    return payload.decode("utf-8", "replace").replace("\x00", "\ufffd")


def query(
    conn: Connection, ws: str, *, since: int | None, after_id: int | None, limit: int
) -> list[Any]:
    stmt = select(quarantine).where(quarantine.c.workspace_id == ws)
    if since is not None:
        stmt = stmt.where(quarantine.c.received_at >= since)
    if after_id is not None:
        stmt = stmt.where(quarantine.c.id > after_id)
    return list(conn.execute(stmt.order_by(quarantine.c.id).limit(limit)))
