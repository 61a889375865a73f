"""The dialect switch, in one place: upserts, two-argument min/max, many-row inserts."""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from sqlalchemy import (
    JSON,
    ClauseElement,
    Connection,
    Table,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from seam.store import bundling
from seam.store.bundling import translated_errors

T = TypeVar("T")
JSON_ROWS = "rows"  # the one parameter of a PostgreSQL `insert_rows` statement
# A row of a `run_many`: a mapping of the statement's parameters, or a Struct with them as
# fields (encoded without its defaults in the JSON of an `insert_rows` statement).
Row = Mapping[str, Any] | msgspec.Struct


def insert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports `on_conflict_do_nothing/do_update` on either backend."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def greatest(conn: Connection, a: Any, b: Any) -> ColumnElement[Any]:
    return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)


def least(conn: Connection, a: Any, b: Any) -> ColumnElement[Any]:
    return func.least(a, b) if conn.dialect.name == "postgresql" else func.min(a, b)


# SQLite's lower() folds ASCII only ('É' stays 'É'); the engine registers this one, which
# folds like Python and PostgreSQL's lower() under a UTF-8 ctype.
SQLITE_LOWER = "seam_lower"  # the name `lower` calls below


def sqlite_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def lower(conn: Connection, value: Any) -> ColumnElement[Any]:
    """lower() that folds every letter, on both backends."""
    if conn.dialect.name == "sqlite":
        return func.seam_lower(value)
    return func.lower(value)


def insert_rows(conn: Connection, table: Table, names: Sequence[str]) -> Any:
    """An upsert-capable INSERT of many rows of the columns `names`, run with `execute_many`.

    SQLite inserts row by row (executemany: each row costs a few microseconds). PostgreSQL gets
    one statement whose rows arrive as one JSON array: executemany would parse and plan the
    statement once per row, and array parameters are escaped element by element in Python,
    both of which cost more than storing the row.
    """
    if conn.dialect.name != "postgresql":
        return insert(conn, table).values({name: bindparam(name) for name in names})
    rows = func.json_populate_recordset(
        literal_column(f"NULL::{table.name}"), cast(bindparam(JSON_ROWS), JSON)
    ).table_valued(*names)
    return postgresql.insert(table).from_select(names, select(*(rows.c[n] for n in names)))


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter order for qmark dialects (SQLite)
    names: tuple[str, ...]
    defaults: dict[str, Any]  # values the construct itself holds (literals in `values()`)
    # The positional values of a mapping, in C: a row of `events` has 19 (~2 µs in Python).
    _in_order: Callable[[Mapping[str, Any]], Any] | None = field(init=False)

    def __post_init__(self) -> None:
        order = self.positional
        in_order = None
        if order:
            get = operator.itemgetter(*order)
            in_order = get if len(order) > 1 else lambda values: (get(values),)
        object.__setattr__(self, "_in_order", in_order)

    def params(self, given: Row) -> Any:
        if isinstance(given, msgspec.Struct):
            given = msgspec.structs.asdict(given)
        values = {**self.defaults, **given} if self.defaults else given
        if self._in_order is None:
            return values if self.positional is None else ()
        return self._in_order(values)


