"""The group-commit writer: every acknowledged job is committed, with one transaction at a time
on SQLite and several on PostgreSQL, on both backends."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from seam.clock import now_us
from seam.ingest.apply import Caller
from seam.ingest.message import Message, validate
from seam.ingest.writer import Job, Writer
from seam.store import workspaces
from seam.store.engine import Database
from seam.store.tables import events


def track(i: int, anonymous_id: str) -> Message:
    message = validate(
        {"type": "track", "event": "e", "anonymousId": anonymous_id, "messageId": f"m-{i}"},
        received_at=now_us(),
    )
    assert isinstance(message, Message)
    return message


def test_concurrent_jobs_are_all_committed_before_they_are_answered(db: Database) -> None:
    with db.writer.begin() as conn:
        ws = workspaces.create_workspace(conn, "writer")
    caller = Caller(workspace=ws, key_id=None, secret=True, can_write_contacts=True)
    writer = Writer(db, transactions=3)
    assert writer.transactions == (1 if db.is_sqlite else 3)

    async def run() -> list[list[object]]:
        writer.start()
        try:
            jobs = [Job(caller, [track(i, f"dev-{i % 7}")]) for i in range(200)]
            return await asyncio.gather(*(writer.submit(job) for job in jobs))
        finally:
            await writer.stop()

    answers = asyncio.run(run())
    assert answers == [[None]] * 200
    with db.reader.connect() as conn:
        stored = conn.execute(
            select(func.count()).select_from(events).where(events.c.workspace_id == ws.id)
        ).scalar_one()
    assert stored == 200
    assert writer.stats.messages == 200
    assert writer.stats.transactions < 200  # requests shared transactions
