"""Time on page derived from a session's next page view, for any number of sessions at once (an
export derives it for every session of a contact's timeline)."""

from __future__ import annotations

from ingesting import ingest, secret_key_caller

from seam.clock import to_iso
from seam.store import contacts, timelines
from seam.store.engine import Database
from seam.store.timelines import EventQuery

BASE = 1_800_000_000_000_000
NOW = BASE + 100_000 * 1_000_000  # received after every page view (none is clock-corrected)
# More sessions than PostgreSQL takes parameters in one statement (65,535).
SESSIONS = 70_000


def page(i: int, session: str, second: int) -> dict[str, object]:
    return {
        "type": "page",
        "userId": "usr-many-sessions",
        "messageId": f"p-{i}",
        "name": f"page-{i}",
        "timestamp": to_iso(BASE + second * 1_000_000),
        "context": {"session_id": session},
    }


def test_durations_are_derived_across_more_sessions_than_one_statement_takes(db: Database):
    caller = secret_key_caller(db, "many-sessions")
    ws = caller.workspace.id
    visits = [page(i, f"s-{i}", i) for i in range(SESSIONS)]
    visits += [page(SESSIONS, "s-two", 10), page(SESSIONS + 1, "s-two", 52)]
    ingest(db, caller, visits, now=NOW)

    with db.reader.connect() as conn:
        contact = contacts.by_external_ids(conn, ws, ["usr-many-sessions"])["usr-many-sessions"]
        query = EventQuery(contact_id=contact.id, descending=False, limit=1_000_000)
        rows = timelines.find(conn, ws, query)
        derived = timelines.missing_durations(conn, ws, rows)
    assert len(rows) == SESSIONS + 2
    # A session's only page view has no next one; the first of "s-two" lasted until the second.
    assert {row.name: derived[row.id] for row in rows if row.id in derived} == {
        f"page-{SESSIONS}": 42_000
    }
