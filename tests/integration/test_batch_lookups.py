"""Batch lookups by many keys at once (`dialect.select_in`): every stored key is found whatever
characters it holds, and nothing else is, on both backends."""

from __future__ import annotations

from ingesting import stored_event_row

from seam.store import events, visitors
from seam.store.engine import Database

# Characters with a meaning in PostgreSQL's array syntax or in JSON, words it reads as NULL,
# and text beyond ASCII.
AWKWARD_IDS = [
    'quote"inside',
    "back\\slash",
    '\\"',
    "comma,inside",
    "{braces}",
    "NULL",
    "null",
    " spaced ",
    "tab\tand\nnewline",
    "ünïcödé",
    "emoji-😀",
    "'single'",
    "plain",
]


def test_visitors_with_awkward_ids_are_found_and_only_they(db: Database) -> None:
    ws = "ws-lookups-visitors"
    stored = AWKWARD_IDS[:-1]
    with db.writer.begin() as conn:
        visitors.record_seen(conn, ws, {a: (1_000, 2_000) for a in stored})
    asked = [*AWKWARD_IDS, "never-seen", 'never"seen']
    with db.writer.begin() as conn:
        found = visitors.known(conn, ws, asked)
    assert set(found) == set(stored)
    assert all(known.first_seen == 1_000 for known in found.values())


def test_stored_message_ids_with_awkward_ids_are_found_and_only_they(db: Database) -> None:
    ws = "ws-lookups-events"
    stored = AWKWARD_IDS[1:]
    with db.writer.begin() as conn:
        rows = [
            stored_event_row(workspace_id=ws, message_id=m, anonymous_id="device") for m in stored
        ]
        events.insert_events(conn, rows)
    with db.writer.begin() as conn:
        found = events.stored_message_ids(conn, ws, [*AWKWARD_IDS, "never-stored"])
    assert found == set(stored)


def test_a_lookup_of_many_keys_finds_them_all(db: Database) -> None:
    """More keys than SQLite takes in one statement's parameters (it is asked in chunks)."""
    ws = "ws-lookups-many"
    ids = [f'device-{i}-"{i % 7}\\' for i in range(1_200)]
    with db.writer.begin() as conn:
        visitors.record_seen(conn, ws, {a: (1_000, 2_000) for a in ids[::2]})
    with db.writer.begin() as conn:
        found = visitors.known(conn, ws, ids)
    assert set(found) == set(ids[::2])