class Statement:
    """A statement built and compiled once per dialect, run on the DBAPI connection itself.

    Building a SQLAlchemy construct and executing it costs far more than the statement: on
    this machine ~450 µs to build and run a three-condition SELECT, ~85 µs to run a prebuilt
    one, ~50 µs through `exec_driver_sql`, 3.5 µs through sqlite3 directly. The identity
    decisions of one identify take a dozen statements, so this is most of its latency.
    `build` names its parameters with `bindparam(name)`; it must not use expanding IN lists.
    Results are plain tuples in the order of the selected columns.
    """

    def __init__(self, build: Callable[[Connection], ClauseElement]) -> None:
        self._build = build
        self._compiled: dict[str, _Compiled] = {}
        _statements.add(self)

    def compiled(self, conn: Connection) -> _Compiled:
        found = self._compiled.get(conn.dialect.name)
        if found is None:
            compiled = self._build(conn).compile(dialect=conn.dialect)
            order = getattr(compiled, "positiontup", None)  # only SQL compilers have it
            binds: Mapping[str, Any] = getattr(compiled, "binds", {})  # SQL compilers have them
            defaults = {n: b.value for n, b in binds.items() if not b.required}
            found = _Compiled(
                compiled.string,
                tuple(order) if order else None,
                tuple(compiled.params),
                defaults,
            )
            self._compiled[conn.dialect.name] = found
        return found

    def is_compiled_for(self, dialect: str) -> bool:
        return dialect in self._compiled

    def rows(self, conn: Connection, **params: Any) -> list[Any]:
        return self._execute(conn, params, _rows)

    def first(self, conn: Connection, **params: Any) -> Any:
        return self._execute(conn, params, lambda cursor: cursor.fetchone())

    def scalar(self, conn: Connection, **params: Any) -> Any:
        row = self.first(conn, **params)
        return row[0] if row is not None else None

    def run(self, conn: Connection, **params: Any) -> None:
        """Execute, for its effect."""
        self._execute(conn, params, _ignore)

    def run_many(self, conn: Connection, rows: Sequence[Row]) -> int:
        """Execute for every row; a statement built by `insert_rows` runs once on PostgreSQL,
        with the rows as one JSON array. Returns how many rows the executions changed."""
        if not rows:
            return 0
        compiled = self.compiled(conn)
        if compiled.names == (JSON_ROWS,):
            return _execute(conn, compiled.sql, _json_rows(rows), read=_changed)
        params = [compiled.params(r) for r in rows]
        return _execute(conn, compiled.sql, params, read=_changed, many=True)

    def write_many(self, conn: Connection, rows: Sequence[Row]) -> None:
        """`run_many`, for a write whose result nobody reads: on PostgreSQL a statement built
        by `insert_rows` may wait and go with the transaction's next statement or its COMMIT
        (`seam.store.bundling`), one round trip fewer."""
        if not rows:
            return
        compiled = self.compiled(conn)
        if compiled.names != (JSON_ROWS,):
            self.run_many(conn, rows)
            return
        driver_in_transaction(conn)  # in a transaction, whose commit sends the write
        json_rows = _json_rows(rows)
        if not bundling.defer(conn, compiled.sql, json_rows):
            _execute(conn, compiled.sql, json_rows, read=_changed)

    def _execute(self, conn: Connection, params: Mapping[str, Any], read: Callable[[Any], T]) -> T:
        compiled = self.compiled(conn)
        return _execute(conn, compiled.sql, compiled.params(params), read=read)


# Every statement alive (module-level ones for good, cached ones until evicted).
_statements: weakref.WeakSet[Statement] = weakref.WeakSet()


def compile_statements(conn: Connection) -> None:
    """Compile every statement for this database now. Compiling takes about a millisecond a
    statement, and the first identify after a start uses a dozen of them: it took 15-20 ms
    longer than the next ones until the server compiled them at startup."""
    for statement in list(_statements):
        statement.compiled(conn)


_json = msgspec.json.Encoder()


def _json_rows(rows: Sequence[Row]) -> dict[str, str]:
    """The one parameter of an `insert_rows` statement on PostgreSQL: the rows as a JSON array."""
    return {JSON_ROWS: _json.encode(rows).decode()}


def _execute(
    conn: Connection, sql: str, params: Any, *, read: Callable[[Any], T], many: bool = False
) -> T:
    """Run on the DBAPI connection under `conn`, inside the transaction `conn` began (or begins
    now, as SQLAlchemy would on its first statement), and `read` the cursor."""
    raw = driver_in_transaction(conn)
    with translated_errors(conn, raw, sql):
        if many:
            bundling.settle(conn, raw, sql)
            cursor = raw.cursor()
            cursor.executemany(sql, params)
        else:
            cursor = bundling.send(conn, raw, sql, params)
            if cursor is None:
                cursor = raw.execute(sql, params)
        return read(cursor)


