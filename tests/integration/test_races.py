"""Invariants hold across processes and transactions: two `seam serve` processes on one
database (a PostgreSQL database, or one SQLite file as `--workers N` shares it), hammered
concurrently, bind a device once and create one contact per external id; a transaction that
read a device before another bound it decides again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import httpx
import psycopg
import pytest
from ingesting import secret_key_caller
from servers import Cluster, two_servers
from sqlalchemy import Connection, RootTransaction, text
from sqlalchemy.exc import OperationalError

from seam.clock import now_us
from seam.enrichment import enrich
from seam.ingest.apply import Caller, IdentifyOutcome, Ingestion
from seam.ingest.message import Message, validate
from seam.operations import erase_contact, merge_contacts, move_visitor
from seam.store import audit, transactions, users, visitors
from seam.store.engine import Database, open_database
from seam.store.migrations import migrate
from seam.store.transactions import ConcurrentChange
from seam.store.workspaces import Workspace

T = TypeVar("T")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    logs = tmp_path_factory.mktemp("race")
    if request.param == "sqlite":
        url = f"sqlite:///{logs / 'seam.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    with two_servers(url, logs) as found:
        yield found


@pytest.fixture(scope="module")
def pg_cluster(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with two_servers(pg_url, tmp_path_factory.mktemp("race-pg")) as found:
        yield found


@dataclass(frozen=True)
class Store:
    db: Database
    ws: Workspace
    caller: Caller


@pytest.fixture
def pg_store(pg_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """The PostgreSQL store, with a workspace of the test's own written with a secret key."""
    db = open_database(pg_url)
    migrate(db)
    caller = secret_key_caller(db, request.node.name[:100])
    yield Store(db, caller.workspace, caller)
    db.dispose()


def post_all(
    urls: list[str], secret: str, bodies: list[dict[str, object]], path: str = "/v1/identify"
) -> list[dict]:
    """Post every body at once, to the servers in turn; each must be answered 200."""

    def send(i_body: tuple[int, dict[str, object]]) -> dict:
        i, body = i_body
        r = httpx.post(f"{urls[i % len(urls)]}{path}", json=body, auth=(secret, ""), timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(send, enumerate(bodies)))


def test_two_users_racing_for_one_device_bind_exactly_one(cluster: Cluster) -> None:
    urls, secret = cluster
    bodies = [{"userId": f"racer-{i % 2}", "anonymousId": "shared-device"} for i in range(60)]
    results = post_all(urls, secret, bodies)
    winners = {r["contact_id"] for r in results if r["visitor_bound"]}
    assert len(winners) == 1
    refused = [r for r in results if not r["visitor_bound"]]
    assert refused and all(r["refused_reason"] == "visitor_bound_to_other_contact" for r in refused)
    assert {r["contact_id"] for r in refused}.isdisjoint(winners)
    visitor = httpx.get(f"{urls[0]}/v1/visitors/shared-device", auth=(secret, "")).json()["data"]
    assert visitor["contact_id"] in winners
    audit = httpx.get(
        f"{urls[1]}/v1/audit",
        params={"anonymous_id": "shared-device", "action": "visitor_bound", "limit": 1000},
        auth=(secret, ""),
    ).json()["data"]
    assert len(audit) == 1


def test_racing_identifies_of_one_external_id_create_one_contact(
    cluster: Cluster,
) -> None:
    urls, secret = cluster
    bodies = [{"userId": "one-person", "anonymousId": f"device-{i}"} for i in range(60)]
    results = post_all(urls, secret, bodies)
    assert len({r["contact_id"] for r in results}) == 1
    assert sum(r["created"] for r in results) == 1
    assert all(r["visitor_bound"] for r in results)
    found = httpx.get(
        f"{urls[0]}/v1/contacts", params={"external_id": "one-person"}, auth=(secret, "")
    ).json()["data"]
    assert len(found) == 1
    contact = httpx.get(f"{urls[1]}/v1/contacts/{found[0]['id']}", auth=(secret, "")).json()
    assert len(contact["data"]["anonymous_ids"]) == 60


