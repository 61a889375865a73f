"""Admin operations on identity (SPEC §8): move a device, merge two contacts, erase, export.

Each runs as one write transaction through the writer and audits what it did.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from seam.clock import now_us
from seam.errors import Conflict, NotFound
from seam.identity.merge import plan_merge
from seam.identity.traits import merge_trait_maps
from seam.identity.trust import Trust
from seam.store import audit, contacts, erasure, events, groups, timelines, visitors
from seam.store.audit import AuditEntry


def move_visitor(
    conn: Connection, ws: str, anonymous_id: str, contact_id: str, key_id: str | None
) -> dict[str, Any]:
    # The device's contact is locked too: an ingest that stored events through the binding
    # holds it (`contacts.hold`), so this move waits for them and then moves them as well.
    before = visitors.get(conn, ws, anonymous_id)
    owner = [before.contact_id] if before is not None and before.contact_id else []
    if contact_id not in contacts.lock(conn, ws, [contact_id, *owner]):
        raise NotFound("no such contact")
    row = visitors.get(conn, ws, anonymous_id)  # as it stands now that its contacts are held
    if row is None:
        raise NotFound("this visitor was never seen")
    previous = row.contact_id
    if previous == contact_id:  # a repeated move: nothing to do, nothing to audit
        return {
            "anonymous_id": anonymous_id,
            "contact_id": contact_id,
            "previous_contact_id": previous,
            "events_moved": 0,
        }
    now = now_us()
    visitors.move(conn, ws, anonymous_id, contact_id, now=now, trust=int(Trust.AUTHORITATIVE))
    moved = events.reattribute_visitor(conn, ws, anonymous_id, contact_id, via="admin", now=now)
    audit.record(
        conn,
        ws,
        [
            AuditEntry(
                "visitor_moved",
                contact_id=contact_id,
                anonymous_id=anonymous_id,
                other_contact_id=previous,
                trust=Trust.AUTHORITATIVE.label,
                reason="admin move",
                details={"events_moved": moved},
            )
        ],
        at=now,
        key_id=key_id,
    )
    return {
        "anonymous_id": anonymous_id,
        "contact_id": contact_id,
        "previous_contact_id": previous,
        "events_moved": moved,
    }


def merge_contacts(
    conn: Connection, ws: str, into_id: str, from_id: str, key_id: str | None
) -> dict[str, Any]:
    locked = contacts.lock(conn, ws, [into_id, from_id])
    into, source = locked.get(into_id), locked.get(from_id)
    if into is None or source is None:
        raise NotFound("no such contact")
    plan = plan_merge(into, source)
    if not plan.allowed:
        raise Conflict(plan.reason or "these contacts cannot be merged", code="merge_refused")
    now = now_us()
    source_row = contacts.get_row(conn, ws, from_id)
    if plan.external_id != into.external_id:
        erasure.set_external_id(conn, ws, from_id, None, None)
        erasure.set_external_id(conn, ws, into_id, plan.external_id, source_row.identified_at)
    stored = contacts.load_traits(conn, ws, "contact", into_id)
    merged = merge_trait_maps(stored, contacts.load_traits(conn, ws, "contact", from_id))
    contacts.write_traits(conn, ws, "contact", into_id, merged)
    contacts.delete_traits(conn, ws, "contact", from_id)
    erasure.move_identifiers(conn, ws, from_id, into_id)
    # Events that belong to the merged contact through its devices follow the devices.
    moved = timelines.count_through_devices(conn, ws, from_id)
    visitors.reassign_contact(conn, ws, from_id, into_id)
    moved += events.reassign_contact(conn, ws, from_id, into_id)
    groups.reassign_member(conn, ws, "contact", from_id, into_id, now)
    contacts.delete_contact_row(conn, ws, from_id)
    contacts.touch(conn, ws, [into_id], now)
    audit.record(
        conn,
        ws,
        [
            AuditEntry(
                "contacts_merged",
                contact_id=into_id,
                other_contact_id=from_id,
                trust=Trust.AUTHORITATIVE.label,
                reason="admin merge",
                details={"events_moved": moved},
            )
        ],
        at=now,
        key_id=key_id,
    )
    return {"contact_id": into_id, "merged_contact_id": from_id, "events_moved": moved}


def erase_contact(conn: Connection, ws: str, contact_id: str, key_id: str | None) -> None:
    contact = contacts.lock(conn, ws, [contact_id]).get(contact_id)
    if contact is None:
        raise NotFound("no such contact")
    devices = [v.anonymous_id for v in visitors.of_contact(conn, ws, contact_id)]
    scrubbed = erasure.erase_contact(conn, ws, contact, devices)
    audit.record(
        conn,
        ws,
        [
            AuditEntry(
                "contact_erased",
                contact_id=contact_id,
                trust=Trust.AUTHORITATIVE.label,
                details={"devices": len(devices), "rejected_messages": scrubbed},
            )
        ],
        at=now_us(),
        key_id=key_id,
    )
