"""Stored rows as the JSON documents the SPEC names (§7)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import msgspec

from seam.clock import to_iso
from seam.errors import BadRequest
from seam.store.jsonb import loads
from seam.store.reads import ContactView
from seam.store.timelines import EventRow

from .params import int64


def encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(str(p) for p in parts).encode()).decode()


def decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the cursor is not valid", code="invalid_cursor") from exc
    if len(parts) != count:
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    return parts


def cursor_number(part: str, *, negative: bool = False) -> int:
    """A number inside a cursor; a client-made one out of range is refused, not sent to SQL."""
    value = int64(part)
    if value is None or (value < 0 and not negative):
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    return value


def event(row: EventRow, durations: Mapping[int, int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(row.id),
        "message_id": row.message_id,
        "type": row.type,
        "event": row.event,
        "name": row.name,
        "anonymous_id": row.anonymous_id,
        "user_id": row.user_id,
        "contact_id": row.contact_id,
        "session_id": row.session_id,
        "timestamp": to_iso(row.timestamp),
        "received_at": to_iso(row.received_at),
        # Stored documents are already JSON: embedded as they are, not decoded and re-encoded.
        "properties": msgspec.Raw(row.properties or "{}"),
        "traits": msgspec.Raw(row.traits or "{}"),
        "context": msgspec.Raw(row.context or "{}"),
        "attribution": {"via": row.via, "at": to_iso(row.attributed_at)},
    }
    if row.flags:
        body["flags"] = row.flags.split(",")
    if row.type in ("page", "page_leave"):
        duration = row.duration_ms
        if duration is None and durations:
            duration = durations.get(row.id)
        body["duration_ms"] = duration
        body["scroll_depth"] = row.scroll_depth
    return body


def contact(view: ContactView) -> dict[str, Any]:
    return {
        **contact_summary(view.row),
        "traits": view.traits,
        "trait_meta": {
            k: {**meta, "updated_at": to_iso(meta["updated_at"])}
            for k, meta in view.trait_meta.items()
        },
        "identifiers": {k: view.identifiers.get(k) for k in ("email", "phone", "linkedin_url")},
        "anonymous_ids": [v.anonymous_id for v in view.visitors],
        "devices": [visitor_binding(v) for v in view.visitors],
        "groups": view.groups,
        "event_count": view.event_count,
    }


def contact_summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "external_id": row.external_id,
        "identified": bool(row.identified),
        "identified_at": to_iso(row.identified_at),
        "created_at": to_iso(row.created_at),
        "updated_at": to_iso(row.updated_at),
    }


def visitor_binding(row: Any) -> dict[str, Any]:
    return {
        "anonymous_id": row.anonymous_id,
        "bound_at": to_iso(row.bound_at),
        "bound_via": row.bound_via,
        "first_seen": to_iso(row.first_seen),
        "last_seen": to_iso(row.last_seen),
    }


def audit_entry(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "at": to_iso(row.at),
        "action": row.action,
        "contact_id": row.contact_id,
        "anonymous_id": row.anonymous_id,
        "other_contact_id": row.other_contact_id,
        "reason": row.reason,
        "trust": row.trust,
        "key_id": row.key_id,
        "details": loads(row.details),
    }


def quarantined(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "received_at": to_iso(row.received_at),
        "code": row.code,
        "message": row.message,
        "payload": row.payload,
    }
