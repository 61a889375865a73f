"""A database error's text is logged, so it keeps the fault and drops the data: never the
statement's parameters, nor what PostgreSQL's report quotes of them (`store.redaction`)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from seam.store.engine import Database, open_database
from seam.store.tables import contacts

EMAIL = "jane.private@example.com"


def _contact(contact_id: str) -> dict[str, object]:
    return {
        "workspace_id": "ws-redaction",
        "id": contact_id,
        "external_id": EMAIL,
        "created_at": 1,
        "updated_at": 1,
    }


def test_a_key_violation_names_the_constraint_not_the_key(db: Database) -> None:
    with pytest.raises(IntegrityError) as violated, db.writer.begin() as conn:
        conn.execute(insert(contacts), [_contact("c-1"), _contact("c-2")])
    error = violated.value
    for text_of_it in (str(error), repr(error), str(error.orig)):
        assert EMAIL not in text_of_it  # PostgreSQL's DETAIL: Key (…)=(…, jane…) exists
    assert "external_id" in str(error)  # the constraint or its columns
    if not db.is_sqlite:
        assert getattr(error.orig, "sqlstate", None) == "23505"  # what retries are decided by


@pytest.mark.postgres
def test_a_refused_input_names_the_type_not_the_input(pg_db: Database) -> None:
    with pytest.raises(DataError) as refused, pg_db.reader.connect() as conn:
        conn.execute(text("SELECT CAST(:value AS integer)"), {"value": EMAIL})
    assert EMAIL not in str(refused.value)
    assert EMAIL not in str(refused.value.orig)
    assert "invalid input syntax for type integer" in str(refused.value)


@pytest.mark.postgres
def test_an_error_the_client_raised_keeps_its_text() -> None:
    db = open_database("postgresql://root@127.0.0.1:1/nowhere")
    try:
        with pytest.raises(OperationalError) as failed, db.reader.connect():
            pass
    finally:
        db.dispose()
    assert "port 1" in str(failed.value)
