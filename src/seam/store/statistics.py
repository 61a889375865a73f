"""Planner statistics for Seam's tables on PostgreSQL, kept fresh while they grow.

Autovacuum looks at tables once a minute (its default naptime). A table created by `seam
migrate` and filled at ingest speed has no statistics for that minute, and then statistics from
when it was small: the planner treats `workspace_id = …` as selective and answers a batch's
`anonymous_id = ANY(…)` lookup by reading every row of the workspace. Seam therefore analyzes
its own tables as soon as they have changed by a tenth since their last analysis.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from seam.store.tables import metadata
from seam.store.turns import STATISTICS, take_turn

# Below this many changed rows a table is left to autovacuum: small tables plan well anyway.
MIN_CHANGED_ROWS = 1000
CHANGED_FRACTION = 0.1


def stale_tables(conn: Connection) -> list[str]:
    """Seam's tables whose rows changed by more than a tenth since they were last analyzed."""
    rows = conn.execute(
        text(
            "SELECT relname FROM pg_stat_user_tables"
            " WHERE schemaname = current_schema() AND relname = ANY(:names)"
            " AND n_mod_since_analyze >= :min_changed"
            " AND n_mod_since_analyze > :fraction * GREATEST(n_live_tup - n_mod_since_analyze, 0)"
            " ORDER BY relname"
        ),
        {
            "names": sorted(metadata.tables),
            "min_changed": MIN_CHANGED_ROWS,
            "fraction": CHANGED_FRACTION,
        },
    )
    return [name for (name,) in rows]


def refresh(conn: Connection) -> list[str]:
    """Analyze the stale tables (PostgreSQL only); returns their names. Skips, returning
    nothing, while another process holds the turn."""
    if conn.dialect.name != "postgresql" or not take_turn(conn, STATISTICS):
        return []
    tables = stale_tables(conn)
    for name in tables:
        conn.execute(text(f'ANALYZE "{name}"'))
    return tables
