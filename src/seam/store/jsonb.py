"""JSON documents as the text stored in the database."""

from __future__ import annotations

from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def dumps(value: Any) -> str:
    return _encode(value).decode()


def as_text(value: Any) -> str:
    """A JSON value as text to show: strings as they are, anything else as JSON (never a
    Python repr such as `{'first': 'Ada'}`)."""
    return value if isinstance(value, str) else dumps(value)


def loads(text: str | bytes | None) -> Any:
    """A stored document; absent documents read as an empty object."""
    return _decode(text) if text else {}


def decode_value(text: str | bytes) -> Any:
    """A stored JSON value of any type (a trait value may be null, a number, a list...)."""
    return _decode(text)
