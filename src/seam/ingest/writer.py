"""Group commit: concurrent requests share one transaction and are acknowledged after it.

Requests append their validated messages to a queue and wait; a free writer lets the requests
the event loop is reading join (`Writer._gather`), drains everything queued, applies it in one
transaction, commits, and only then resolves the requests' futures,
so a 2xx always means durably committed. If a combined transaction fails, each request is
retried alone so one bad request cannot fail its neighbours.

SQLite has one writer (the database takes one write transaction at a time). PostgreSQL has
several: a transaction spends most of its time waiting for the server, and several Seam
processes run concurrent transactions on one database anyway, which every invariant (enforced
by the database) already allows.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError

from seam.clock import now_us
from seam.errors import BadRequest, Unavailable
from seam.ingest.apply import Caller, IdentifyOutcome, Ingestion
from seam.ingest.message import Message
from seam.store import quarantine, transactions
from seam.store.engine import Database

log = logging.getLogger("seam.writer")

T = TypeVar("T")
MAX_MESSAGES_PER_TRANSACTION = 5000
# Before it takes the queue, a free writer lets turns of the event loop pass until
# GATHER_PATIENCE turns in a row added no job, MAX_GATHER_TURNS have passed, or the queue holds
# GATHER_MESSAGES messages (see Writer._gather).
GATHER_PATIENCE = 4
MAX_GATHER_TURNS = 32
GATHER_MESSAGES = 100
# With several write transactions (PostgreSQL), one takes at most this many requests, and a
# writer that has them stops gathering (see Writer._take).
SHARED_REQUESTS = 32
# How long `Writer.stop` lets the writers finish what is queued before it cancels them.
STOP_TIMEOUT = 30.0


@dataclass
class Job:
    caller: Caller
    messages: list[Message]
    rejected: list[tuple[str, str, bytes]] = field(default_factory=list)
    future: asyncio.Future[list[IdentifyOutcome | None]] | None = None


@dataclass
class WriterStats:
    transactions: int = 0
    messages: int = 0
    commit_seconds_total: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)  # writers are threads

    def record(self, size: int, seconds: float) -> None:
        with self.lock:
            self.transactions += 1
            self.messages += size
            self.commit_seconds_total += seconds
            self.batch_sizes.append(size)
            if len(self.batch_sizes) > 1000:
                del self.batch_sizes[:500]


class Writer:
    def __init__(self, db: Database, transactions: int = 1) -> None:
        """`transactions`: how many may be open at once (always 1 on SQLite)."""
        self.db = db
        self.transactions = 1 if db.is_sqlite else max(1, transactions)
        self._queue: deque[Job] = deque()
        self._queued_messages = 0
        self._wake = asyncio.Event()
        self._max_requests = (
            SHARED_REQUESTS if self.transactions > 1 else MAX_MESSAGES_PER_TRANSACTION
        )
        self._executor = ThreadPoolExecutor(self.transactions, thread_name_prefix="seam-writer")
        # Each writer thread keeps its connection (see `_connection`).
        self._held = threading.local()
        self._connections: list[Connection] = []
        self._connections_lock = threading.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.stats = WriterStats()

    def start(self) -> None:
        # Kept: asyncio.get_running_loop() makes a getpid() system call on every call,
        # ~4 µs a request on this VM when submit asked for it.
        self._loop = loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run()) for _ in range(self.transactions)]

    async def stop(self) -> None:
        """Commit and answer every request queued, then stop. A request still waiting when
        the server shuts down is answered, not dropped: the server's own shutdown waits for
        in-flight requests only as long as it is told to. Writers still busy after
        STOP_TIMEOUT (a database that stopped answering) are cancelled."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _, busy = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT)
            for task in busy:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=True)
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    async def submit(self, job: Job) -> list[IdentifyOutcome | None]:
        assert self._loop is not None, "the writer is not started"
        if self._stopping:
            raise Unavailable("the server is shutting down; retry later")
        job.future = self._loop.create_future()
        self._queue.append(job)
        self._queued_messages += len(job.messages)
        self._wake.set()
        return await job.future

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run another write (admin operation, enrichment) in the writer thread, in order."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, work)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        return transactions.run_on(self._connection(), work)

    def _connection(self) -> Connection:
        """This writer thread's connection, kept from one transaction to the next. Taking one
        from the pool and handing it back (resetting it, the pool's events and locks) cost
        110-160 µs of CPU a group commit of 32 events, of ~850-1,000 (measured interleaved
        in one process)."""
        conn: Connection | None = getattr(self._held, "conn", None)
        if conn is None:
            conn = self._held.conn = self.db.writer.connect()
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
            await self._gather()
            if not self._queue:  # another writer took it meanwhile
                continue
            jobs = self._take()
            try:
                results = await loop.run_in_executor(self._executor, self._commit, jobs)
            except Exception:
                await self._commit_one_by_one(jobs)
                continue
            for job, result in zip(jobs, results, strict=True):
                if job.future and not job.future.done():
                    job.future.set_result(result)

    async def _gather(self) -> None:
        """Let the requests the event loop is already reading join this transaction.

        A writer wakes as the loop starts on a burst of readable connections. Taken at once,
        its transaction held that one request and ran while the loop (on the same core,
        wanting the same GIL) read the rest, which waited for the next transaction. So the
        writer waits while the loop keeps adding to the queue: a turn that reads nothing new
        is no sign the burst is over (the loop also writes answers and runs other tasks), so
        it stops after GATHER_PATIENCE such turns in a row.

        Measured under single-event load on one core, 64 connections, 10 s runs:
        - SQLite: ~64 events a commit instead of ~32, ~10% more requests a second than
          taking at once (patience of 1 turn: ~40 events, ~3%; 8 turns: as 4).
        - PostgreSQL: ~60 events instead of ~19, 4 ms a commit as before, ~13% more.
        Past GATHER_MESSAGES a transaction's fixed costs are spread thin, and on PostgreSQL
        two smaller transactions at once beat one large one: 100-message batches gathered
        into one transaction ran at ~2,300 requests a second against ~3,100. An idle server
        loses GATHER_PATIENCE turns of the loop, microseconds."""
        size = -1
        quiet = 0
        for _ in range(MAX_GATHER_TURNS):
            if self._queued_messages >= GATHER_MESSAGES or len(self._queue) >= self._max_requests:
                return
            quiet = quiet + 1 if len(self._queue) == size else 0
            if quiet >= GATHER_PATIENCE:
                return
            size = len(self._queue)
            await asyncio.sleep(0)

    def _take(self) -> list[Job]:
        """The jobs of the next transaction, oldest first.

        With several transactions (PostgreSQL) one takes at most SHARED_REQUESTS requests; the
        rest go to the next free writer. Taking every queued request put all of a load's
        requests (64 connections of single events) into each transaction, which ran in
        lock-step with the event loop: the loop sat idle while the transaction committed,
        and the database while the loop answered those requests and read the clients' next
        ones. Split in two, one group commits while the loop serves the other. Measured under
        single-event load (64 connections, paired 5 s rounds): 3,360 -> 3,690 requests a
        second (5 rounds of 6 better), and on a faster minute of the VM 4,780 -> 5,140 (5 of
        8); 100-message batches unchanged (110 -> 116 requests a second). SQLite has one
        writer and a commit there costs an fsync whatever its size, on a core already
        saturated: the same limit lost 8% (5,270 -> 4,840)."""
        taken: list[Job] = []
        count = 0
        while (
            self._queue
            and len(taken) < self._max_requests
            and (not taken or count + len(self._queue[0].messages) <= MAX_MESSAGES_PER_TRANSACTION)
        ):
            job = self._queue.popleft()
            taken.append(job)
            count += len(job.messages)
        self._queued_messages -= count
        return taken

    async def _commit_one_by_one(self, jobs: list[Job]) -> None:
        loop = asyncio.get_running_loop()
        for job in jobs:
            try:
                result = await loop.run_in_executor(self._executor, self._commit, [job])
            except Exception as exc:
                if job.future and not job.future.done():
                    job.future.set_exception(_client_facing(exc))
            else:
                if job.future and not job.future.done():
                    job.future.set_result(result[0])

    def _commit(self, jobs: list[Job]) -> list[list[IdentifyOutcome | None]]:
        started = now_us()

        def work(conn: Connection) -> list[list[IdentifyOutcome | None]]:
            ingestion = Ingestion(conn, now_us())
            ingestion.prefetch((job.caller, job.messages) for job in jobs)
            results = [[ingestion.apply(job.caller, m) for m in job.messages] for job in jobs]
            ingestion.finish()
            for job in jobs:
                quarantine.keep(
                    conn,
                    job.caller.workspace.id,
                    job.rejected,
                    at=ingestion.now,
                    key_id=job.caller.key_id,
                )
            return results

        results = self._transaction(work)
        self.stats.record(sum(len(job.messages) for job in jobs), (now_us() - started) / 1e6)
        return results


def _client_facing(exc: Exception) -> Exception:
    """What a request whose own transaction failed is told. A value the database refuses
    (validation should have caught it) is the client's error: a 5xx would be retried forever."""
    if isinstance(exc, DataError):
        log.warning("a request held a value the database refused: %s", type(exc.orig).__name__)
        return BadRequest("a value in this request cannot be stored", code="invalid_message")
    log.error("a write failed: %r", exc)
    if isinstance(exc, DBAPIError | transactions.ConcurrentChange):
        return Unavailable("the events could not be stored; retry later")
    return exc