def test_overlapping_batches_racing_across_processes_store_each_message_once(
    cluster: Cluster,
) -> None:
    """An SDK's retries of large batches, to two processes at once: every message id is in up
    to four batches, half of them in the opposite order, so concurrent transactions insert the
    same ids crosswise. On PostgreSQL each batch is stored with COPY, which a stored or
    concurrently inserted id makes fail (then its transaction inserts the batch skipping
    those ids), and crosswise inserts may deadlock (then one transaction runs again)."""
    urls, secret = cluster
    bodies = []
    for k in range(12):
        ids = [f"overlap-{i}" for i in range(50 * k, 50 * k + 200)]
        ordered = ids[::-1] if k % 2 else ids
        messages = [
            {"type": "track", "anonymousId": "overlap-device", "messageId": m, "event": "Overlap"}
            for m in ordered
        ]
        bodies.append({"batch": messages})
    answers = post_all(urls, secret, bodies, path="/v1/batch")
    assert [a["accepted"] for a in answers] == [200] * 12
    stored: list[str] = []
    params: dict[str, str | int] = {"anonymous_id": "overlap-device", "limit": 1000}
    while True:
        page = httpx.get(f"{urls[0]}/v1/events", params=params, auth=(secret, "")).json()
        stored.extend(event["message_id"] for event in page["data"])
        if not page.get("next_cursor"):
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(stored) == sorted(f"overlap-{i}" for i in range(50 * 11 + 200))


