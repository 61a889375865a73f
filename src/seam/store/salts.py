"""The daily salt of cookieless fingerprints: one per UTC day, shared by every process."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, delete, select

from seam.store.dialect import insert
from seam.store.tables import salts


def salt_for(conn: Connection, day: str) -> str:
    """Today's salt (created by whichever process asks first); older salts are destroyed so a
    past day's fingerprints can never be recomputed."""
    conn.execute(
        insert(conn, salts).values(day=day, secret=secrets.token_hex(32)).on_conflict_do_nothing()
    )
    conn.execute(delete(salts).where(salts.c.day < day))
    return str(conn.execute(select(salts.c.secret).where(salts.c.day == day)).scalar_one())
