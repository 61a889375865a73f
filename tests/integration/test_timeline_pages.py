"""A contact's timeline merges its own events with the still-anonymous events of its devices:
any walk over it, in any page size, order or filter, sees each event exactly once, in order,
on both backends."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingesting import ingest, secret_key_caller

from seam.clock import to_iso
from seam.store import contacts, timelines
from seam.store.engine import Database
from seam.store.timelines import EventQuery, EventRow

BASE = 1_800_000_000_000_000
NOW = BASE + 10_000_000_000


def message(i: int, second: int, kind: str, **ids: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        "messageId": f"m-{i}",
        "timestamp": to_iso(BASE + second * 1_000_000),
        **ids,
    }
    if kind == "track":
        body["event"] = "Clicked"
    return body


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events of one person: sent with the userId, or from one of three devices (before or
    after that device is identified), a stranger's device now and then; seconds may tie."""
    out: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 40))):
        source = draw(st.sampled_from(["user", "dev-0", "dev-1", "dev-2", "stranger"]))
        second = draw(st.integers(0, 30))
        kind = draw(st.sampled_from(["page", "track"]))
        if source == "user":
            out.append(message(i, second, kind, userId="usr-1"))
        else:
            out.append(message(i, second, kind, anonymousId=source))
        if source.startswith("dev") and draw(st.integers(0, 5)) == 0:
            out.append(
                {
                    "type": "identify",
                    "userId": "usr-1",
                    "anonymousId": source,
                    "messageId": f"i-{i}",
                }
            )
    return out


def in_order(rows: Iterable[EventRow], descending: bool) -> list[str]:
    """The message ids of `rows` in timeline order."""
    ordered = sorted(rows, key=lambda r: (r.timestamp, r.id), reverse=descending)
    return [r.message_id for r in ordered]


def walk(db: Database, ws: str, q: EventQuery) -> list[str]:
    seen: list[str] = []
    with db.reader.connect() as conn:
        for _ in range(1000):
            page = timelines.find(conn, ws, q)
            seen += [r.message_id for r in page]
            if len(page) < q.limit:
                return seen
            q = EventQuery(**{**q.__dict__, "after": (page[-1].timestamp, page[-1].id)})
    raise AssertionError("the walk did not end")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=histories(),
    limit=st.integers(1, 7),
    descending=st.booleans(),
    types=st.sampled_from([(), ("page",), ("track", "identify")]),
    window=st.one_of(st.none(), st.tuples(st.integers(0, 15), st.integers(15, 31))),
)
def test_every_walk_sees_the_contact_timeline_once_in_order(
    db: Database,
    history: list[dict[str, Any]],
    limit: int,
    descending: bool,
    types: tuple[str, ...],
    window: tuple[int, int] | None,
) -> None:
    caller = secret_key_caller(db, "timeline")
    ws = caller.workspace
    for start in range(0, len(history), 5):  # several transactions
        ingest(db, caller, history[start : start + 5], now=NOW)
    with db.reader.connect() as conn:
        found = contacts.by_external_ids(conn, ws.id, ["usr-1"])
        if "usr-1" not in found:
            return  # only anonymous events of strangers: nobody to walk
        contact_id = found["usr-1"].id
        everything = timelines.find(conn, ws.id, EventQuery(since=0, limit=10_000))
    since, until = (
        (BASE + window[0] * 1_000_000, BASE + window[1] * 1_000_000) if window else (None, None)
    )
    # The person's events, decided from what was sent: those naming usr-1, and every event of
    # a device usr-1 identified on (before or after the identify).
    devices = {m["anonymousId"] for m in history if m["type"] == "identify"}
    theirs = {m["messageId"] for m in history if m.get("userId") or m.get("anonymousId") in devices}
    expected = in_order(
        (
            r
            for r in everything
            if r.message_id in theirs
            and (not types or r.type in types)
            and (since is None or r.timestamp >= since)
            and (until is None or r.timestamp < until)
        ),
        descending,
    )
    q = EventQuery(
        contact_id=contact_id,
        types=types,
        since=since,
        until=until,
        descending=descending,
        limit=limit,
    )
    assert walk(db, ws.id, q) == expected
    with db.reader.connect() as conn:
        assert timelines.count_for_contact(conn, ws.id, contact_id) == len(theirs)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=histories(),
    device=st.sampled_from(["dev-0", "dev-1", "stranger"]),
    limit=st.integers(1, 7),
    descending=st.booleans(),
    types=st.sampled_from([(), ("page",), ("track", "identify")]),
    identified_only=st.booleans(),
)
def test_every_walk_sees_the_device_timeline_once_in_order(
    db: Database,
    history: list[dict[str, Any]],
    device: str,
    limit: int,
    descending: bool,
    types: tuple[str, ...],
    identified_only: bool,
) -> None:
    """A device's events are in two indexes (attributed, and stored without a contact): a
    walk over them reads both and still sees each event once, in order."""
    caller = secret_key_caller(db, "device-timeline")
    ws = caller.workspace
    for start in range(0, len(history), 5):  # several transactions
        ingest(db, caller, history[start : start + 5], now=NOW)
    with db.reader.connect() as conn:
        everything = timelines.find(conn, ws.id, EventQuery(since=0, limit=10_000))
        count = timelines.count_for_visitor(conn, ws.id, device)
    # A device identified at any point is bound: all its events are then its person's.
    bound = any(m["type"] == "identify" and m.get("anonymousId") == device for m in history)
    mine = (r for r in everything if r.anonymous_id == device and (bound or not identified_only))
    expected = in_order((r for r in mine if not types or r.type in types), descending)
    q = EventQuery(
        anonymous_id=device,
        types=types,
        identified_only=identified_only,
        descending=descending,
        limit=limit,
    )
    assert walk(db, ws.id, q) == expected
    assert count == sum(1 for m in history if m.get("anonymousId") == device)
