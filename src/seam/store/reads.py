"""Read models for the API and the dashboard: contacts with their traits, lists and counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from seam.identity.normalize import identifiers_from_traits
from seam.store import contacts as contacts_repo
from seam.store import groups, timelines, visitors
from seam.store.dialect import like_escaped, lower
from seam.store.jsonb import dumps
from seam.store.tables import contacts, identifiers, traits


@dataclass(frozen=True)
class ContactView:
    row: Any
    traits: dict[str, Any]
    trait_meta: dict[str, dict[str, Any]]
    identifiers: dict[str, str]
    visitors: list[Any]
    event_count: int
    groups: list[str]


def contact_view(conn: Connection, ws: str, contact_id: str) -> ContactView | None:
    row = contacts_repo.get_row(conn, ws, contact_id)
    if row is None:
        return None
    stored = contacts_repo.load_traits(conn, ws, "contact", contact_id)
    return ContactView(
        row=row,
        traits={k: tv.value for k, tv in stored.items()},
        trait_meta={
            k: {"updated_at": tv.observed_at, "source": tv.source, "trust": tv.trust.label}
            for k, tv in stored.items()
        },
        identifiers=shown_identifiers(
            contacts_repo.identifiers_of(conn, ws, contact_id),
            identifiers_from_traits({k: tv.value for k, tv in stored.items()}, None),
        ),
        visitors=visitors.of_contact(conn, ws, contact_id),
        event_count=timelines.count_for_contact(conn, ws, contact_id),
        groups=groups.groups_of(conn, ws, "contact", contact_id),
    )


def shown_identifiers(held: dict[str, list[str]], current: dict[str, str]) -> dict[str, str]:
    """One value per kind for the contact document: the one its current trait holds (most
    recent wins, as for the trait), else the latest claimed. Every held value still finds
    the contact."""
    return {
        kind: current[kind] if current.get(kind) in values else values[-1]
        for kind, values in held.items()
    }


def find_contacts(
    conn: Connection,
    ws: str,
    *,
    external_id: str | None = None,
    identifier: tuple[str, str] | None = None,
    q: str | None = None,
    before: tuple[int, str] | None = None,
    limit: int = 50,
) -> list[Any]:
    stmt = select(contacts).where(contacts.c.workspace_id == ws)
    if external_id is not None:
        stmt = stmt.where(contacts.c.external_id == external_id)
    if identifier is not None:
        kind, value = identifier
        stmt = stmt.where(
            contacts.c.id.in_(
                select(identifiers.c.contact_id).where(
                    identifiers.c.workspace_id == ws,
                    identifiers.c.kind == kind,
                    identifiers.c.value == value,
                )
            )
        )
    if q:
        pattern = f"%{like_escaped(q.lower())}%"
        # Trait values are stored as JSON: a quote or a backslash in a name is escaped there.
        in_json = f"%{like_escaped(dumps(q.lower())[1:-1])}%"
        stmt = stmt.where(
            or_(
                lower(conn, contacts.c.external_id).like(pattern, escape="\\"),
                contacts.c.id.in_(
                    select(identifiers.c.contact_id).where(
                        identifiers.c.workspace_id == ws,
                        identifiers.c.value.like(pattern, escape="\\"),
                    )
                ),
                contacts.c.id.in_(
                    select(traits.c.owner_id).where(
                        traits.c.workspace_id == ws,
                        traits.c.owner_kind == "contact",
                        traits.c.key.in_(
                            ("name", "firstname", "lastname", "first_name", "last_name")
                        ),
                        lower(conn, traits.c.value).like(in_json, escape="\\"),
                    )
                ),
            )
        )
    if before is not None:
        created, cid = before
        stmt = stmt.where(
            or_(
                contacts.c.created_at < created,
                and_(contacts.c.created_at == created, contacts.c.id < cid),
            )
        )
    stmt = stmt.order_by(contacts.c.created_at.desc(), contacts.c.id.desc()).limit(limit)
    return list(conn.execute(stmt))
