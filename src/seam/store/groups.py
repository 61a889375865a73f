"""Companies (Segment groups) and who belongs to them."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, select

from seam.store.dialect import Statement, insert
from seam.store.tables import companies, memberships

_ensure_company = Statement(
    lambda conn: (
        insert(conn, companies)
        .values(
            workspace_id=bindparam("ws"),
            group_id=bindparam("group_id"),
            created_at=bindparam("now"),
        )
        .on_conflict_do_nothing()
    )
)
_add_member = Statement(
    lambda conn: (
        insert(conn, memberships)
        .values(
            workspace_id=bindparam("ws"),
            group_id=bindparam("group_id"),
            member_kind=bindparam("kind"),
            member_id=bindparam("member_id"),
            created_at=bindparam("now"),
        )
        .on_conflict_do_nothing()
    )
)


# The visitor's (or merged contact's) memberships, taken away in one round trip: the rows it
# returns are what the new member gets.
_take_memberships = Statement(
    lambda conn: (
        delete(memberships)
        .where(
            memberships.c.workspace_id == bindparam("ws"),
            memberships.c.member_kind == bindparam("kind"),
            memberships.c.member_id == bindparam("member_id"),
        )
        .returning(memberships.c.group_id)
    )
)


def ensure_company(conn: Connection, ws: str, group_id: str, now: int) -> None:
    _ensure_company.run(conn, ws=ws, group_id=group_id, now=now)


def add_member(
    conn: Connection, ws: str, group_id: str, member_kind: str, member_id: str, now: int
) -> None:
    _add_member.run(conn, ws=ws, group_id=group_id, kind=member_kind, member_id=member_id, now=now)


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


def reassign_member(
    conn: Connection, ws: str, member_kind: str, member_id: str, to_contact: str, now: int
) -> None:
    """Memberships follow a merged contact, or a visitor to the contact it is bound to (ones
    the contact already had are kept once)."""
    taken = _take_memberships.rows(conn, ws=ws, kind=member_kind, member_id=member_id)
    for (group_id,) in sorted(taken):
        add_member(conn, ws, group_id, "contact", to_contact, now)
