"""The dashboard overview's events per day and how many belong to a contact: an event counts
as attributed whether its row names the contact or its device's binding makes it the
contact's, on both backends."""

from __future__ import annotations

from typing import Any

from ingesting import ingest, secret_key_caller

from seam.clock import to_iso
from seam.store import dashboard
from seam.store.dashboard import DAY_US
from seam.store.engine import Database

SINCE = 1_800_000_000_000_000 - 1_800_000_000_000_000 % DAY_US  # a UTC midnight


def page(n: int, day: int, **ids: str) -> dict[str, Any]:
    at = SINCE + day * DAY_US + n * 1_000_000
    return {"type": "page", "messageId": f"p-{day}-{n}", "timestamp": to_iso(at), **ids}


def test_counts_events_per_day_and_those_of_contacts_through_rows_and_bindings(
    db: Database,
) -> None:
    caller = secret_key_caller(db, "overview")
    ws = caller.workspace
    ingest(
        db,
        caller,
        [
            # Day 0: two pages of a device that is identified later (back-filled by the
            # binding, rows without a contact), one of a device nobody claims.
            page(1, 0, anonymousId="dev-later"),
            page(2, 0, anonymousId="dev-later"),
            page(3, 0, anonymousId="dev-stranger"),
            # Day 1: one sent with a userId (named in its row), one of a stranger.
            page(1, 1, userId="usr-direct"),
            page(2, 1, anonymousId="dev-stranger"),
            # Day 3: nothing on day 2; one more of the stranger.
            page(1, 3, anonymousId="dev-stranger"),
        ],
        now=SINCE + 5 * DAY_US,
    )
    ingest(
        db,
        caller,
        [{"type": "identify", "userId": "usr-later", "anonymousId": "dev-later"}],
        now=SINCE + 5 * DAY_US,
    )

    with db.reader.connect() as conn:
        days = dashboard.daily_counts(conn, ws.id, since=SINCE, until=SINCE + 4 * DAY_US)

    assert [(d.day_start, d.events, d.attributed) for d in days] == [
        (SINCE, 3, 2),
        (SINCE + DAY_US, 2, 1),
        (SINCE + 2 * DAY_US, 0, 0),
        (SINCE + 3 * DAY_US, 1, 0),
    ]
