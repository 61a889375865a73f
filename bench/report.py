"""The results table (terminal and Markdown) and docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.ceilings import TRIVIAL
from bench.config import GUIDE_TRIVIAL_RPS, REPO, Profile
from bench.results import BackendResult, Figure

HEADER = ("backend", "figure", "value", "ceiling / target", "ratio", "goal", "met")


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.2f}" if unit == "ms" or value < 100 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def row(figure: Figure) -> tuple[str, ...]:
    if figure.reference is None:
        label = "(ceiling)" if figure.is_ceiling else ""
        return (figure.backend, figure.name, _number(figure.value), label, "", "", "")
    unit = "ms" if figure.unit == "ms" else ""
    reference = f"{_number(figure.reference, unit)} ({figure.reference_name})"
    ratio = figure.ratio
    goal = ""
    if figure.target_ratio is not None:
        goal = f"{'≥' if figure.higher_is_better else '≤'} {figure.target_ratio:g}"
    met = {True: "yes", False: "NO", None: ""}[figure.met]
    ratio_text = "—" if ratio is None else f"{ratio:.2f}"
    return (figure.backend, figure.name, _number(figure.value), reference, ratio_text, goal, met)


def rows(results: Sequence[BackendResult]) -> list[tuple[str, ...]]:
    return [row(f) for result in results for f in result.figures]


def text_table(results: Sequence[BackendResult]) -> str:
    table = [HEADER, *rows(results)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(results: Sequence[BackendResult]) -> str:
    table = [HEADER, *rows(results)]
    lines = ["| " + " | ".join(r) + " |" for r in table]
    lines.insert(1, "|" + "---|" * len(HEADER))
    return "\n".join(lines)


def machine_facts(pg_version: str | None) -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = [
        f"nproc: {os.cpu_count()}",
        f"CPU model: {cpu}",
        f"kernel: {platform.system()} {platform.release()}",
        f"Python: {platform.python_version()}, SQLite: {sqlite3.sqlite_version}",
    ]
    if pg_version:
        facts.append(f"PostgreSQL: {pg_version}")
    return facts


def _machine_speed(results: Sequence[BackendResult]) -> list[str]:
    """How fast the VM ran, by the Starlette endpoint against the GUIDE's measurement: the
    latency targets are absolute, so on a slow day they are judged on a slower machine."""
    speeds = [
        f"{result.backend} {figure.value / GUIDE_TRIVIAL_RPS:.2f}"
        for result in results
        if (figure := result.figure(TRIVIAL)) is not None and figure.value
    ]
    if not speeds:
        return []
    return [
        f"Machine speed: the Starlette trivial endpoint ran at {', '.join(speeds)} of the "
        f"~{GUIDE_TRIVIAL_RPS:,} req/s the GUIDE measured on this machine (2026-11-23). Ratios "
        "compare like with like; the latency targets are absolute milliseconds.",
        "",
    ]


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%h %s"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_markdown(
    path: Path,
    results: Sequence[BackendResult],
    *,
    profile: Profile,
    argv: Sequence[str],
    seconds: float,
    pg_version: str | None,
) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m bench` (`make bench`); every run overwrites this file.",
        "",
        f"- date: {now}",
        f"- command: `python -m bench {' '.join(argv)}` (profile `{profile.name}`, "
        f"{seconds / 60:.1f} min)",
        f"- commit: `{git_commit()}`",
        *[f"- {fact}" for fact in machine_facts(pg_version)],
        "",
        "## Results",
        "",
        markdown_table(results),
        "",
        "Ratios: throughputs are value / ceiling measured in this run (goal ≥ 0.5); latencies "
        "are p99 / target (goal ≤ 1: identify 20 ms with 1,000 events to back-fill, a timeline "
        "page 10 ms with 1,000,000 events stored). On SQLite the single-event figure is also "
        "shown against a one-core bound, 1 / (1 / bare-ASGI req/s + 1 / raw rows/s): both "
        "the request and its row are work of the server's one core, so no server could serve "
        "more than that; the GUIDE sets no goal against it. The VM's speed drifts within "
        "minutes and the ceilings were measured a few minutes before Seam's runs, so single-event "
        "ingest is also measured alternating with the Starlette endpoint (both servers up on the "
        "server core, the one not loaded idle): Starlette, Seam, Starlette, …, Starlette, in runs "
        "of a few seconds; Seam's mean rate is judged against the mean, over its runs, of the two "
        "endpoint runs around each (every rate and pair ratio is in the details). Batch ingest "
        "is measured the same way against the raw insert it is judged against (COPY on "
        "PostgreSQL; on SQLite executemany with Seam's synchronous setting), each raw run on a "
        "fresh table of the ceiling's size, while Seam's table keeps growing.",
        "",
        *_machine_speed(results),
        "Noise: the machine is a 2-core VM; anything else running on it (builds, test suites) "
        "lands on one of the two cores. The ceilings are measured in the same run to absorb "
        "part of that; the details below give each run's latencies and counts.",
        "",
        "## What ran",
        "",
        "Server side pinned to core 0 (`taskset -c 0`), load generators and this harness on "
        "core 1. PostgreSQL's own processes are not pinned.",
        "",
        "- trivial endpoints: `uvicorn bench.trivial_app:app --workers 1 --loop uvloop "
        "--http httptools` (Starlette + msgspec Struct decode, the GUIDE's ceiling) and the same "
        "with `bench.trivial_asgi:app` (a bare ASGI function decoding the same Struct: Seam "
        "serves its ingest endpoints beneath Starlette and ASGI, so this is the floor of its own "
        "stack and a stricter ratio than the GUIDE's), each "
        f"`wrk -t{profile.wrk_threads} -c{profile.wrk_connections} -d{profile.wrk_seconds}s "
        "-s bench/wrk/ingest.lua URL -- track …` after a "
        f"{profile.wrk_warmup_seconds} s warm-up.",
        f"- raw inserts: {profile.raw_rows:,} rows into the real `events` table "
        "(`seam.store.tables`, unique (workspace_id, message_id) + 5 indexes), random UUID "
        "message ids, 500-row transactions; SQLite WAL + synchronous=NORMAL with `executemany` "
        "(and synchronous=FULL, Seam's SQLite default, for context); "
        "PostgreSQL with psycopg `COPY` and `executemany`, each on a fresh table.",
        "- Seam: `seam migrate --db URL`, `seam workspace create bench --domain localhost "
        "--json --db URL` (rate limit lifted for the benchmark), "
        "`seam serve --db URL --host 127.0.0.1 --port P`. On SQLite Seam runs with its default "
        "synchronous=FULL; the ingest figures marked `sync=NORMAL` come from a second server "
        "on a fresh file with `SEAM_SQLITE_SYNCHRONOUS=NORMAL`, like the raw ceiling.",
        "- single ingest: the same wrk script on `POST /v1/track`, a unique messageId per "
        "request, random after the run's prefix like the SDKs' UUIDs (and the raw ceiling's "
        f"ids), anonymousId from a pool of {profile.anon_pool:,}, "
        "`Authorization: Basic base64(secret_key:)`; then every event since the run's start is "
        "read back through `GET /v1/events?since=…` and counted against the 2xx responses.",
        f"- batch ingest: `POST /v1/batch` with 100 messages a request, "
        f"`-c{profile.batch_connections}`; events/s = 100 * 2xx req/s; read back the same way.",
        f"- identify: {profile.identify_visitors} visitors x {profile.events_per_visitor:,} "
        "anonymous page views (bulk-loaded through /v1/batch), then one `POST /v1/identify` "
        "each, sent one at a time on one keep-alive connection and timed by the client "
        "(the standard library's http.client: httpx's async client added ~1.8 ms a request "
        "on this machine); each answer must "
        f"say `events_linked: {profile.events_per_visitor}`.",
        f"- timeline: the store topped up to {profile.timeline_total_events:,} events, "
        f"{profile.timeline_contact_events:,} of them sent with one contact's userId, the rest "
        f"over {50_000:,} anonymous visitors; then {profile.timeline_passes} walk(s) over "
        "`GET /v1/events?contact_id=…&limit=100` following `next_cursor`, every page timed "
        "the same way.",
        "",
    ]
    for result in results:
        lines += [f"## Details: {result.backend} ({result.seconds / 60:.1f} min)", ""]
        lines += [f"- {note}" for note in result.notes]
        lines += ["", "Problems seen in Seam:" if result.problems else "No problems seen.", ""]
        lines += [f"- {problem}" for problem in result.problems]
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n")
