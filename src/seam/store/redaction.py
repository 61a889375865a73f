"""PostgreSQL errors without the data they were about.

PostgreSQL's error reports quote data: a key violation's DETAIL gives the key's values, a JSON
error's CONTEXT the document around the fault, a statement's LINE excerpt the values bound into
it (`store.bundling` binds them in the client), and an invalid-input message the input itself.
Seam logs database errors, and its data is people's. So a PostgreSQL error keeps its class,
its SQLSTATE and its primary message, less the input a data exception's message quotes.
"""

from __future__ import annotations

import re

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError

# A data exception (SQLSTATE class 22) ends its message with the input it refused:
# `invalid input syntax for type integer: "…"`.
_QUOTED_INPUT = re.compile(r': ".*\Z', re.DOTALL)


def redact(exc: BaseException) -> None:
    """Reduce the text of a PostgreSQL error report to what names the fault, in place, so that
    the driver's exception and whatever wraps it read the same."""
    if not isinstance(exc, psycopg.Error):
        return
    primary = exc.diag.message_primary
    if primary is None:
        return  # raised by the client (a connection that failed, …): no report about data
    if (exc.sqlstate or "").startswith("22"):
        primary = _QUOTED_INPUT.sub("", primary)
    exc.args = (primary,)


def install(engine: Engine) -> None:
    """Redact the errors of the statements SQLAlchemy runs on `engine` (those Seam runs through
    the driver itself are redacted by `bundling.translated_errors`)."""
    event.listen(engine, "handle_error", _redacted)


def _redacted(context: ExceptionContext) -> None:
    original = context.original_exception
    redact(original)
    error = context.sqlalchemy_exception
    if isinstance(error, DBAPIError) and isinstance(original, psycopg.Error):
        # SQLAlchemy wrote its message from the driver's before this hook ran.
        error.args = (f"({type(original).__module__}.{type(original).__name__}) {original}",)
