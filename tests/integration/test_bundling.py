"""Write transactions whose BEGIN and COMMIT travel with their statements (`store.bundling`,
PostgreSQL): still one transaction, all or nothing, in the order written, on both backends."""

from __future__ import annotations

import msgspec
import pytest
from ingesting import stored_event_row
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import DataError

from seam.store import audit, contacts, events, visitors
from seam.store.audit import AuditEntry
from seam.store.engine import Database
from seam.store.jsonb import dumps
from seam.store.tables import events as events_table
from seam.store.tables import visitors as visitors_table


class Abandoned(Exception):
    """Raised inside a transaction to abandon it."""


def _events_of(db: Database, ws: str) -> int:
    with db.reader.connect() as conn:
        return int(
            conn.execute(select(func.count()).where(events_table.c.workspace_id == ws)).scalar_one()
        )


def _visitors_of(db: Database, ws: str) -> set[str]:
    with db.reader.connect() as conn:
        rows = conn.execute(
            select(visitors_table.c.anonymous_id).where(visitors_table.c.workspace_id == ws)
        )
        return {anonymous_id for (anonymous_id,) in rows}


def test_writes_that_wait_for_the_commit_are_stored_by_it(db: Database) -> None:
    ws = "ws-bundling-commit"
    with db.writer.begin() as conn:
        visitors.record_seen(conn, ws, {"device-1": (1_000, 2_000)})
        events.insert_events(conn, [stored_event_row(workspace_id=ws, message_id="m-1")])
        audit.record(conn, ws, [AuditEntry("contact_created", contact_id="c-1")], at=1, key_id=None)
    assert _events_of(db, ws) == 1
    assert _visitors_of(db, ws) == {"device-1"}
    with db.reader.connect() as conn:
        assert [row.action for row in audit.query(conn, ws)] == ["contact_created"]


def test_a_write_that_begins_a_transaction_by_itself_is_stored_by_its_commit(
    db: Database,
) -> None:
    ws = "ws-bundling-autobegin"
    with db.writer.connect() as conn:
        events.insert_events(conn, [stored_event_row(workspace_id=ws, message_id="m-1")])
        conn.commit()
    assert _events_of(db, ws) == 1


def test_a_later_statement_of_the_transaction_sees_the_writes_before_it(db: Database) -> None:
    ws = "ws-bundling-order"
    with db.writer.begin() as conn:
        visitors.record_seen(conn, ws, {"device-1": (1_000, 2_000)})
        assert set(visitors.known(conn, ws, ["device-1", "device-2"])) == {"device-1"}
        events.insert_events(conn, [stored_event_row(workspace_id=ws, message_id="m-1")])
        events.insert_events(conn, [stored_event_row(workspace_id=ws, message_id="m-2")])
        assert events.stored_message_ids(conn, ws, ["m-1", "m-2", "m-3"]) == {"m-1", "m-2"}
        # A statement SQLAlchemy runs itself sees them too.
        count = select(func.count()).where(events_table.c.workspace_id == ws)
        assert conn.execute(count).scalar_one() == 2


# Text that quoting must not change: quotes, backslashes, percent signs and placeholders.
AWKWARD = ["it's", "''", "back\\slash", "\\'", '"quoted"', "50% off", "%s", "%(rows)s", "é 漢字 🎉"]


def test_awkward_text_is_stored_and_found_exactly_as_sent(db: Database) -> None:
    """Statements sent together carry their values as literals (`bundling`): ids and
    documents come back byte for byte, and lookups by them find them."""
    ws = "ws-bundling-awkward"
    devices = [f"device {value}" for value in AWKWARD]
    with db.writer.begin() as conn:
        visitors.record_seen(conn, ws, dict.fromkeys(devices, (1_000, 2_000)))
        events.insert_events(
            conn,
            [
                stored_event_row(
                    workspace_id=ws,
                    message_id=f"m {value}",
                    anonymous_id=device,
                    event=value,
                    properties=dumps({"value": value}),
                )
                for value, device in zip(AWKWARD, devices, strict=True)
            ],
        )
        assert set(visitors.known(conn, ws, [*devices, "device %"])) == set(devices)
        found = events.stored_message_ids(conn, ws, [f"m {value}" for value in AWKWARD])
        assert found == {f"m {value}" for value in AWKWARD}
    assert _visitors_of(db, ws) == set(devices)
    with db.reader.connect() as conn:
        rows = conn.execute(
            select(
                events_table.c.message_id, events_table.c.event, events_table.c.properties
            ).where(events_table.c.workspace_id == ws)
        ).all()
    assert sorted(rows) == sorted(
        (f"m {value}", value, dumps({"value": value})) for value in AWKWARD
    )


