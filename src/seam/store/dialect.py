"""The dialect switch, in one place: upserts, two-argument min/max, many-row inserts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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

JSON_ROWS = "rows"  # the one parameter of a PostgreSQL `insert_rows` statement


def insert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports `on_conflict_do_nothing/do_update` on either backend."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def greatest(conn: Connection, a: Any, b: Any) -> ColumnElement[Any]:
    return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)


def least(conn: Connection, a: Any, b: Any) -> ColumnElement[Any]:
    return func.least(a, b) if conn.dialect.name == "postgresql" else func.min(a, b)


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
class Prepared:
    """A statement compiled once per dialect. The hot write path runs it through the DBAPI
    directly: building, caching and compiling a SQLAlchemy construct per batch costs more than
    inserting the rows."""

    sql: str
    positional: tuple[str, ...] | None  # parameter order for qmark dialects (SQLite)
    names: tuple[str, ...]

    def params(self, row: Mapping[str, Any]) -> Any:
        if self.positional is None:
            return row
        return tuple(row[name] for name in self.positional)


_prepared: dict[tuple[str, str], Prepared] = {}
_json = msgspec.json.Encoder()


def prepare(conn: Connection, name: str, build: Callable[[Connection], ClauseElement]) -> Prepared:
    key = (conn.dialect.name, name)
    found = _prepared.get(key)
    if found is None:
        compiled = build(conn).compile(dialect=conn.dialect)
        order = getattr(compiled, "positiontup", None)  # only SQL compilers have it
        positional = tuple(order) if order else None
        found = _prepared[key] = Prepared(compiled.string, positional, tuple(compiled.params))
    return found


def execute_many(conn: Connection, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run a statement for every row; one built by `insert_rows` runs once on PostgreSQL, with
    the rows as one JSON array."""
    if not rows:
        return
    if prepared.names == (JSON_ROWS,):
        conn.exec_driver_sql(prepared.sql, {JSON_ROWS: _json.encode(rows).decode()})
    else:
        conn.exec_driver_sql(prepared.sql, [prepared.params(r) for r in rows])


def placeholder(conn: Connection) -> str:
    """The DBAPI's positional placeholder (sqlite3: qmark; psycopg: format)."""
    return "?" if conn.dialect.name == "sqlite" else "%s"


def select_in(
    conn: Connection, template: str, leading: Sequence[Any], column: str, values: Sequence[Any]
) -> list[Any]:
    """Run `template`, whose `{ph}` marks the leading parameters and `{match}` the test of
    `column` against `values`, through the DBAPI: a batch looks up many keys at once on the
    hot path. PostgreSQL gets one array parameter (`= ANY`): a long IN list of parameters gets
    a generic plan once psycopg prepares the statement, and that plan scans the whole table."""
    ph = placeholder(conn)
    if not values:
        return []
    if conn.dialect.name == "postgresql":
        sql = template.format(ph=ph, match=f"{column} = ANY({ph})")
        return list(conn.exec_driver_sql(sql, (*leading, list(values))).fetchall())
    rows: list[Any] = []
    for start in range(0, len(values), 500):
        chunk = list(values[start : start + 500])
        sql = template.format(ph=ph, match=f"{column} IN ({', '.join([ph] * len(chunk))})")
        rows.extend(conn.exec_driver_sql(sql, (*leading, *chunk)).fetchall())
    return rows