@pytest.mark.postgres
def test_writes_and_reads_go_on_after_postgresql_drops_every_connection(
    pg_cluster: Cluster, pg_url: str
) -> None:
    """PostgreSQL restarted, or a proxy closed idle connections: every pooled connection of
    both servers is dead. The next requests must still be served (writers retry on a fresh
    connection, so do readers), and nothing acknowledged may be lost."""
    urls, secret = pg_cluster

    def send(url: str, kind: str, body: dict[str, object]) -> dict:
        r = httpx.post(f"{url}/v1/{kind}", json=body, auth=(secret, ""), timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    send(urls[0], "page", {"anonymousId": "dropped-device", "messageId": "before-drop"})
    with psycopg.connect(pg_url, autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert dropped is not None and dropped[0] >= 2
    send(urls[1], "page", {"anonymousId": "dropped-device", "messageId": "after-drop"})
    linked = send(urls[0], "identify", {"userId": "dropped-user", "anonymousId": "dropped-device"})
    assert linked["events_linked"] == 2
    for url in urls:
        r = httpx.get(
            f"{url}/v1/events", params={"anonymous_id": "dropped-device"}, auth=(secret, "")
        )
        assert r.status_code == 200, r.text
        assert {"before-drop", "after-drop"} <= {e["message_id"] for e in r.json()["data"]}


@pytest.mark.postgres
def test_a_device_bound_meanwhile_to_the_same_person_is_not_bound_twice(pg_store: Store) -> None:
    """A transaction read the device as free; before it binds it, another one binds it to the
    same contact and commits. The late one must see that it did not make the binding: one
    `visitor_bound` in the audit, and it reports no events linked."""
    db, ws, caller = pg_store.db, pg_store.ws, pg_store.caller

    def identify() -> Message:
        message = validate(
            {"type": "identify", "userId": "usr-same", "anonymousId": "dev-same"},
            received_at=now_us(),
        )
        assert isinstance(message, Message)
        return message

    with db.writer.begin() as setup:  # the device's one anonymous page and the contact
        first = Ingestion(setup, now_us())
        page = validate({"type": "page", "anonymousId": "dev-same"}, received_at=now_us())
        assert isinstance(page, Message)
        first.prefetch([(caller, [page])])
        first.apply(caller, page)
        first.finish()
    late_conn = db.writer.connect()
    late_tx = late_conn.begin()
    late = Ingestion(late_conn, now_us())
    late_message = identify()
    late.prefetch([(caller, [late_message])])  # reads the device as free
    with db.writer.begin() as conn:
        early = Ingestion(conn, now_us())
        early_message = identify()
        early.prefetch([(caller, [early_message])])
        won = early.apply(caller, early_message)
        early.finish()
    outcome = late.apply(caller, late_message)
    late.finish()
    late_tx.commit()
    late_conn.close()

    assert isinstance(won, IdentifyOutcome) and won.events_linked == 1
    assert isinstance(outcome, IdentifyOutcome)
    assert (outcome.contact_id, outcome.visitor_bound, outcome.events_linked) == (
        won.contact_id,
        True,
        0,
    )
    with db.reader.connect() as conn:
        bound = audit.query(conn, ws.id, anonymous_id="dev-same", action="visitor_bound")
        refused = audit.query(conn, ws.id, anonymous_id="dev-same", action="visitor_bind_refused")
    assert (len(bound), len(refused)) == (1, 0)


def _message(raw: dict[str, object]) -> Message:
    message = validate(raw, received_at=now_us())
    assert isinstance(message, Message), message
    return message


def _apply(ingestion: Ingestion, caller: Caller, raw: dict[str, object]) -> None:
    message = _message(raw)
    ingestion.prefetch([(caller, [message])])
    ingestion.apply(caller, message)


def _ingest(conn: Connection, caller: Caller, raw: dict[str, object]) -> None:
    ingestion = Ingestion(conn, now_us())
    _apply(ingestion, caller, raw)
    ingestion.finish()


def _contact_of(conn: Connection, ws: str, anonymous_id: str) -> str | None:
    row = visitors.get(conn, ws, anonymous_id)
    return None if row is None else row.contact_id


def _event_contact(conn: Connection, ws: str, message_id: str) -> str | None:
    return conn.execute(
        text("SELECT contact_id FROM events WHERE workspace_id = :ws AND message_id = :m"),
        {"ws": ws, "m": message_id},
    ).scalar_one()


def _rows_naming(conn: Connection, contact_id: str) -> int:
    """Events and devices that name the contact."""
    return int(
        conn.execute(
            text(
                "SELECT (SELECT count(*) FROM events WHERE contact_id = :c)"
                " + (SELECT count(*) FROM visitors WHERE contact_id = :c)"
            ),
            {"c": contact_id},
        ).scalar_one()
    )


def _waits_for_commit(
    pool: ThreadPoolExecutor, transaction: RootTransaction, work: Callable[[], T]
) -> T:
    """Run `work` on another connection: it must wait while `transaction` is open, and finish
    once that commits. Returns what `work` returned."""
    running = pool.submit(work)
    with pytest.raises(TimeoutError):
        running.result(timeout=1)
    transaction.commit()
    return running.result(timeout=30)


def _bob_and_his_form_contact(store: Store, device: str) -> tuple[str, str]:
    """Two contacts a merge may join: bob by his user id on `device`, and the one a form with
    his email made on his phone."""
    with store.db.writer.begin() as conn:
        _ingest(conn, store.caller, {"type": "identify", "userId": "bob", "anonymousId": device})
        form = {"type": "form", "anonymousId": "bob-phone", "traits": {"email": "bob@example.com"}}
        _ingest(conn, store.caller, form)
        bob, by_form = (
            _contact_of(conn, store.ws.id, device),
            _contact_of(conn, store.ws.id, "bob-phone"),
        )
    assert bob and by_form and bob != by_form
    return bob, by_form


@pytest.mark.postgres
def test_an_ingest_that_used_a_contact_merged_meanwhile_starts_over(pg_store: Store) -> None:
    """A transaction read bob's contact and wrote a binding and an event naming it; before
    it commits, an admin merges bob into the contact his form created, in another process.
    It must not commit rows naming the deleted contact: it starts over and finds bob where
    the merge put him."""
    db, ws, caller = pg_store.db, pg_store.ws, pg_store.caller
    bob, by_form = _bob_and_his_form_contact(pg_store, "bob-laptop")
    track = {"type": "track", "event": "Opened", "userId": "bob", "anonymousId": "bob-tablet"}
    track["messageId"] = "tablet-1"

    with db.writer.connect() as late_conn:
        late_tx = late_conn.begin()
        late = Ingestion(late_conn, now_us())
        _apply(late, caller, track)  # binds bob-tablet to bob and stores the event
        with db.writer.begin() as conn:
            merge_contacts(conn, ws.id, by_form, bob, None)
        with pytest.raises(ConcurrentChange):
            late.finish()
        late_tx.rollback()

    transactions.run(db.writer, lambda conn: _ingest(conn, caller, track))
    with db.reader.connect() as conn:
        assert _contact_of(conn, ws.id, "bob-tablet") == by_form
        assert _event_contact(conn, ws.id, "tablet-1") == by_form
        assert _rows_naming(conn, bob) == 0


@pytest.mark.postgres
def test_an_event_stored_through_a_device_moved_meanwhile_follows_the_move(pg_store: Store) -> None:
    """An anonymous page view of a bound device names the device's contact; an admin moves
    the device to another contact before that transaction commits. The event must end on
    the contact the device was moved to, not stay behind with the previous one."""
    db, ws, caller = pg_store.db, pg_store.ws, pg_store.caller
    with db.writer.begin() as conn:
        _ingest(conn, caller, {"type": "identify", "userId": "ann", "anonymousId": "shared-pc"})
        _ingest(conn, caller, {"type": "identify", "userId": "cy", "anonymousId": "cy-phone"})
        ann, cy = _contact_of(conn, ws.id, "shared-pc"), _contact_of(conn, ws.id, "cy-phone")
    assert ann and cy
    page = {"type": "page", "anonymousId": "shared-pc", "messageId": "pc-page"}

    def move() -> None:
        with db.writer.begin() as conn:
            move_visitor(conn, ws.id, "shared-pc", cy, None)

    with db.writer.connect() as late_conn, ThreadPoolExecutor(1) as pool:
        late_tx = late_conn.begin()
        late = Ingestion(late_conn, now_us())
        _apply(late, caller, page)  # stored through the binding: ann's
        late.finish()  # holds ann: the move must wait for this commit
        _waits_for_commit(pool, late_tx, move)

    with db.reader.connect() as conn:
        assert _contact_of(conn, ws.id, "shared-pc") == cy
        assert _event_contact(conn, ws.id, "pc-page") == cy


@pytest.mark.postgres
def test_an_ingest_that_read_a_binding_moved_meanwhile_starts_over(pg_store: Store) -> None:
    """As above, but the move commits first, between the ingest's read of the binding and
    its commit: the ingest starts over and stores the event as the new owner's."""
    db, ws, caller = pg_store.db, pg_store.ws, pg_store.caller
    with db.writer.begin() as conn:
        _ingest(conn, caller, {"type": "identify", "userId": "dee", "anonymousId": "kiosk"})
        _ingest(conn, caller, {"type": "identify", "userId": "eve", "anonymousId": "eve-phone"})
        eve = _contact_of(conn, ws.id, "eve-phone")
    assert eve
    page = {"type": "page", "anonymousId": "kiosk", "messageId": "kiosk-page"}

    with db.writer.connect() as late_conn:
        late_tx = late_conn.begin()
        late = Ingestion(late_conn, now_us())
        _apply(late, caller, page)
        with db.writer.begin() as conn:
            move_visitor(conn, ws.id, "kiosk", eve, None)
        with pytest.raises(ConcurrentChange):
            late.finish()
        late_tx.rollback()

    transactions.run(db.writer, lambda conn: _ingest(conn, caller, page))
    with db.reader.connect() as conn:
        assert _event_contact(conn, ws.id, "kiosk-page") == eve


@pytest.mark.postgres
def test_an_ingest_that_used_a_contact_erased_meanwhile_keeps_nothing_of_it(
    pg_store: Store,
) -> None:
    """An erasure in another process commits while an ingest holds a binding and an event
    naming the erased contact: nothing naming that contact may be committed after it."""
    db, ws, caller = pg_store.db, pg_store.ws, pg_store.caller
    with db.writer.begin() as conn:
        _ingest(conn, caller, {"type": "identify", "userId": "fay", "anonymousId": "fay-pc"})
        fay = _contact_of(conn, ws.id, "fay-pc")
    assert fay
    track = {"type": "track", "event": "Paid", "userId": "fay", "anonymousId": "fay-phone"}

    with db.writer.connect() as late_conn:
        late_tx = late_conn.begin()
        late = Ingestion(late_conn, now_us())
        _apply(late, caller, track)
        with db.writer.begin() as conn:
            erase_contact(conn, ws.id, fay, None)
        with pytest.raises(ConcurrentChange):
            late.finish()
        late_tx.rollback()

    with db.reader.connect() as conn:
        assert _rows_naming(conn, fay) == 0


@pytest.mark.postgres
def test_an_enrichment_pass_holds_the_contacts_it_attributes_to(pg_store: Store) -> None:
    """The pass stores a raced event as bob's; an admin merges bob into the contact his form
    made, in another process, before the pass commits. The merge must wait for the pass and
    then move that event too, not leave it naming the deleted contact."""
    db, ws = pg_store.db, pg_store.ws
    bob, by_form = _bob_and_his_form_contact(pg_store, "bob-pc")
    with db.writer.begin() as conn:
        # Stored without a contact by a transaction that read the device before its binding.
        conn.execute(
            text(
                "INSERT INTO events (workspace_id, message_id, type, anonymous_id, timestamp,"
                " received_at) VALUES (:ws, 'raced', 'page', 'bob-pc', :at, :at)"
            ),
            {"ws": ws.id, "at": now_us()},
        )

    def merge() -> None:
        with db.writer.begin() as conn:
            merge_contacts(conn, ws.id, by_form, bob, None)

    with db.writer.connect() as pass_conn, ThreadPoolExecutor(1) as pool:
        pass_tx = pass_conn.begin()
        assert enrich(pass_conn, since=None) == 1  # the raced event is bob's now
        _waits_for_commit(pool, pass_tx, merge)

    with db.reader.connect() as conn:
        assert _event_contact(conn, ws.id, "raced") == by_form


@pytest.mark.postgres
def test_an_enrichment_pass_holds_only_the_contacts_of_raced_bindings(pg_store: Store) -> None:
    """A contact bound recently but raced by no event is not held: holding it would write a
    lock into its row at every pass, and make its merges and erasures wait for passes."""
    db, ws, caller = pg_store.db, pg_store.ws, pg_store.caller
    bob, _ = _bob_and_his_form_contact(pg_store, "bob-laptop")
    with db.writer.begin() as conn:
        _ingest(conn, caller, {"type": "identify", "userId": "ann", "anonymousId": "ann-pc"})
        ann = _contact_of(conn, ws.id, "ann-pc")
        conn.execute(
            text(
                "INSERT INTO events (workspace_id, message_id, type, anonymous_id, timestamp,"
                " received_at) VALUES (:ws, 'raced-bob', 'page', 'bob-laptop', :at, :at)"
            ),
            {"ws": ws.id, "at": now_us()},
        )

    def locked(contact_id: str | None) -> bool:
        with db.writer.begin() as conn:
            try:
                conn.execute(
                    text("SELECT id FROM contacts WHERE id = :id FOR UPDATE NOWAIT"),
                    {"id": contact_id},
                )
            except OperationalError:
                return True
            return False

    with db.writer.connect() as pass_conn, pass_conn.begin():
        assert enrich(pass_conn, since=None) == 1
        assert locked(bob)
        assert not locked(ann)


def _members(store: Store, **roles: str) -> dict[str, users.User]:
    """Accounts named by the keywords, made members of the store's workspace with those
    roles."""
    made: dict[str, users.User] = {}
    with store.db.writer.begin() as conn:
        for name, role in roles.items():
            user = users.create_user(conn, f"{name}-{store.ws.id}@example.com", "x", now=now_us())
            assert user
            assert users.set_role(conn, store.ws.id, user.id, role, add=True) == "done"
            made[name] = user
    return made


@pytest.mark.postgres
def test_two_admins_stepping_down_at_once_leave_one_admin(pg_store: Store) -> None:
    """Each admin sees the other as an admin and steps down; without the member rows held,
    both would pass the last-admin check and leave a workspace nobody can manage."""
    db, ws = pg_store.db, pg_store.ws
    ada, bo = _members(pg_store, ada=users.ADMIN, bo=users.ADMIN).values()

    def bo_steps_down() -> users.RoleChange:
        with db.writer.begin() as conn:
            return users.set_role(conn, ws.id, bo.id, users.VIEWER)

    with db.writer.connect() as conn, ThreadPoolExecutor(1) as pool:
        first = conn.begin()
        assert users.set_role(conn, ws.id, ada.id, users.VIEWER) == "done"
        # bo's step waits for the member rows, then finds ada a viewer: refused
        assert _waits_for_commit(pool, first, bo_steps_down) == "last_admin"

    with db.reader.connect() as conn:
        roles = {m.email.split("-")[0]: m.role for m in users.members(conn, ws.id)}
    assert roles == {"ada": users.VIEWER, "bo": users.ADMIN}


@pytest.mark.postgres
def test_a_role_change_racing_the_members_removal_does_not_bring_them_back(
    pg_store: Store,
) -> None:
    """One admin removes cy while another, whose page still lists cy, makes cy an admin:
    the change waits for the removal, then finds no member to change."""
    db, ws = pg_store.db, pg_store.ws
    ada, cy = _members(pg_store, ada=users.ADMIN, cy=users.VIEWER).values()

    def promote_cy() -> users.RoleChange:
        with db.writer.begin() as conn:
            return users.set_role(conn, ws.id, cy.id, users.ADMIN)

    with db.writer.connect() as conn, ThreadPoolExecutor(1) as pool:
        removal = conn.begin()
        assert users.set_role(conn, ws.id, cy.id, None) == "done"
        assert _waits_for_commit(pool, removal, promote_cy) == "not_a_member"

    with db.reader.connect() as conn:
        assert {m.user_id for m in users.members(conn, ws.id)} == {ada.id}
