"""PostgreSQL write transactions whose BEGIN and COMMIT travel with their statements.

psycopg begins a transaction with a BEGIN of its own, one round trip before the first statement,
and commits with another. A group commit of single events was four round trips (BEGIN, the
visitors lookup, the event insert, COMMIT) where two carry the work, and a writer that waits on
the database holds its requests: with a load's connections all waiting on commits, the server's
core idled 15% of the time. Here the writer engine's connections run in autocommit at the
driver, and every transaction SQLAlchemy begins on them is made a real one:

- SQLAlchemy's `begin` event notes that a BEGIN is owed (unless the connection asked for
  autocommit itself);
- the first statement pays it. Seam's own statements (`seam.store.dialect`) send `BEGIN;` and
  the statement in one query of the simple protocol, parameters bound by the client; any other
  statement (SQLAlchemy's `before_cursor_execute`) sends a BEGIN of its own first;
- a write whose result nobody reads (`defer`: event rows, visitors seen, traits, audit and
  quarantine rows, all at the end of a group commit) waits, and goes with the next statement or
  with COMMIT, so the order of statements holds;
- `commit` sends what waits together with COMMIT. A transaction rolled back sent none of it,
  and the next `begin` starts afresh.

A group commit of single events is now two round trips: measured under single-event load
(wrk, 64 connections, 5 pairs of 15 s) 7,472 -> 8,366 requests a second, better in every pair.

Errors name the statement's template (its parameters, which may hold personal data, never),
and the database's report of them is redacted (`store.redaction`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

from seam.store import redaction

_STATE = "seam_bundling"  # the key of a connection's `Owed` in its pool record's info


@dataclass
class Owed:
    """What a connection's open transaction has not sent yet."""

    begin: bool = False
    # (template, parameters) of the writes that wait, in order.
    waiting: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return self.begin or bool(self.waiting)

    def start(self, begin: bool) -> None:
        self.begin = begin
        self.waiting.clear()

    def sent(self) -> None:
        """Everything owed was sent."""
        self.begin = False
        self.waiting.clear()


def install(engine: Engine) -> None:
    """Bundle BEGIN and COMMIT with statements on `engine`, a PostgreSQL engine created with
    `isolation_level="AUTOCOMMIT"` (so that psycopg sends no BEGIN of its own)."""
    event.listen(engine, "begin", _begun)
    event.listen(engine, "before_cursor_execute", _before_sqlalchemy_statement)
    event.listen(engine, "commit", _committing)


def _owed(conn: Connection) -> Owed | None:
    owed: Owed | None = conn.info.get(_STATE)
    return owed


