"""A person's timeline as the page shows it: events grouped into sessions, each event with its
attribution explained (back-filled or not, and the audit entries behind it). Pure: rows in,
view objects out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seam.store.jsonb import loads

# Attributions decided after the event was stored: the event was anonymous until then.
BACKFILL_VIAS = ("identify", "enrichment", "form")
# Audit actions that explain why a device's events belong to a contact.
DEVICE_ACTIONS = ("visitor_bound", "visitor_moved", "visitor_bind_refused", "contacts_merged")
CONTACT_ACTIONS = ("contact_created", "external_id_bound", "contacts_merged")
# What the two contacts of an entry are to it: (role of contact_id, role of other_contact_id).
ROLES = {
    "visitor_bind_refused": ("refused contact", "device owner"),
    "identifier_conflict": ("claimed by", "held by"),
    "visitor_moved": ("moved to", "moved from"),
    "contacts_merged": ("merged into", "merged contact"),
}


@dataclass(frozen=True)
class AuditView:
    id: int
    at: int
    action: str
    contact_id: str | None
    anonymous_id: str | None
    other_contact_id: str | None
    reason: str | None
    trust: str | None
    key_id: str | None
    details: dict[str, Any]

    @property
    def alarming(self) -> bool:
        return self.action in ("visitor_bind_refused", "identifier_conflict", "identity_unverified")

    def counterparts(self, page_contact: str | None = None) -> list[tuple[str, str]]:
        """The contacts the entry names, with their roles, except the page's own contact: on
        the device owner's page a refused binding names the contact that was refused, on
        the refused contact's page the owner (either can be `other_contact_id`)."""
        contact_role, other_role = ROLES.get(self.action, ("contact", "other contact"))
        named = ((contact_role, self.contact_id), (other_role, self.other_contact_id))
        return [(role, cid) for role, cid in named if cid and cid != page_contact]


def audit_view(row: Any) -> AuditView:
    return AuditView(
        id=row.id,
        at=row.at,
        action=row.action,
        contact_id=row.contact_id,
        anonymous_id=row.anonymous_id,
        other_contact_id=row.other_contact_id,
        reason=row.reason,
        trust=row.trust,
        key_id=row.key_id,
        details=loads(row.details),
    )


@dataclass(frozen=True)
class EventView:
    id: int
    type: str
    title: str
    detail: str | None
    timestamp: int
    received_at: int
    anonymous_id: str | None
    session_id: str | None
    via: str | None
    attributed_at: int | None
    back_filled: bool
    duration_ms: int | None
    duration_derived: bool
    scroll_depth: int | None
    message_id: str
    properties: dict[str, Any]
    context: dict[str, Any]
    traits: dict[str, Any]
    audit: list[AuditView]


@dataclass
class SessionGroup:
    session_id: str | None
    events: list[EventView] = field(default_factory=list)

    @property
    def start(self) -> int:
        return min(e.timestamp for e in self.events)

    @property
    def end(self) -> int:
        return max(e.timestamp for e in self.events)

    @property
    def page_views(self) -> int:
        return sum(1 for e in self.events if e.type == "page")

    @property
    def back_filled(self) -> int:
        return sum(1 for e in self.events if e.back_filled)

    @property
    def devices(self) -> list[str]:
        return sorted({e.anonymous_id for e in self.events if e.anonymous_id})


def _title(row: Any, props: Mapping[str, Any], ctx: Mapping[str, Any]) -> tuple[str, str | None]:
    page = ctx.get("page") if isinstance(ctx.get("page"), dict) else {}
    path = (page or {}).get("path") or props.get("path")
    if row.type == "page":
        return "Page view", str(path or row.name or "")
    if row.type == "page_leave":
        return "Left page", str(path or "") or None
    if row.type == "track":
        return str(row.event or "Track"), None
    if row.type == "screen":
        return "Screen", str(row.name or "")
    if row.type == "identify":
        return "Identify", row.user_id
    if row.type == "form":
        return "Form submitted", str(path or "") or None
    return row.type.capitalize(), None


def explain(row: Any, entries: Sequence[AuditView]) -> list[AuditView]:
    """The audit entries behind an event's attribution: decisions about its device (the
    binding that attributed it happened in the same transaction, so at == attributed_at),
    else the device's binding, else the decisions about its contact at that moment."""
    if row.contact_id is None and row.anonymous_id is None:
        return []
    same_device = [e for e in entries if row.anonymous_id and e.anonymous_id == row.anonymous_id]
    exact = [e for e in entries if e.at == row.attributed_at and e.at is not None]
    exact_device = [e for e in exact if e in same_device or e.anonymous_id is None]
    if exact_device:
        return exact_device[:4]
    if same_device:
        return [e for e in same_device if e.action in DEVICE_ACTIONS][:4] or same_device[:2]
    return [
        e
        for e in entries
        if e.action in CONTACT_ACTIONS and e.contact_id == row.contact_id and e.anonymous_id is None
    ][:2]


def event_view(row: Any, derived: Mapping[int, int], entries: Sequence[AuditView]) -> EventView:
    props, ctx = loads(row.properties), loads(row.context)
    title, detail = _title(row, props, ctx)
    duration = row.duration_ms
    derived_ms = derived.get(row.id) if duration is None else None
    return EventView(
        id=row.id,
        type=row.type,
        title=title,
        detail=detail,
        timestamp=row.timestamp,
        received_at=row.received_at,
        anonymous_id=row.anonymous_id,
        session_id=row.session_id,
        via=row.via,
        attributed_at=row.attributed_at,
        back_filled=(row.via in BACKFILL_VIAS and row.type not in ("identify", "alias", "form")),
        duration_ms=duration if duration is not None else derived_ms,
        duration_derived=derived_ms is not None,
        scroll_depth=row.scroll_depth,
        message_id=row.message_id,
        properties=props,
        context=ctx,
        traits=loads(row.traits),
        audit=explain(row, entries) if row.contact_id else [],
    )


def group_sessions(events: Sequence[EventView]) -> list[SessionGroup]:
    """Consecutive events of one session form a group (events come newest first; an event
    without a session id joins the group it falls in only if that group has none either)."""
    groups: list[SessionGroup] = []
    for e in events:
        if not groups or groups[-1].session_id != e.session_id:
            groups.append(SessionGroup(e.session_id))
        groups[-1].events.append(e)
    return groups
