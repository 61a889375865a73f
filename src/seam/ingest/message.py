"""One Segment-shaped message, validated and normalized (SPEC §3).

`validate` turns a decoded JSON object into a `Message` or a `Rejection`; it never raises for
bad input, so a batch can keep its good messages and report the others by index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from seam.clock import parse_iso
from seam.identity.ids import InvalidId, check_id
from seam.ids import new_id

# The field names the tracker refuses to capture from a form (seam.js `isSecret`).
SECRET_FIELD = re.compile(r"pass|pwd|secret", re.IGNORECASE)
TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias", "page_leave", "form"})
FUTURE_LIMIT_US = 24 * 3600 * 1_000_000
MAX_DURATION_MS = 3_600_000
MAX_NAME = 255
# The flag of a message whose context.external_contact_id was not a usable id and was ignored.
COOKIE_IGNORED = "invalid_external_contact_id_ignored"


@dataclass
class Message:
    type: str
    message_id: str
    anonymous_id: str | None
    user_id: str | None
    timestamp: int
    received_at: int
    event: str | None = None
    name: str | None = None
    group_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    external_contact_id: str | None = None
    user_hash: str | None = None
    flags: tuple[str, ...] = ()
    duration_ms: int | None = None
    scroll_depth: int | None = None
    page_message_id: str | None = None


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _first(raw: dict[str, Any], *names: str) -> Any:
    for name in names:
        if raw.get(name) is not None:
            return raw[name]
    return None


def _id(raw: dict[str, Any], *names: str) -> str | None:
    """The id under any of its names; names that disagree are refused rather than one of them
    silently winning (the message could belong to either person)."""
    found: str | None = None
    found_under = ""
    for name in names:
        value = raw.get(name)
        if value is None:
            continue
        checked = check_id(value)
        if isinstance(checked, InvalidId):
            raise _Invalid("invalid_id", f"{name} {checked.reason}")
        if found is not None and checked != found:
            raise _Invalid("invalid_id", f"{found_under} and {name} name different ids")
        found, found_under = checked, name
    return found


def _object(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid("invalid_message", f"{name} must be an object")
    return value


def _text(value: Any, label: str, limit: int = MAX_NAME) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _Invalid("invalid_message", f"{label} must be a string")
    text = str(value)
    if len(text) > limit:
        raise _Invalid("invalid_message", f"{label} must be at most {limit} characters")
    if "\x00" in text:
        raise _Invalid("invalid_message", f"{label} must not contain NUL characters")
    return text


def trait_name_problem(name: object) -> str | None:
    """Why `name` cannot name a trait, or None: names are stored as keys in a column of their
    own (255 characters, no NUL), not inside JSON."""
    if not isinstance(name, str):
        return "a trait name must be a string"
    if len(name) > MAX_NAME:
        return f"a trait name must be at most {MAX_NAME} characters"
    if "\x00" in name:
        return "a trait name must not contain NUL characters"
    return None


def _time(value: Any, label: str) -> int | None:
    if value is None:
        return None
    parsed = parse_iso(value)
    if parsed is None:
        raise _Invalid("invalid_timestamp", f"{label} must be an ISO-8601 date-time")
    return parsed


def _clamp(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value:  # NaN
        return None
    return int(max(low, min(high, value)))


def correct_timestamp(
    timestamp: int | None, sent_at: int | None, received_at: int
) -> tuple[int, tuple[str, ...]]:
    """Clock-skew correction: shift by receivedAt - sentAt; clamp more than 24 h ahead. A
    correction that lands before 1970 (absurd device clocks) is clamped the same way."""
    if timestamp is None:
        return received_at, ()
    if sent_at is not None:
        timestamp += received_at - sent_at
    if timestamp > received_at + FUTURE_LIMIT_US:
        return received_at, ("future_timestamp_clamped",)
    if timestamp < 0:
        return received_at, ("timestamp_out_of_range_clamped",)
    return timestamp, ()


def validate(
    raw: Any,
    *,
    received_at: int,
    default_type: str | None = None,
    batch_context: dict[str, Any] | None = None,
    batch_sent_at: Any = None,
) -> Message | Rejection:
    try:
        return _validate(raw, received_at, default_type, batch_context or {}, batch_sent_at)
    except _Invalid as exc:
        return Rejection(exc.code, exc.message)


def _validate(
    raw: Any,
    received_at: int,
    default_type: str | None,
    batch_context: dict[str, Any],
    batch_sent_at: Any,
) -> Message:
    if not isinstance(raw, dict):
        raise _Invalid("invalid_message", "a message must be a JSON object")
    given = default_type or raw.get("type")
    kind = given.lower() if isinstance(given, str) else ""
    if kind not in TYPES:
        raise _Invalid("invalid_type", f"type must be one of {', '.join(sorted(TYPES))}")
    if default_type and raw.get("type") not in (None, default_type):
        raise _Invalid("invalid_type", f"this endpoint accepts only {default_type} messages")

    context = {**batch_context, **_object(raw, "context")}
    user_id = _id(raw, "userId", "user_id", "external_id")
    anonymous_id = _id(raw, "anonymousId", "anonymous_id")
    if kind == "alias":
        previous = _id(raw, "previousId", "previous_id")
        if previous is None or user_id is None:
            raise _Invalid("missing_id", "alias needs previousId and userId")
        anonymous_id = previous
    if user_id is None and anonymous_id is None:
        raise _Invalid("missing_id", "a message needs userId or anonymousId")

    # The cookie is a hint the site set, not the message's own id: a value that cannot be an
    # id ("undefined" from a bug in the site's login code) is ignored, so the page views of a
    # browser carrying it are kept as anonymous, flagged, instead of refused one by one.
    cookie_flags: tuple[str, ...] = ()
    checked_cookie = check_id(context.get("external_contact_id"))
    if isinstance(checked_cookie, InvalidId):
        checked_cookie, cookie_flags = None, (COOKIE_IGNORED,)

    message_id = _text(_first(raw, "messageId", "message_id"), "messageId") or new_id()
    sent_at = _first(raw, "sentAt", "sent_at")
    timestamp, flags = correct_timestamp(
        _time(raw.get("timestamp"), "timestamp"),
        _time(sent_at if sent_at is not None else batch_sent_at, "sentAt"),
        received_at,
    )
    properties = _object(raw, "properties")
    traits = _object(raw, "traits")
    if kind == "identify" and not traits and isinstance(context.get("traits"), dict):
        traits = context["traits"]
    for key in traits:
        problem = trait_name_problem(key)
        if problem:
            raise _Invalid("invalid_message", problem)

    message = Message(
        type=kind,
        message_id=message_id,
        anonymous_id=anonymous_id,
        user_id=user_id,
        timestamp=timestamp,
        received_at=received_at,
        properties=properties,
        traits=traits,
        context=context,
        session_id=_text(context.get("session_id"), "context.session_id", 128),
        external_contact_id=checked_cookie,
        user_hash=_text(_first(context, "user_hash") or raw.get("user_hash"), "user_hash", 128),
        flags=flags + cookie_flags,
    )
    _typed_fields(message, raw)
    return message


def _typed_fields(message: Message, raw: dict[str, Any]) -> None:
    kind = message.type
    if kind == "track":
        message.event = _text(raw.get("event"), "event")
        if not message.event:
            raise _Invalid("invalid_message", "track needs an event name")
        if message.event == "page_leave":
            message.type = "page_leave"
    if kind in ("page", "screen"):
        message.name = _text(raw.get("name") or message.properties.get("name"), "name")
        category = _text(raw.get("category"), "category")
        if category is not None:
            message.properties.setdefault("category", category)
    if kind == "group":
        message.group_id = _id(raw, "groupId", "group_id")
        if message.group_id is None:
            raise _Invalid("missing_id", "group needs a groupId")
    if message.type == "page_leave":
        props = message.properties
        message.event = "page_leave"
        message.page_message_id = _text(props.get("page_message_id"), "page_message_id")
        message.duration_ms = _clamp(props.get("duration_ms"), 0, MAX_DURATION_MS)
        message.scroll_depth = _clamp(props.get("scroll_depth"), 0, 100)
    if kind == "form":
        if not isinstance(message.traits.get("email"), str):
            raise _Invalid("invalid_message", "a form message needs traits.email")
        # The tracker never sends secrets; a hand-made or misconfigured form might.
        message.traits = _without_secrets(message.traits)
        message.properties = _without_secrets(message.properties)


def _without_secrets(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if not SECRET_FIELD.search(k)}
