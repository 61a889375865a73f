"""Rejected messages, kept with their reason so nothing is dropped silently."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, select

from seam.store.dialect import Statement, insert_rows
from seam.store.tables import quarantine

PAYLOAD_LIMIT = 4096
# What a sender should never have put in a message, found in the raw text because a rejected
# payload may not even parse: API keys (an SDK puts its key in `writeKey`) and the values of
# fields named like passwords or secrets.
_KEY = re.compile(rb"\b(sk|wk)_[A-Za-z0-9_-]{16,}")
_SECRET_VALUE = re.compile(
    rb'("[^"\\]*(?:pass|pwd|secret)[^"\\]*"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE
)
_insert = Statement(
    lambda conn: insert_rows(
        conn, quarantine, [c.name for c in quarantine.columns if c.name != "id"]
    )
)


def keep(
    conn: Connection, ws: str, rows: list[tuple[str, str, bytes]], *, at: int, key_id: str | None
) -> None:
    """rows: (code, message, raw payload); only the first 4 KB of each payload is kept."""
    _insert.write_many(
        conn,
        [
            {
                "workspace_id": ws,
                "received_at": at,
                "code": code,
                "message": message,
                "payload": _text(redact(payload)[:PAYLOAD_LIMIT]),
                "key_id": key_id,
            }
            for code, message, payload in rows
        ],
    )


def redact(payload: bytes) -> bytes:
    """The payload without API keys and secret-named values (before it is cut to 4 KB, so a
    key on the boundary cannot survive in part)."""
    return _SECRET_VALUE.sub(rb'\1"[redacted]"', _KEY.sub(rb"\1_[redacted]", payload))


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
