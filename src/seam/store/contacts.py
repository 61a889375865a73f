"""Contacts, their identifiers and their traits (one aggregate)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, or_, select, update

from seam.identity.resolve import ContactRef
from seam.identity.traits import TraitValue, canonical_json
from seam.identity.trust import Trust
from seam.ids import new_id
from seam.store.dialect import Statement, insert, insert_rows, select_in
from seam.store.jsonb import decode_value
from seam.store.tables import contacts, identifiers, traits


def by_external_ids(
    conn: Connection, ws: str, external_ids: Iterable[str]
) -> dict[str, ContactRef]:
    rows = select_in(
        conn,
        "SELECT id, external_id FROM contacts WHERE workspace_id = {ws} AND {match}",
        [ws],
        "external_id",
        sorted(set(external_ids)),
    )
    return {external_id: ContactRef(cid, external_id) for cid, external_id in rows}


def lock(conn: Connection, ws: str, contact_ids: list[str]) -> dict[str, ContactRef]:
    """The contacts among `contact_ids` that still exist, locked for this transaction (in id
    order, so two admin operations on the same pair cannot deadlock): a merge, a move or an
    erasure running at the same time in another process waits, then sees what this one did.
    SQLite has one writer at a time already."""
    stmt = (
        select(contacts.c.id, contacts.c.external_id)
        .where(contacts.c.workspace_id == ws, contacts.c.id.in_(sorted(set(contact_ids))))
        .order_by(contacts.c.id)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return {row.id: ContactRef(row.id, row.external_id) for row in conn.execute(stmt)}


def hold(conn: Connection, ws: str, contact_ids: Iterable[str]) -> set[str]:
    """Which of `contact_ids` still exist, held until this transaction ends: a merge or an
    erasure (`lock`) in another process waits for it, and sees the rows it wrote naming them.
    Holding does not block other holders nor updates of the contact's fields. SQLite needs no
    hold: a write transaction there has the whole database (BEGIN IMMEDIATE) from its first
    read."""
    wanted = sorted(set(contact_ids))
    if conn.dialect.name != "postgresql" or not wanted:
        return set(wanted)
    rows = select_in(
        conn,
        "SELECT id FROM contacts WHERE workspace_id = {ws} AND {match} ORDER BY id FOR KEY SHARE",
        [ws],
        "id",
        wanted,
    )
    return {contact_id for (contact_id,) in rows}


_IDENTIFIER_KINDS = ("email", "phone", "linkedin_url")
_holders = Statement(
    lambda conn: (
        select(identifiers.c.kind, contacts.c.id, contacts.c.external_id)
        .join(
            contacts,
            and_(
                contacts.c.workspace_id == identifiers.c.workspace_id,
                contacts.c.id == identifiers.c.contact_id,
            ),
        )
        .where(
            identifiers.c.workspace_id == bindparam("ws"),
            # A kind that is not wanted gets NULL, which equals nothing.
            or_(
                *(
                    and_(identifiers.c.kind == kind, identifiers.c.value == bindparam(kind))
                    for kind in _IDENTIFIER_KINDS
                )
            ),
        )
    )
)


def identifier_holders(
    conn: Connection, ws: str, wanted: Mapping[str, str]
) -> dict[str, ContactRef]:
    """kind -> the contact holding that identifier value, for the identifiers that are taken."""
    if not wanted:
        return {}
    values = {kind: wanted.get(kind) for kind in _IDENTIFIER_KINDS}
    return {
        kind: ContactRef(cid, external_id)
        for kind, cid, external_id in _holders.rows(conn, ws=ws, **values)
    }


def _build_new_contact(conn: Connection) -> Any:
    return insert(conn, contacts).values(
        workspace_id=bindparam("ws"),
        id=bindparam("id"),
        external_id=bindparam("external_id"),
        identified=bindparam("identified"),
        identified_at=bindparam("identified_at"),
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
    )


_new_contact = Statement(_build_new_contact)
# RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT through SQLAlchemy.
_new_identified_contact = Statement(
    lambda conn: _build_new_contact(conn).on_conflict_do_nothing().returning(contacts.c.id)
)


def create_contact(
    conn: Connection, ws: str, external_id: str | None, now: int
) -> tuple[ContactRef, bool]:
    """The contact for `external_id`, created unless another writer created it first."""
    contact_id = new_id()
    values = {
        "ws": ws,
        "id": contact_id,
        "external_id": external_id,
        "identified": external_id is not None,
        "identified_at": now if external_id is not None else None,
        "now": now,
    }
    if external_id is None:
        _new_contact.run(conn, **values)
        return ContactRef(contact_id, None), True
    if _new_identified_contact.first(conn, **values) is not None:
        return ContactRef(contact_id, external_id), True
    winner = by_external_ids(conn, ws, [external_id])[external_id]
    return winner, False


_adopt = Statement(
    lambda conn: (
        update(contacts)
        .where(
            contacts.c.workspace_id == bindparam("ws"),
            contacts.c.id == bindparam("contact_id"),
            contacts.c.external_id.is_(None),
        )
        .values(
            external_id=bindparam("external_id"),
            identified=True,
            identified_at=bindparam("now"),
            updated_at=bindparam("now"),
        )
        .returning(contacts.c.id)
    )
)


def adopt_external_id(
    conn: Connection, ws: str, contact_id: str, external_id: str, now: int
) -> bool:
    """Give an anonymous-by-id contact (found by email, say) its external_id, if still free."""
    found = _adopt.first(conn, ws=ws, contact_id=contact_id, external_id=external_id, now=now)
    return found is not None


def touch(conn: Connection, ws: str, contact_ids: Iterable[str], now: int) -> set[str]:
    """Set the contacts' updated_at; returns which of them exist. On PostgreSQL the update
    also holds them as `hold` does (more strongly: it locks their rows until the transaction
    ends), and a contact deleted meanwhile by a merge or erasure is not among those returned."""
    rows = select_in(
        conn,
        "UPDATE contacts SET updated_at = {ph} WHERE workspace_id = {ws} AND {match} RETURNING id",
        [now, ws],
        "id",
        sorted(set(contact_ids)),
    )
    return {contact_id for (contact_id,) in rows}


_claim = Statement(
    lambda conn: (
        insert(conn, identifiers)
        .values(
            workspace_id=bindparam("ws"),
            kind=bindparam("kind"),
            value=bindparam("value"),
            contact_id=bindparam("contact_id"),
            created_at=bindparam("now"),
        )
        .on_conflict_do_nothing()
    )
)


def claim_identifiers(
    conn: Connection, ws: str, contact_id: str, wanted: Mapping[str, str], now: int
) -> None:
    """Take the identifiers that are still free; taken ones stay with their holder."""
    _claim.run_many(
        conn,
        [
            {"ws": ws, "kind": kind, "value": value, "contact_id": contact_id, "now": now}
            for kind, value in wanted.items()
        ],
    )


def identifiers_of(conn: Connection, ws: str, contact_id: str) -> dict[str, list[str]]:
    """kind -> every value the contact holds, oldest claim first (a contact keeps the email
    it was first known by, and one merged into it brings its own)."""
    rows = conn.execute(
        select(identifiers.c.kind, identifiers.c.value)
        .where(identifiers.c.workspace_id == ws, identifiers.c.contact_id == contact_id)
        .order_by(identifiers.c.created_at, identifiers.c.value)
    )
    held: dict[str, list[str]] = {}
    for r in rows:
        held.setdefault(r.kind, []).append(r.value)
    return held


_traits_of = Statement(
    lambda conn: (
        select(traits.c.key, traits.c.value, traits.c.observed_at, traits.c.trust, traits.c.source)
        .where(
            traits.c.workspace_id == bindparam("ws"),
            traits.c.owner_kind == bindparam("kind"),
            traits.c.owner_id == bindparam("owner"),
        )
        .order_by(traits.c.key)
    )
)


def load_traits(conn: Connection, ws: str, owner_kind: str, owner_id: str) -> dict[str, TraitValue]:
    return {
        key: TraitValue(decode_value(value), observed_at, Trust(trust), source)
        for key, value, observed_at, trust, source in _traits_of.rows(
            conn, ws=ws, kind=owner_kind, owner=owner_id
        )
    }


def _build_write_traits(conn: Connection) -> Any:
    """The WHERE clause repeats the most-recent-wins order so a concurrent writer holding
    newer data is never overwritten by an older observation."""
    stmt = insert_rows(conn, traits, tuple(c.name for c in traits.columns))
    return stmt.on_conflict_do_update(
        index_elements=["workspace_id", "owner_kind", "owner_id", "key"],
        set_={
            "value": stmt.excluded.value,
            "observed_at": stmt.excluded.observed_at,
            "trust": stmt.excluded.trust,
            "source": stmt.excluded.source,
        },
        where=(
            (stmt.excluded.observed_at > traits.c.observed_at)
            | (
                (stmt.excluded.observed_at == traits.c.observed_at)
                & (
                    (stmt.excluded.trust > traits.c.trust)
                    | (
                        (stmt.excluded.trust == traits.c.trust)
                        & (stmt.excluded.value > traits.c.value)
                    )
                )
            )
        ),
    )


_write_traits = Statement(_build_write_traits)


def write_traits(
    conn: Connection, ws: str, owner_kind: str, owner_id: str, winners: Mapping[str, TraitValue]
) -> None:
    """Upsert the winning values (a newer value stored meanwhile is kept)."""
    _write_traits.write_many(
        conn,
        [
            {
                "workspace_id": ws,
                "owner_kind": owner_kind,
                "owner_id": owner_id,
                "key": key,
                "value": canonical_json(tv.value),
                "observed_at": tv.observed_at,
                "trust": int(tv.trust),
                "source": tv.source,
            }
            for key, tv in winners.items()
        ],
    )


_delete_traits = Statement(
    lambda conn: delete(traits).where(
        traits.c.workspace_id == bindparam("ws"),
        traits.c.owner_kind == bindparam("kind"),
        traits.c.owner_id == bindparam("owner"),
    )
)


def delete_traits(conn: Connection, ws: str, owner_kind: str, owner_id: str) -> None:
    _delete_traits.run(conn, ws=ws, kind=owner_kind, owner=owner_id)


def get_row(conn: Connection, ws: str, contact_id: str) -> Any:
    return conn.execute(
        select(contacts).where(contacts.c.workspace_id == ws, contacts.c.id == contact_id)
    ).first()


_delete_contact = Statement(
    lambda conn: delete(contacts).where(
        contacts.c.workspace_id == bindparam("ws"), contacts.c.id == bindparam("contact_id")
    )
)


def delete_contact_row(conn: Connection, ws: str, contact_id: str) -> None:
    _delete_contact.run(conn, ws=ws, contact_id=contact_id)
