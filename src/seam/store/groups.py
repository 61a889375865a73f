"""Companies (Segment groups) and who belongs to them."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from seam.store.dialect import insert
from seam.store.tables import companies, memberships


def ensure_company(conn: Connection, ws: str, group_id: str, now: int) -> None:
    conn.execute(
        insert(conn, companies)
        .values(workspace_id=ws, group_id=group_id, created_at=now)
        .on_conflict_do_nothing()
    )


def add_member(
    conn: Connection, ws: str, group_id: str, member_kind: str, member_id: str, now: int
) -> None:
    conn.execute(
        insert(conn, memberships)
        .values(
            workspace_id=ws,
            group_id=group_id,
            member_kind=member_kind,
            member_id=member_id,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )


def groups_of(conn: Connection, ws: str, member_kind: str, member_id: str) -> list[str]:
    rows = conn.execute(
        select(memberships.c.group_id)
        .where(
            memberships.c.workspace_id == ws,
            memberships.c.member_kind == member_kind,
            memberships.c.member_id == member_id,
        )
        .order_by(memberships.c.group_id)
    )
    return [r.group_id for r in rows]


def reassign_contact(
    conn: Connection, ws: str, from_contact: str, to_contact: str, now: int
) -> None:
    """Memberships follow a merged contact (ones it already had are kept once)."""
    for group_id in groups_of(conn, ws, "contact", from_contact):
        add_member(conn, ws, group_id, "contact", to_contact, now)
    remove_member(conn, ws, "contact", from_contact)


def remove_member(conn: Connection, ws: str, member_kind: str, member_id: str) -> None:
    conn.execute(
        delete(memberships).where(
            memberships.c.workspace_id == ws,
            memberships.c.member_kind == member_kind,
            memberships.c.member_id == member_id,
        )
    )
