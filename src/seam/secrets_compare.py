"""Comparing a value someone sent with a secret, in constant time."""

from __future__ import annotations

import hmac


def same_secret(sent: str, expected: str) -> bool:
    """Whether `sent` is `expected`, in time independent of where they differ. As bytes:
    `hmac.compare_digest` refuses str with non-ASCII characters (a TypeError, so a 500 for
    whoever sends one)."""
    return hmac.compare_digest(sent.encode(), expected.encode())
