"""What a starting server prepares before its first request."""

from __future__ import annotations

import asyncio

from seam.app import create_app
from seam.settings import Settings
from seam.store import dialect
from seam.store.engine import Database


def test_the_server_compiles_its_statements_before_the_first_request(db: Database) -> None:
    # Else the first identify after a start compiles a dozen of them (15-20 ms more).
    for statement in list(dialect._statements):  # earlier tests in this process used them
        statement._compiled.clear()
    app = create_app(Settings(database_url=db.url))
    backend = "sqlite" if db.is_sqlite else "postgresql"

    async def started() -> list[bool]:
        async with app.router.lifespan_context(app):
            return [s.is_compiled_for(backend) for s in list(dialect._statements)]

    compiled = asyncio.run(started())
    assert len(compiled) > 20
    assert all(compiled)