def test_a_nul_in_a_value_is_refused_and_nothing_of_the_transaction_is_kept(
    pg_db: Database,
) -> None:
    """PostgreSQL's text holds no NUL (SQLite's does)."""
    db = pg_db
    ws = "ws-bundling-nul"
    with pytest.raises(DataError), db.writer.begin() as conn:
        events.insert_events(conn, [stored_event_row(workspace_id=ws, message_id="m-1")])
        visitors.known(conn, ws, ["device\x00-1"])
    assert _events_of(db, ws) == 0


@pytest.mark.parametrize("first", ["waiting write", "statement", "sqlalchemy statement"])
def test_an_abandoned_transaction_keeps_nothing(db: Database, first: str) -> None:
    """Whatever its first statement, a transaction is one: a write sent at once and a write
    that waited are both undone when it is abandoned."""
    ws = f"ws-bundling-abandoned-{first.replace(' ', '-')}"

    def write_first(conn: Connection) -> None:
        if first == "waiting write":
            events.insert_events(conn, [stored_event_row(workspace_id=ws, message_id="m-0")])
        elif first == "statement":
            contacts.create_contact(conn, ws, "user-1", now=1)
        else:
            row = stored_event_row(workspace_id=ws, message_id="m-0")
            conn.execute(insert(events_table).values(msgspec.structs.asdict(row)))

    with pytest.raises(Abandoned), db.writer.begin() as conn:
        write_first(conn)
        contacts.create_contact(conn, ws, "user-2", now=1)
        visitors.record_seen(conn, ws, {"device-1": (1_000, 2_000)})
        raise Abandoned
    assert _events_of(db, ws) == 0
    assert _visitors_of(db, ws) == set()
    with db.reader.connect() as conn:
        assert contacts.by_external_ids(conn, ws, ["user-1", "user-2"]) == {}


def test_a_write_in_progress_is_not_seen_outside_its_transaction(db: Database) -> None:
    """The first statement really began a transaction (it was not run in autocommit)."""
    ws = "ws-bundling-isolated"
    with db.writer.begin() as conn:
        contacts.create_contact(conn, ws, "user-1", now=1)
        contacts.create_contact(conn, ws, "user-2", now=1)
        if not db.is_sqlite:  # SQLite's writer holds the file: a reader waits, then sees it
            with db.reader.connect() as other:
                assert contacts.by_external_ids(other, ws, ["user-1", "user-2"]) == {}
    with db.reader.connect() as conn:
        assert set(contacts.by_external_ids(conn, ws, ["user-1", "user-2"])) == {
            "user-1",
            "user-2",
        }


def test_writes_left_waiting_by_an_abandoned_transaction_do_not_reach_the_next(
    db: Database,
) -> None:
    ws = "ws-bundling-next"
    with db.writer.connect() as conn:
        with pytest.raises(Abandoned), conn.begin():
            events.insert_events(conn, [stored_event_row(workspace_id=ws, message_id="lost")])
            raise Abandoned
        with conn.begin():
            events.insert_events(conn, [stored_event_row(workspace_id=ws, message_id="kept")])
    with db.reader.connect() as conn:
        assert events.stored_message_ids(conn, ws, ["lost", "kept"]) == {"kept"}


@pytest.mark.postgres
def test_a_refused_write_that_waited_fails_the_commit_and_keeps_nothing(pg_db: Database) -> None:
    """PostgreSQL refuses a NUL in text (SQLite stores it): the refusal comes with COMMIT, as
    the error the statement itself would have raised, and the transaction's other writes are
    undone."""
    db = pg_db
    ws = "ws-bundling-refused"
    with pytest.raises(DataError) as refused, db.writer.begin() as conn:
        contacts.create_contact(conn, ws, "user-1", now=1)
        events.insert_events(
            conn, [stored_event_row(workspace_id=ws, message_id="m-1", name="private-name\x00")]
        )
    # Neither the parameters nor the report's quote of the JSON around the NUL.
    assert "private-name" not in str(refused.value)
    assert "private-name" not in str(refused.value.orig)
    assert _events_of(db, ws) == 0
    with db.reader.connect() as conn:
        assert contacts.by_external_ids(conn, ws, ["user-1"]) == {}
    with db.writer.begin() as conn:  # the connection went back to the pool usable
        events.insert_events(conn, [stored_event_row(workspace_id=ws, message_id="m-2")])
    assert _events_of(db, ws) == 1


@pytest.mark.postgres
def test_a_refused_write_that_waited_is_named_by_the_statement_it_went_with(
    pg_db: Database,
) -> None:
    """A write that waited goes with the next statement: its refusal is raised there, naming
    the waiting write's template beside the statement's (still never its parameters)."""
    db = pg_db
    ws = "ws-bundling-refused-with"
    with pytest.raises(DataError) as refused, db.writer.begin() as conn:
        events.insert_events(
            conn, [stored_event_row(workspace_id=ws, message_id="m-1", name="private-name\x00")]
        )
        events.stored_message_ids(conn, ws, ["m-1"])
    message = str(refused.value)
    assert "INSERT INTO events" in message
    assert "SELECT message_id FROM events" in message
    assert "private-name" not in message
    assert _events_of(db, ws) == 0
