"""The documented shapes of the API, as msgspec structs: `/openapi.json` is generated from them.

They describe what `seam.ingest.message.validate` accepts (it is deliberately lenient about
extra fields, as Segment is); `seam.api.openapi` adds the rules between fields (which ids a
message needs). The OpenAPI tests post messages and check that the schema and the server
agree on each.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from seam.identity.ids import MAX_ID_LENGTH, PLACEHOLDER_IDS


def _placeholder_pattern() -> str:
    """The placeholders, trimmed and in any case, as a JSON Schema (ECMA-262) pattern."""

    def letter(c: str) -> str:
        if c.isalpha():
            return f"[{c.lower()}{c.upper()}]"
        return "\\" + c if c in "[]" else c

    words = sorted("".join(map(letter, word)) for word in PLACEHOLDER_IDS)
    return rf"^\s*({'|'.join(words)})\s*$"


# SPEC §3: 1-255 characters once trimmed, and not a placeholder (compared without case).
# Numbers are ids too (Segment's SDKs allow numeric user ids), kept as their text.
IdText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        pattern=r"\S",
        extra_json_schema={"not": {"pattern": _placeholder_pattern()}},
    ),
]
# Kept as their text, whole numbers as digits: fewer than 256 characters, and not 0 or -1.
IdNumber = Annotated[
    float,
    msgspec.Meta(gt=-1e254, lt=1e255, extra_json_schema={"not": {"enum": [0, -1]}}),
]
Id = IdText | IdNumber

_SAME = "; when both are given they must name the same id"
UserIdAlias = Annotated[Id | None, msgspec.Meta(description="alias of userId" + _SAME)]
AnonymousIdAlias = Annotated[Id | None, msgspec.Meta(description="alias of anonymousId" + _SAME)]
PreviousIdAlias = Annotated[Id | None, msgspec.Meta(description="alias of previousId" + _SAME)]
GroupIdAlias = Annotated[Id | None, msgspec.Meta(description="alias of groupId" + _SAME)]

DateTime = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]

MessageType = Literal["identify", "track", "page", "screen", "group", "alias", "page_leave", "form"]


class Page(msgspec.Struct, omit_defaults=True):
    url: str | None = None
    path: str | None = None
    referrer: str | None = None
    title: str | None = None
    search: str | None = None


class Campaign(msgspec.Struct, omit_defaults=True):
    name: str | None = None
    source: str | None = None
    medium: str | None = None
    term: str | None = None
    content: str | None = None


class Context(msgspec.Struct, omit_defaults=True):
    ip: str | None = None
    userAgent: str | None = None
    locale: str | None = None
    page: Page | None = None
    campaign: Campaign | None = None
    library: dict[str, str] | None = None
    traits: dict[str, Any] | None = None
    external_contact_id: str | None = None
    session_id: str | None = None
    user_hash: str | None = None


class Message(msgspec.Struct, omit_defaults=True):
    type: MessageType | None = None
    userId: Id | None = None
    anonymousId: Id | None = None
    messageId: str | None = None
    timestamp: DateTime | None = None
    sentAt: DateTime | None = None
    context: Context | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    event: str | None = None
    name: str | None = None
    category: str | None = None
    groupId: Id | None = None
    previousId: Id | None = None
    integrations: dict[str, Any] | None = None
    user_id: UserIdAlias = None
    external_id: UserIdAlias = None
    anonymous_id: AnonymousIdAlias = None
    previous_id: PreviousIdAlias = None
    group_id: GroupIdAlias = None


class Batch(msgspec.Struct, omit_defaults=True):
    batch: list[Message]
    context: Context | None = None
    sentAt: DateTime | None = None
    writeKey: str | None = None


class Rejected(msgspec.Struct):
    index: int
    code: str
    message: str


class BatchResult(msgspec.Struct):
    status: Literal["success"]
    accepted: int
    rejected: list[Rejected]


class Success(msgspec.Struct):
    """The answer to one stored message (other than identify and alias)."""

    status: Literal["success"]


class IdentifyResult(msgspec.Struct, omit_defaults=True):
    status: Literal["success"]
    contact_id: str | None
    created: bool
    events_linked: int
    visitor_bound: bool
    timestamp: str
    refused_reason: str | None = None


class ErrorBody(msgspec.Struct):
    code: str
    message: str
    details: list[Any]
    request_id: str


class Error(msgspec.Struct):
    status: Literal["error"]
    error: ErrorBody


class Attribution(msgspec.Struct):
    via: str | None
    at: str | None


class Event(msgspec.Struct, omit_defaults=True):
    id: str
    message_id: str
    type: str
    event: str | None
    name: str | None
    anonymous_id: str | None
    contact_id: str | None
    session_id: str | None
    timestamp: str
    received_at: str
    properties: dict[str, Any]
    traits: dict[str, Any]
    context: dict[str, Any]
    attribution: Attribution
    duration_ms: int | None = None
    scroll_depth: int | None = None


class EventPage(msgspec.Struct):
    data: list[Event]
    next_cursor: str | None


class TraitMeta(msgspec.Struct):
    updated_at: str
    source: str
    trust: str


class ContactSummary(msgspec.Struct):
    id: str
    external_id: str | None
    identified: bool
    identified_at: str | None
    created_at: str
    updated_at: str


class Contact(ContactSummary):
    traits: dict[str, Any]
    trait_meta: dict[str, TraitMeta]
    identifiers: dict[str, str | None]
    anonymous_ids: list[str]
    event_count: int


class ContactDoc(msgspec.Struct):
    data: Contact


class ImportRecord(msgspec.Struct, omit_defaults=True):
    external_id: str | None = None
    email: str | None = None
    traits: dict[str, Any] | None = None
    updated_at: str | None = None


class ImportBody(msgspec.Struct, omit_defaults=True):
    records: list[ImportRecord]
    source: str | None = None


class ContactPage(msgspec.Struct):
    data: list[ContactSummary]
    next_cursor: str | None


class Visitor(msgspec.Struct):
    anonymous_id: str
    contact_id: str | None
    contact: Contact | None
    first_seen: str
    last_seen: str
    event_count: int
    bound_at: str | None
    bound_via: str | None


class VisitorDoc(msgspec.Struct):
    data: Visitor


class AuditEntry(msgspec.Struct):
    id: str
    at: str
    action: str
    contact_id: str | None
    anonymous_id: str | None
    other_contact_id: str | None
    reason: str | None
    trust: str | None
    key_id: str | None
    details: dict[str, Any] | None


class AuditPage(msgspec.Struct):
    data: list[AuditEntry]
    next_cursor: str | None


class Quarantined(msgspec.Struct):
    id: str
    received_at: str
    code: str
    message: str
    payload: str


class QuarantinePage(msgspec.Struct):
    data: list[Quarantined]
    next_cursor: str | None


class MoveBody(msgspec.Struct):
    contact_id: str


class MergeBody(msgspec.Struct):
    from_contact_id: str


class AdminResult(msgspec.Struct, kw_only=True):
    """What an admin operation did; the fields beyond `status` depend on the operation."""

    status: Literal["success"]


class SessionIdentifyResult(msgspec.Struct):
    status: Literal["success"]
    contact_id: str
    events_linked: int


class Health(msgspec.Struct):
    status: Literal["ok"]
    processes: int


class ExportedContact(Contact):
    events: list[Event]


class ContactExport(msgspec.Struct):
    data: ExportedContact


# The structs /openapi.json documents (their names are the components' names).
DOCUMENTED = (
    "Message",
    "Batch",
    "BatchResult",
    "Success",
    "IdentifyResult",
    "Error",
    "EventPage",
    "ContactDoc",
    "ContactPage",
    "VisitorDoc",
    "AuditPage",
    "QuarantinePage",
    "ImportBody",
    "MoveBody",
    "MergeBody",
    "AdminResult",
    "ContactExport",
    "SessionIdentifyResult",
    "Health",
)
