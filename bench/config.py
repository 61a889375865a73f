"""Run sizes: the full profile and the `--quick` one, plus the machine layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WRK_SCRIPTS = Path(__file__).resolve().parent / "wrk"

SERVER_CORE = 0  # uvicorn / `seam serve`, and the raw-insert client
LOAD_CORE = 1  # wrk, httpx clients, this harness

IDENTIFY_TARGET_MS = 20.0
TIMELINE_TARGET_MS = 10.0
THROUGHPUT_TARGET_RATIO = 0.5
# Between a bulk load and its timed requests: the server finishes the background work the load
# left (SQLite copies the load's WAL into the database every second, up to ~0.5 s of one core
# a round; Seam analyzes PostgreSQL tables that grew by a tenth, every 5 s), so the timed
# requests measure their own latency on an otherwise idle server.
SETTLE_SECONDS = 6.0
# The GUIDE's trivial Starlette endpoint on this machine (2026-11-23), to tell a slow day.
GUIDE_TRIVIAL_RPS = 30_000


@dataclass(frozen=True)
class Profile:
    name: str
    wrk_seconds: int  # measured duration of each wrk run
    wrk_warmup_seconds: int
    wrk_connections: int
    wrk_threads: int
    batch_connections: int
    raw_rows: int  # rows per raw-insert ceiling run
    identify_visitors: int  # K visitors, each with 1,000 anonymous events before identify
    events_per_visitor: int
    timeline_total_events: int  # events stored in total before timing the timeline
    timeline_contact_events: int
    timeline_passes: int  # full walks over the contact's timeline (100 events a page)
    anon_pool: int  # anonymousIds the wrk load cycles through
    load_concurrency: int  # concurrent /v1/batch requests of the bulk loader
    # Single-event ingest alternating with the Starlette endpoint: Seam runs between the
    # endpoint's runs, so both face the same minutes of the VM.
    alternating_rounds: int
    alternating_seconds: int


FULL = Profile(
    name="full",
    wrk_seconds=15,
    wrk_warmup_seconds=3,
    wrk_connections=64,
    wrk_threads=2,
    batch_connections=16,
    raw_rows=200_000,
    identify_visitors=200,
    events_per_visitor=1_000,
    timeline_total_events=1_000_000,
    timeline_contact_events=10_000,
    timeline_passes=3,
    anon_pool=10_000,
    load_concurrency=16,
    alternating_rounds=3,
    alternating_seconds=5,
)

QUICK = Profile(
    name="quick",
    wrk_seconds=5,
    wrk_warmup_seconds=1,
    wrk_connections=64,
    wrk_threads=2,
    batch_connections=16,
    raw_rows=50_000,
    identify_visitors=30,
    events_per_visitor=1_000,
    timeline_total_events=100_000,
    timeline_contact_events=10_000,
    timeline_passes=1,
    anon_pool=10_000,
    load_concurrency=16,
    alternating_rounds=2,
    alternating_seconds=3,
)
