"""Which strings may name a visitor or a contact (SPEC §3)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_ID_LENGTH = 255

# Values that SDKs and templating bugs send in place of a real id; binding any of them would
# merge every visitor who hit the same bug into one person.
PLACEHOLDER_IDS = frozenset(
    {
        "anonymous",
        "null",
        "undefined",
        "none",
        "nil",
        "0",
        "-1",
        "guest",
        "nan",
        "true",
        "false",
        "[object object]",
    }
)


@dataclass(frozen=True)
class InvalidId:
    reason: str


def check_id(raw: object) -> str | InvalidId | None:
    """The usable id, `None` when absent, or why it is refused.

    Numbers are accepted as ids (Segment SDKs allow numeric user ids) and kept as their text.
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw.strip()
    elif isinstance(raw, bool) or not isinstance(raw, int | float):
        return InvalidId("must be a string")
    elif isinstance(raw, float):
        text = str(int(raw)) if raw.is_integer() else repr(raw)
    else:
        text = str(raw)
    if not text:
        return InvalidId("must not be empty")
    if len(text) > MAX_ID_LENGTH:
        return InvalidId(f"must be at most {MAX_ID_LENGTH} characters")
    if "\x00" in text:
        return InvalidId("must not contain NUL characters")
    if text.lower() in PLACEHOLDER_IDS:
        return InvalidId(f"'{text}' is a placeholder, not an id")
    return text
