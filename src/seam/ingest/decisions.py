"""The audit entries of the identity decisions the write path carries out (SPEC §5): what
each records, in one place, so every path that makes a decision explains it the same way."""

from __future__ import annotations

from seam.identity.binding import REFUSED_REASON
from seam.identity.resolve import ContactRef
from seam.identity.trust import Trust
from seam.ingest.message import Message
from seam.store.audit import AuditEntry


def contact_created(contact: ContactRef, trust: Trust, matched_by: str | None) -> AuditEntry:
    return AuditEntry(
        "contact_created",
        contact_id=contact.id,
        trust=trust.label,
        details={"by": matched_by or "external_id"},
    )


def external_id_bound(contact: ContactRef, trust: Trust, matched_by: str | None) -> AuditEntry:
    return AuditEntry(
        "external_id_bound",
        contact_id=contact.id,
        trust=trust.label,
        reason=f"matched by {matched_by}" if matched_by else None,
        details={"external_id": contact.external_id, "matched_by": matched_by},
    )


def identifier_conflict(
    contact_id: str | None, holder_id: str, kind: str, external_id: str, trust: Trust
) -> AuditEntry:
    return AuditEntry(
        "identifier_conflict",
        contact_id=contact_id,
        other_contact_id=holder_id,
        trust=trust.label,
        reason=f"{kind} belongs to another contact",
        details={"kind": kind, "external_id": external_id},
    )


def identity_unverified(m: Message, via: str) -> AuditEntry:
    return AuditEntry(
        "identity_unverified",
        anonymous_id=m.anonymous_id,
        trust=Trust.SOFT.label,
        reason="identity verification is required and the claim was not verified",
        details={"via": via, "message_id": m.message_id},
    )


def visitor_bound(anonymous_id: str, contact_id: str, trust: Trust, via: str) -> AuditEntry:
    return AuditEntry(
        "visitor_bound",
        contact_id=contact_id,
        anonymous_id=anonymous_id,
        trust=trust.label,
        reason=via,
    )


def visitor_bind_refused(
    anonymous_id: str, contact_id: str | None, bound_to: str | None, trust: Trust
) -> AuditEntry:
    return AuditEntry(
        "visitor_bind_refused",
        contact_id=contact_id,
        anonymous_id=anonymous_id,
        other_contact_id=bound_to,
        trust=trust.label,
        reason=REFUSED_REASON,
    )
