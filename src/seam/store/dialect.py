"""The dialect switch, in one place: upserts and two-argument min/max."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement, Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement


def insert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports `on_conflict_do_nothing/do_update` on either backend."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def greatest(conn: Connection, a: Any, b: Any) -> ColumnElement[Any]:
    return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)


def least(conn: Connection, a: Any, b: Any) -> ColumnElement[Any]:
    return func.least(a, b) if conn.dialect.name == "postgresql" else func.min(a, b)


@dataclass(frozen=True)
class Prepared:
    """A statement compiled once per dialect. The hot write path runs it through the DBAPI
    directly: building, caching and compiling a SQLAlchemy construct per batch costs more than
    inserting the rows."""

    sql: str
    positional: tuple[str, ...] | None  # parameter order for qmark dialects (SQLite)

    def params(self, row: Mapping[str, Any]) -> Any:
        if self.positional is None:
            return row
        return tuple(row[name] for name in self.positional)


_prepared: dict[tuple[str, str], Prepared] = {}


def prepare(conn: Connection, name: str, build: Callable[[Connection], ClauseElement]) -> Prepared:
    key = (conn.dialect.name, name)
    found = _prepared.get(key)
    if found is None:
        compiled = build(conn).compile(dialect=conn.dialect)
        order = getattr(compiled, "positiontup", None)  # only SQL compilers have it
        positional = tuple(order) if order else None
        found = _prepared[key] = Prepared(compiled.string, positional)
    return found


def execute_many(conn: Connection, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
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
