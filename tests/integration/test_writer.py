"""The group-commit writer: every acknowledged job is committed, with one transaction at a time
on SQLite and several on PostgreSQL, on both backends."""

from __future__ import annotations

import asyncio

import pytest
from ingesting import secret_key_caller
from sqlalchemy import Connection, func, select

from seam.clock import now_us
from seam.errors import Unavailable
from seam.ingest.message import Message, validate
from seam.ingest.writer import GATHER_MESSAGES, GATHER_PATIENCE, SHARED_REQUESTS, Job, Writer
from seam.store.engine import Database
from seam.store.tables import events


def track(i: int, anonymous_id: str) -> Message:
    message = validate(
        {"type": "track", "event": "e", "anonymousId": anonymous_id, "messageId": f"m-{i}"},
        received_at=now_us(),
    )
    assert isinstance(message, Message)
    return message


def _events_stored(db: Database, workspace_id: str) -> int:
    with db.reader.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(events)
                .where(events.c.workspace_id == workspace_id)
            ).scalar_one()
        )


def test_concurrent_jobs_are_all_committed_before_they_are_answered(db: Database) -> None:
    caller = secret_key_caller(db, "writer")
    ws = caller.workspace
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
    assert _events_stored(db, ws.id) == 200
    assert writer.stats.messages == 200
    assert writer.stats.transactions < 200  # requests shared transactions


async def _submit_after_turns(writer: Writer, job: Job, turns: int) -> list[object]:
    """Submit `job` after `turns` turns of the event loop, as a request still being read."""
    for _ in range(turns):
        await asyncio.sleep(0)
    return list(await writer.submit(job))


def _run_jobs(writer: Writer, jobs_and_turns: list[tuple[Job, int]]) -> list[list[object]]:
    async def run() -> list[list[object]]:
        writer.start()
        try:
            return await asyncio.gather(
                *(_submit_after_turns(writer, job, turns) for job, turns in jobs_and_turns)
            )
        finally:
            await writer.stop()

    return asyncio.run(run())


def test_requests_arriving_over_the_next_turns_of_the_loop_share_one_transaction(
    db: Database,
) -> None:
    caller = secret_key_caller(db, "gather")
    writer = Writer(db, transactions=2)
    answers = _run_jobs(writer, [(Job(caller, [track(i, "dev")]), i) for i in range(5)])
    assert answers == [[None]] * 5
    assert (writer.stats.transactions, writer.stats.messages) == (1, 5)


def test_a_request_read_after_a_few_quiet_turns_of_the_loop_still_joins(db: Database) -> None:
    caller = secret_key_caller(db, "patient")
    writer = Writer(db, transactions=1)
    first = Job(caller, [track(0, "dev-a")])
    later = Job(caller, [track(1, "dev-b")])
    _run_jobs(writer, [(first, 0), (later, GATHER_PATIENCE - 1)])
    assert (writer.stats.transactions, writer.stats.messages) == (1, 2)


def test_a_writer_holding_a_full_transaction_does_not_wait_for_more(db: Database) -> None:
    caller = secret_key_caller(db, "full")
    writer = Writer(db, transactions=1)
    full = Job(caller, [track(i, f"dev-{i}") for i in range(GATHER_MESSAGES)])
    late = Job(caller, [track(GATHER_MESSAGES, "dev-late")])
    _run_jobs(writer, [(full, 0), (late, 1)])
    assert writer.stats.transactions == 2
    assert writer.stats.batch_sizes == [GATHER_MESSAGES, 1]


def test_several_writers_split_a_crowd_of_requests_between_their_transactions(
    db: Database,
) -> None:
    caller = secret_key_caller(db, "split")
    writer = Writer(db, transactions=2)
    crowd = SHARED_REQUESTS + 8
    answers = _run_jobs(writer, [(Job(caller, [track(i, f"dev-{i}")]), 0) for i in range(crowd)])
    assert answers == [[None]] * crowd
    # SQLite's one writer takes them all: its commits cost an fsync whatever their size.
    expected = [crowd] if db.is_sqlite else [SHARED_REQUESTS, 8]
    assert sorted(writer.stats.batch_sizes, reverse=True) == expected


def test_a_writer_holding_its_share_of_requests_does_not_wait_for_more(db: Database) -> None:
    caller = secret_key_caller(db, "share")

    async def turns_spent_gathering() -> int:
        writer = Writer(db, transactions=2)
        writer._loop = asyncio.get_running_loop()  # not started: no writer takes the queue
        waiting = [
            asyncio.ensure_future(writer.submit(Job(caller, [track(i, f"dev-{i}")])))
            for i in range(SHARED_REQUESTS)
        ]
        await asyncio.sleep(0)  # the requests are queued
        turns = 0

        async def count_turns() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        counting = asyncio.create_task(count_turns())
        await writer._gather()
        for task in (counting, *waiting):
            task.cancel()
        return turns

    turns = asyncio.run(turns_spent_gathering())
    # SQLite's one writer keeps gathering: its share is the whole queue.
    assert turns >= GATHER_PATIENCE if db.is_sqlite else turns == 0


def test_stopping_commits_and_answers_every_queued_request_first(db: Database) -> None:
    caller = secret_key_caller(db, "stop")
    writer = Writer(db, transactions=2)

    async def run() -> tuple[list[object], BaseException]:
        writer.start()
        waiting = [
            asyncio.ensure_future(writer.submit(Job(caller, [track(i, f"dev-{i % 5}")])))
            for i in range(80)
        ]
        await asyncio.sleep(0)  # queued
        await writer.stop()
        answers = [task.result() for task in waiting]  # raises if one was left unanswered
        with pytest.raises(Unavailable) as refused:
            await writer.submit(Job(caller, [track(80, "dev-late")]))
        return answers, refused.value

    answers, refused = asyncio.run(run())
    assert answers == [[None]] * 80
    assert refused.status == 503
    assert _events_stored(db, caller.workspace.id) == 80


def test_a_writer_keeps_its_connections_and_closes_them_when_it_stops(pg_db: Database) -> None:
    """Each write transaction of a writer runs on the connection of the one before it (none
    is taken from the pool and given back for each), and stopping closes them."""
    db = pg_db
    caller = secret_key_caller(db, "held")
    writer = Writer(db, transactions=2)
    pool = db.writer.pool

    def backend(conn: Connection) -> int:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    async def run() -> tuple[set[int], int]:
        writer.start()
        try:
            backends: set[int] = set()
            for round_ in range(10):
                jobs = [Job(caller, [track(round_ * 20 + i, f"dev-{i}")]) for i in range(20)]
                await asyncio.gather(*(writer.submit(job) for job in jobs))
                backends |= set(await asyncio.gather(*(writer.run(backend) for _ in range(4))))
            return backends, pool.checkedout()  # type: ignore[attr-defined]
        finally:
            await writer.stop()

    backends, held = asyncio.run(run())
    assert 1 <= len(backends) <= 2
    assert held == len(backends)
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert _events_stored(db, caller.workspace.id) == 200