def _autocommit(conn: Connection) -> bool:
    """The connection asked to run each statement on its own (online migrations do)."""
    return bool(conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT")


def _begun(conn: Connection) -> None:
    owed = conn.info.setdefault(_STATE, Owed())
    owed.start(begin=not _autocommit(conn))


def _before_sqlalchemy_statement(conn: Connection, cursor: Any, *_: Any) -> None:
    settle(conn, cursor.connection, "a statement")


def _committing(conn: Connection) -> None:
    owed = _owed(conn)
    if owed is None or not owed.waiting:
        return  # psycopg commits what was sent (nothing, if no statement ran)
    raw: Any = conn.connection.driver_connection
    _send_owed(conn, raw, owed, "COMMIT", "COMMIT after " + _templates(owed))


def send(conn: Connection, raw: Any, sql: str, params: Any) -> Any | None:
    """Run the statement together with what its transaction owes, if it owes anything: returns
    the cursor, at the statement's result. None if nothing is owed (the caller runs it)."""
    owed = _owed(conn)
    if owed is None or not owed.anything:
        return None
    owed_statements = int(owed.begin) + len(owed.waiting)
    # An error may come from a write that waited: the statement alone would not say which.
    described = f"{sql}, sent after {_templates(owed)}" if owed.waiting else sql
    cursor = _send_owed(conn, raw, owed, _bound(raw, sql, params), described)
    for _ in range(owed_statements):
        cursor.nextset()
    return cursor


def settle(conn: Connection, raw: Any, what: str) -> None:
    """Send what the transaction owes, alone (before a statement that cannot join it)."""
    owed = _owed(conn)
    if owed is None or not owed.anything:
        return
    _send_owed(conn, raw, owed, None, f"the writes before {what}: {_templates(owed)}")


def defer(conn: Connection, sql: str, params: Any) -> bool:
    """Let a write whose result nobody reads wait for the next statement or the commit.
    False if this connection does not bundle (the caller runs it now)."""
    owed = _owed(conn)
    if owed is None or _autocommit(conn):
        return False
    owed.waiting.append((sql, params))
    return True


def _send_owed(conn: Connection, raw: Any, owed: Owed, last: str | None, described: str) -> Any:
    """Send what `owed` holds, then `last`, in one query; an error names `described`."""
    with translated_errors(conn, raw, described):
        query = _bundle(raw, owed, last)
        owed.sent()
        return raw.execute(query)


def _bundle(raw: Any, owed: Owed, last: str | None) -> str:
    parts = ["BEGIN"] if owed.begin else []
    parts.extend(_bound(raw, sql, params) for sql, params in owed.waiting)
    if last is not None:
        parts.append(last)
    return ";\n".join(parts)


def _bound(raw: Any, sql: str, params: Any) -> str:
    """`sql` with its parameters in it as literals."""
    quoted = _with_strings(raw, sql, params)
    return quoted if quoted is not None else psycopg.ClientCursor(raw).mogrify(sql, params)


_NAMED = re.compile(r"%\((\w+)\)s")


def _with_strings(raw: Any, sql: str, params: Any) -> str | None:
    """`sql` with `params` in it, if they are all strings: None for any other parameters,
    which psycopg binds. Seam's bundled statements carry strings (event rows as one JSON
    document, ids as an array's text), and psycopg's mogrify spent ~35 µs on a group commit's
    18 KB of rows, of the ~800 µs of CPU a commit of 32 events takes (parsing the statement,
    adapting each value through its dumpers), where a string literal is the string with its
    quotes doubled (with `standard_conforming_strings`, the default since PostgreSQL 9.1,
    a backslash is an ordinary character). A NUL cannot be sent in a query's text: psycopg
    refuses it with its own error."""
    if "%%" in sql or raw.pgconn.parameter_status(b"standard_conforming_strings") != b"on":
        return None
    values = list(params.values()) if isinstance(params, dict) else params
    if not isinstance(values, tuple | list) or not all(
        isinstance(value, str) and "\x00" not in value for value in values
    ):
        return None
    if isinstance(params, dict):
        return _NAMED.sub(lambda match: _literal(params[match.group(1)]), sql)
    pieces = sql.split("%s")
    if len(pieces) != len(params) + 1:
        return None
    quoted = (piece + _literal(value) for piece, value in zip(pieces[:-1], params, strict=True))
    return "".join(quoted) + pieces[-1]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _templates(owed: Owed) -> str:
    return "; ".join(sql for sql, _ in owed.waiting) or "BEGIN"


@contextlib.contextmanager
def translated_errors(conn: Connection, raw: Any, sql: str) -> Iterator[None]:
    """A driver error is raised as SQLAlchemy raises it (`DataError`, `IntegrityError`, …,
    never with its parameters nor the data the database's report quotes), and a connection the
    database dropped is invalidated, so the pool never hands it out again and the writer
    retries on a fresh one."""
    try:
        yield
    except conn.dialect.loaded_dbapi.Error as exc:
        dropped = bool(conn.dialect.is_disconnect(exc, raw, None))
        if dropped:
            conn.invalidate(exc)
        redaction.redact(exc)
        raise DBAPIError.instance(
            sql,
            None,
            exc,
            conn.dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=dropped,
            dialect=conn.dialect,
        ) from exc
