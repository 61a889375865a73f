"""The enrichment pass attributes events that raced an identify, on both backends."""

from __future__ import annotations

from ingesting import ingest, secret_key_caller
from sqlalchemy import select

from seam.clock import now_us
from seam.enrichment import enrich, enrich_recent
from seam.ingest.apply import Caller
from seam.store import timelines, visitors, workspaces
from seam.store.engine import Database
from seam.store.tables import events
from seam.store.timelines import EventQuery
from seam.store.turns import ENRICHMENT, take_turn


def test_an_event_that_raced_the_binding_is_attributed_by_the_pass(db: Database) -> None:
    caller = secret_key_caller(db, "enrich")
    ws = caller.workspace
    ingest(db, caller, [{"type": "identify", "userId": "usr-1", "anonymousId": "dev-1"}])
    # A transaction that read the visitor before the binding committed stored this event as
    # anonymous; reproduce its outcome by inserting it as the racing writer would have.
    with db.writer.begin() as conn:
        bound = visitors.known(conn, ws.id, ["dev-1"])["dev-1"].contact_id
        conn.execute(
            events.insert().values(
                workspace_id=ws.id,
                message_id="raced",
                type="page",
                anonymous_id="dev-1",
                timestamp=now_us(),
                received_at=now_us(),
            )
        )
    with db.reader.connect() as conn:  # readers attribute it through the binding already
        (shown,) = timelines.find(conn, ws.id, EventQuery(anonymous_id="dev-1", types=("page",)))
    assert (shown.contact_id, shown.via, shown.attributed_at) == (
        bound,
        "enrichment",
        shown.received_at,
    )
    if not db.is_sqlite:
        # Another process is doing this round's pass: this one skips it.
        with db.writer.begin() as other, db.writer.begin() as conn:
            assert take_turn(other, ENRICHMENT)
            assert enrich_recent(conn) == 0
    with db.writer.begin() as conn:
        assert enrich_recent(conn) == 1
    with db.reader.connect() as conn:
        row = conn.execute(
            select(events).where(events.c.workspace_id == ws.id, events.c.message_id == "raced")
        ).one()
    assert (row.contact_id, row.via, row.attributed_at) == (bound, "enrichment", row.received_at)
    with db.writer.begin() as conn:
        assert enrich(conn, since=None) == 0  # nothing left: the pass is idempotent


def test_events_of_unbound_visitors_stay_anonymous(db: Database) -> None:
    with db.writer.begin() as conn:
        ws = workspaces.create_workspace(conn, "enrich-anon")
    caller = Caller(workspace=ws, key_id=None, secret=False, can_write_contacts=False)
    ingest(db, caller, [{"type": "page", "anonymousId": "dev-anon", "messageId": "anon-page"}])
    with db.writer.begin() as conn:
        enrich(conn, since=None)
    with db.reader.connect() as conn:
        row = conn.execute(
            select(events).where(events.c.workspace_id == ws.id, events.c.message_id == "anon-page")
        ).one()
    assert row.contact_id is None


def test_the_pass_leaves_back_filled_events_to_their_binding(db: Database) -> None:
    caller = secret_key_caller(db, "enrich-backfilled")
    ws = caller.workspace
    ingest(db, caller, [{"type": "page", "anonymousId": "dev-2", "messageId": "before"}])
    ingest(db, caller, [{"type": "identify", "userId": "usr-2", "anonymousId": "dev-2"}])
    with db.writer.begin() as conn:
        assert enrich(conn, since=None) == 0
    with db.reader.connect() as conn:
        (page,) = timelines.find(conn, ws.id, EventQuery(anonymous_id="dev-2", types=("page",)))
        bound = visitors.get(conn, ws.id, "dev-2")
    assert (page.contact_id, page.via, page.attributed_at) == (
        bound.contact_id,
        "identify",
        bound.bound_at,
    )
