"""The identity audit log: every decision, written in the transaction that made it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from seam.store.dialect import Statement, insert_rows
from seam.store.jsonb import dumps
from seam.store.tables import audit


@dataclass(frozen=True)
class AuditEntry:
    action: str
    contact_id: str | None = None
    anonymous_id: str | None = None
    other_contact_id: str | None = None
    reason: str | None = None
    trust: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


_COLUMNS = tuple(c.name for c in audit.columns if c.name != "id")
_insert = Statement(lambda conn: insert_rows(conn, audit, _COLUMNS))


def record(
    conn: Connection, ws: str, entries: list[AuditEntry], *, at: int, key_id: str | None
) -> None:
    _insert.write_many(
        conn,
        [
            {
                "workspace_id": ws,
                "at": at,
                "action": e.action,
                "contact_id": e.contact_id,
                "anonymous_id": e.anonymous_id,
                "other_contact_id": e.other_contact_id,
                "reason": e.reason,
                "trust": e.trust,
                "key_id": key_id,
                "details": dumps(e.details),
            }
            for e in entries
        ],
    )


def query(
    conn: Connection,
    ws: str,
    *,
    contact_id: str | None = None,
    anonymous_id: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Any]:
    stmt = select(audit).where(audit.c.workspace_id == ws)
    if contact_id:
        stmt = stmt.where(
            (audit.c.contact_id == contact_id) | (audit.c.other_contact_id == contact_id)
        )
    if anonymous_id:
        stmt = stmt.where(audit.c.anonymous_id == anonymous_id)
    if action:
        stmt = stmt.where(audit.c.action == action)
    if before_id is not None:
        stmt = stmt.where(audit.c.id < before_id)
    return list(conn.execute(stmt.order_by(audit.c.id.desc()).limit(limit)))
