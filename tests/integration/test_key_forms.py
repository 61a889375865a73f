"""A dashboard form makes one key, whichever process each send of it reaches: the form id is
unique per workspace in the database, not remembered by one process."""

from __future__ import annotations

from seam.store import workspaces
from seam.store.engine import Database


def test_a_form_sent_twice_makes_one_key_even_through_two_connections(db: Database) -> None:
    with db.writer.begin() as conn:
        ws = workspaces.create_workspace(conn, "key-forms")
    form = {"form_id": "form-a", "kind": "secret", "scopes": ["events:read"]}
    with db.writer.begin() as first:
        made = workspaces.create_key_once(first, ws.id, **form)
    with db.writer.begin() as second:  # the reload, served by another process
        again = workspaces.create_key_once(second, ws.id, **form)
        other = workspaces.create_key_once(second, ws.id, **{**form, "form_id": "form-b"})
    assert made is not None and again is None and other is not None
    with db.reader.connect() as conn:
        keys = workspaces.list_keys(conn, ws.id)
    assert sorted(k.id for k in keys) == sorted([made[0].id, other[0].id])
