"""Realistic `events` rows for the raw-insert ceiling: the shapes Seam stores (tables.py)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec

from seam.store.tables import events

# Every column a stored track event fills; `id` is left to the database.
COLUMNS: tuple[str, ...] = (
    "workspace_id", "message_id", "type", "event", "name", "anonymous_id", "user_id",
    "contact_id", "session_id", "timestamp", "received_at", "properties", "traits", "context",
    "via", "attributed_at", "duration_ms", "scroll_depth", "flags",
)  # fmt: skip
assert set(COLUMNS) <= set(events.c.keys())

_CONTEXT = msgspec.json.encode(
    {
        "ip": "203.0.113.7",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "locale": "en-US",
        "library": {"name": "seam.js", "version": "1.0.0"},
        "page": {
            "url": "https://example.com/pricing?ref=nav",
            "path": "/pricing",
            "referrer": "https://example.com/",
            "title": "Pricing",
            "search": "?ref=nav",
        },
    }
).decode()


def make_rows(n: int, prefix: str, *, pool: int = 10_000) -> list[tuple[Any, ...]]:
    """`n` anonymous track events, visitors from a pool of `pool`.

    Message ids are random UUIDs, as SDKs send them: unique-index inserts land all over the
    B-tree, not at its end.
    """
    now_us = int(time.time() * 1_000_000)
    rows = []
    for i in range(n):
        props = msgspec.json.encode({"plan": "pro", "value": i, "path": "/pricing"}).decode()
        rows.append(
            (
                "ws_bench",
                f"{prefix}-{uuid.uuid4()}",
                "track",
                "Bench Event",
                None,
                f"anon-{i % pool}",
                None,
                None,
                f"sess-{i % (pool // 4 or 1)}",
                now_us - (n - i) * 1000,
                now_us,
                props,
                "{}",
                _CONTEXT,
                None,
                None,
                None,
                None,
                None,
            )
        )
    return rows


def chunks(rows: list[tuple[Any, ...]], size: int) -> list[list[tuple[Any, ...]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]
