"""Erasure (right to be forgotten) and the data moves of an admin merge."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, or_, select, update

from seam.identity.resolve import ContactRef
from seam.store.dialect import like_escaped
from seam.store.tables import (
    audit,
    contacts,
    events,
    identifiers,
    memberships,
    quarantine,
    traits,
    visitors,
)


def erase_contact(conn: Connection, ws: str, contact: ContactRef, anonymous_ids: list[str]) -> int:
    """Remove the contact, its identifiers, traits, bindings, devices and events, and the
    rejected messages that name it; strip the personal data from earlier audit rows (the
    caller writes the tombstone). Returns how many rejected messages were removed."""
    contact_id = contact.id
    scrubbed = _scrub_quarantine(conn, ws, contact, anonymous_ids)
    conn.execute(
        delete(events).where(events.c.workspace_id == ws, events.c.contact_id == contact_id)
    )
    if anonymous_ids:
        # The devices' anonymous events are the contact's; an event on one of them that names
        # someone else (a refused second user) is that person's and stays.
        conn.execute(
            delete(events).where(
                events.c.workspace_id == ws,
                events.c.anonymous_id.in_(anonymous_ids),
                events.c.contact_id.is_(None),
            )
        )
        conn.execute(
            delete(visitors).where(
                visitors.c.workspace_id == ws, visitors.c.anonymous_id.in_(anonymous_ids)
            )
        )
        conn.execute(
            delete(traits).where(
                traits.c.workspace_id == ws,
                traits.c.owner_kind == "visitor",
                traits.c.owner_id.in_(anonymous_ids),
            )
        )
    conn.execute(
        delete(identifiers).where(
            identifiers.c.workspace_id == ws, identifiers.c.contact_id == contact_id
        )
    )
    conn.execute(
        delete(traits).where(
            traits.c.workspace_id == ws,
            traits.c.owner_kind == "contact",
            traits.c.owner_id == contact_id,
        )
    )
    conn.execute(
        delete(memberships).where(
            memberships.c.workspace_id == ws,
            memberships.c.member_kind == "contact",
            memberships.c.member_id == contact_id,
        )
    )
    conn.execute(delete(contacts).where(contacts.c.workspace_id == ws, contacts.c.id == contact_id))
    conn.execute(
        update(audit)
        .where(
            audit.c.workspace_id == ws,
            (audit.c.contact_id == contact_id) | (audit.c.other_contact_id == contact_id),
        )
        .values(anonymous_id=None, details="{}", reason=None)
    )
    if anonymous_ids:
        # Earlier decisions about the person's devices (bound to a previous owner, then
        # moved or merged here) name a device of theirs too.
        conn.execute(
            update(audit)
            .where(audit.c.workspace_id == ws, audit.c.anonymous_id.in_(anonymous_ids))
            .values(anonymous_id=None)
        )
    return scrubbed


def _scrub_quarantine(
    conn: Connection, ws: str, contact: ContactRef, anonymous_ids: list[str]
) -> int:
    """Delete the quarantined payloads that name the contact: its external id or a device's id
    as a JSON string, or one of its identifiers anywhere (an email or a LinkedIn URL is
    distinctive; a phone number is matched only as it was normalized). Case-insensitive;
    best effort on the first 4 KB that a rejected message keeps."""
    values = conn.execute(
        select(identifiers.c.value).where(
            identifiers.c.workspace_id == ws, identifiers.c.contact_id == contact.id
        )
    ).scalars()
    quoted = [f'"{i}"' for i in (contact.external_id, *anonymous_ids) if i]
    patterns = {f"%{like_escaped(v.lower())}%" for v in (*quoted, *values)}
    if not patterns:
        return 0
    payload = func.lower(quarantine.c.payload)
    found = or_(*(payload.like(p, escape="\\") for p in sorted(patterns)))
    return int(
        conn.execute(delete(quarantine).where(quarantine.c.workspace_id == ws, found)).rowcount
    )


def move_identifiers(conn: Connection, ws: str, from_contact: str, to_contact: str) -> None:
    """Every identifier of the merged contact joins the survivor: it is the same person, and
    an email left behind would let the next form with it create a duplicate."""
    conn.execute(
        update(identifiers)
        .where(identifiers.c.workspace_id == ws, identifiers.c.contact_id == from_contact)
        .values(contact_id=to_contact)
    )


def set_external_id(
    conn: Connection, ws: str, contact_id: str, external_id: str | None, identified_at: int | None
) -> None:
    conn.execute(
        update(contacts)
        .where(contacts.c.workspace_id == ws, contacts.c.id == contact_id)
        .values(
            external_id=external_id, identified=external_id is not None, identified_at=identified_at
        )
    )
