"""Planner statistics for Seam's tables on PostgreSQL, kept fresh while they grow.

Autovacuum looks at tables once a minute (its default naptime). A table created by `seam
migrate` and filled at ingest speed has no statistics for that minute, and then statistics from
when it was small: the planner treats `workspace_id = …` as selective and answers a batch's
`anonymous_id = ANY(…)` lookup by reading every row of the workspace. Seam therefore analyzes
its own tables as soon as they have changed by a tenth since their last analysis.

An analysis reads a sample of up to ANALYZE_SAMPLE_ROWS rows however large the table, ~75 ms
for `events` on this machine under load. A table growing at ingest speed changes by a tenth
every second or so until it holds a few hundred thousand rows: analyzed that often, it cost
PostgreSQL ~7% of a core while the benchmark's single-event ingest filled a new database. So
analyses of a table are also spaced in proportion to the sample they read, up to
MAX_SPACING_SECONDS apart: a few hundred rows may be analyzed again within a fraction of a
second, while their plans matter most, a large table every ten seconds at most.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from seam.store.tables import metadata
from seam.store.turns import STATISTICS, take_turn

# Below this many changed rows a table is left to autovacuum: small tables plan well anyway.
MIN_CHANGED_ROWS = 1000
CHANGED_FRACTION = 0.1
# PostgreSQL's sample: 300 rows per unit of the statistics target (default 100).
ANALYZE_SAMPLE_ROWS = 30_000
MAX_SPACING_SECONDS = 10.0


def stale_tables(conn: Connection, max_spacing: float = MAX_SPACING_SECONDS) -> list[str]:
    """Seam's tables whose rows changed by more than a tenth since they were last analyzed,
    and longer ago than their spacing (see the module's docstring)."""
    rows = conn.execute(
        text(
            "SELECT relname FROM pg_stat_user_tables"
            " WHERE schemaname = current_schema() AND relname = ANY(:names)"
            " AND n_mod_since_analyze >= :min_changed"
            " AND n_mod_since_analyze > :fraction * GREATEST(n_live_tup - n_mod_since_analyze, 0)"
            " AND GREATEST(last_analyze, last_autoanalyze, '-infinity') < now() - make_interval("
            "  secs => :max_spacing * LEAST(n_live_tup, :sample_rows) / :sample_rows)"
            " ORDER BY relname"
        ),
        {
            "names": sorted(metadata.tables),
            "min_changed": MIN_CHANGED_ROWS,
            "fraction": CHANGED_FRACTION,
            "max_spacing": max_spacing,
            "sample_rows": float(ANALYZE_SAMPLE_ROWS),
        },
    )
    return [name for (name,) in rows]


def refresh(conn: Connection, max_spacing: float = MAX_SPACING_SECONDS) -> list[str]:
    """Analyze the stale tables (PostgreSQL only); returns their names. Skips, returning
    nothing, while another process holds the turn. `max_spacing`: the seconds between two
    analyses of a table at least as large as the sample."""
    if conn.dialect.name != "postgresql" or not take_turn(conn, STATISTICS):
        return []
    tables = stale_tables(conn, max_spacing)
    for name in tables:
        conn.execute(text(f'ANALYZE "{name}"'))
    return tables