def run_sql(conn: Connection, sql: str) -> None:
    """Run a statement without parameters on the DBAPI connection (with what the transaction
    owes, `seam.store.bundling`), for its effect."""
    _execute(conn, sql, None, read=_ignore)


def _ignore(cursor: Any) -> None:
    return None


def _rows(cursor: Any) -> list[Any]:
    return list(cursor.fetchall())


def _changed(cursor: Any) -> int:
    return int(cursor.rowcount)


def driver_in_transaction(conn: Connection) -> Any:
    """The DBAPI connection under `conn`, in the transaction `conn` began (or begins now, as
    SQLAlchemy would on its first statement)."""
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.driver_connection


def placeholder(conn: Connection) -> str:
    """The DBAPI's positional placeholder (sqlite3: qmark; psycopg: format)."""
    return "?" if conn.dialect.name == "sqlite" else "%s"


def select_in(
    conn: Connection, template: str, leading: Sequence[Any], column: str, values: Sequence[str]
) -> list[Any]:
    """Run `template`, whose `{ws}` marks the workspace parameter, `{ph}` the others (all in
    `leading`, in their order) and `{match}` the test of the text `column` against `values`,
    through the DBAPI: a batch looks up many keys at once on the hot path.

    PostgreSQL gets the values as one parameter, the text of an array (`text_array`): a list
    parameter is dumped element by element in Python, which for a group commit's ~200 ids
    cost twice the client CPU and 2.5 times the wall time of one string. Being a parameter of
    a statement planned for its values (psycopg prepares none), the array is a constant to the
    planner: it probes an index with it, or, where it reads a small table whole, tests each row
    against a hash of the array. An array built by a subquery (`ARRAY(SELECT
    json_array_elements_text(…))`, used before) is known only at run time and is compared
    element by element: a commit's 32 ids against the 1,000 visitors of the benchmark cost
    PostgreSQL 1.3 ms, against 0.35 ms now, and ~6% of single-event ingest's throughput.

    PostgreSQL's planner gets the workspace as a subquery's result, and so plans for a
    workspace of average size. Given the value, it plans for this workspace as the table's
    statistics have it, and a workspace newer than the last analysis is not in them: it looks
    empty, and any index led by workspace_id seems as good as the key. The planner took one
    and read all of a new workspace's visitors for a commit's ~20 (3 ms a commit at 20,000),
    until the table's next analysis: after a tenth of it has changed (store/statistics.py),
    which on a large shared database can be a long time."""
    return [row for rows in _in(conn, template, leading, column, values) for row in rows]


def _in(
    conn: Connection, template: str, leading: Sequence[Any], column: str, values: Sequence[str]
) -> Iterator[list[Any]]:
    """The rows of each statement `select_in` runs."""
    ph = placeholder(conn)
    if not values:
        return
    if conn.dialect.name == "postgresql":
        match = f"{column} = ANY({ph}::text[])"
        sql = template.format(ph=ph, ws=f"(SELECT {ph}::text)", match=match)
        yield _execute(conn, sql, (*leading, text_array(values)), read=_rows)
        return
    for start in range(0, len(values), 500):
        chunk = list(values[start : start + 500])
        sql = template.format(ph=ph, ws=ph, match=f"{column} IN ({', '.join([ph] * len(chunk))})")
        yield _execute(conn, sql, (*leading, *chunk), read=_rows)


def text_array(values: Sequence[str]) -> str:
    """The text of a PostgreSQL array holding `values`: every element quoted (so that no value
    reads as NULL or splits at a comma or brace), with its backslashes and quotes escaped."""
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return "{" + ",".join(quoted) + "}"


def like_escaped(value: str) -> str:
    """`value` matched literally inside a LIKE pattern (with `escape="\\"`)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
