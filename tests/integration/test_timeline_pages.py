"""A contact's timeline merges its own events with the still-anonymous events of its devices:
any walk over it, in any page size, order or filter, sees each event exactly once, in order,
on both backends."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingesting import ingest, secret_key_caller

from seam.clock import to_iso
from seam.store import contacts, timelines
from seam.store.engine import Database
from seam.store.timelines import EventQuery

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
    expected = sorted(
        (
            r
            for r in everything
            if r.message_id in theirs
            and (not types or r.type in types)
            and (since is None or r.timestamp >= since)
            and (until is None or r.timestamp < until)
        ),
        key=lambda r: (r.timestamp, r.id),
        reverse=descending,
    )
    q = EventQuery(
        contact_id=contact_id,
        types=types,
        since=since,
        until=until,
        descending=descending,
        limit=limit,
    )
    assert walk(db, ws.id, q) == [r.message_id for r in expected]
    with db.reader.connect() as conn:
        assert timelines.count_for_contact(conn, ws.id, contact_id) == len(theirs)
