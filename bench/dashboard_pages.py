"""`python -m bench.dashboard_pages [--events 1000000]`: render time of every dashboard page.

Builds a SQLite database with N events (30 days, 60% page views, a fifth of the visitors
identified halfway through, their earlier events back-filled by the binding), starts a real
`seam serve`, signs in and times each page over HTTP (median and p95 of repeated requests; the
first overview request, which fills the overview cache, is reported separately). Rows are
written straight into the tables: this measures reading, and loading 1M events through the
API would take minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SEAM = str(Path(sys.executable).with_name("seam"))
DAY_US = 86_400_000_000
PATHS = ["/", "/pricing", "/docs", "/docs/identity", "/blog/launch", "/signup", "/changelog"]


def cli(db_url: str, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        [SEAM, *args, "--db", db_url], input=stdin, capture_output=True, text=True, check=True
    ).stdout


def populate(path: Path, ws: str, n_events: int) -> tuple[str, str]:
    """Events, visitors, contacts; returns (busiest contact id, a bound anonymous id)."""
    rng = random.Random(1)
    now = time.time_ns() // 1000
    n_visitors = max(10, n_events // 10)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    contacts, visitors, identifiers, traits = [], [], [], []
    bound: dict[int, tuple[str, int]] = {}  # visitor -> (contact, bound_at)
    for v in range(n_visitors):
        first = now - rng.randint(0, 30 * DAY_US)
        contact = None
        bound_at = first + (now - first) // 2
        if v % 5 == 0:
            contact = f"c-{v:08d}"
            bound[v] = (contact, bound_at)
            contacts.append((ws, contact, f"usr_{v}", 1, first, first, now))
            identifiers.append((ws, "email", f"user{v}@example.com", contact, first))
            traits.append(
                (ws, "contact", contact, "name", json.dumps(f"User {v}"), first, 3, "identify")
            )
            traits.append(
                (
                    ws,
                    "contact",
                    contact,
                    "email",
                    json.dumps(f"user{v}@example.com"),
                    first,
                    3,
                    "identify",
                )
            )
        last = first + rng.randint(0, now - first)
        visitors.append(
            (
                ws,
                f"anon-{v:08d}",
                contact,
                first,
                last,
                bound_at if contact else None,
                "identify" if contact else None,
                3 if contact else None,
            )
        )
    db.executemany(
        "INSERT INTO contacts (workspace_id, id, external_id, identified, identified_at,"
        " created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
        contacts,
    )
    db.executemany("INSERT INTO identifiers VALUES (?,?,?,?,?)", identifiers)
    db.executemany("INSERT INTO traits VALUES (?,?,?,?,?,?,?,?)", traits)
    db.executemany("INSERT INTO visitors VALUES (?,?,?,?,?,?,?,?)", visitors)
    busiest = "c-00000000"
    rows = []
    sql = (
        "INSERT INTO events (workspace_id, message_id, type, event, name, anonymous_id, user_id,"
        " contact_id, session_id, timestamp, received_at, properties, traits, context, via,"
        " attributed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    for i in range(n_events):
        # Visitor 0 is a heavy user (1% of all events), the rest are spread out.
        v = 0 if i % 100 == 0 else rng.randrange(n_visitors)
        ts = now - rng.randint(0, 30 * DAY_US)
        # As Seam stores them: a bound device's events from before its binding have no
        # contact in their row (the binding back-fills them), later ones name it.
        contact, bound_at = bound.get(v, (None, 0))
        if ts < bound_at:
            contact = None
        is_page = rng.random() < 0.6
        path_ = rng.choice(PATHS)
        rows.append(
            (
                ws,
                f"m-{i}",
                "page" if is_page else "track",
                None if is_page else "Clicked",
                path_ if is_page else None,
                f"anon-{v:08d}",
                None,
                contact,
                f"s-{v}-{ts // (DAY_US // 4)}",
                ts,
                ts,
                json.dumps({"path": path_}),
                "{}",
                json.dumps({"page": {"path": path_, "url": f"https://example.com{path_}"}}),
                "visitor" if contact else None,
                ts if contact else None,
            )
        )
        if len(rows) == 50_000:
            db.executemany(sql, rows)
            rows.clear()
    db.executemany(sql, rows)
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return busiest, "anon-00000000"


def timed(client: httpx.Client, url: str, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        r = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_pages")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="seam-dash-"))
    db_url = f"sqlite:///{tmp / 'seam.db'}"
    cli(db_url, "migrate")
    ws = json.loads(cli(db_url, "workspace", "create", "bench", "--json"))
    cli(db_url, "user", "create", "bench@example.com", "--password-stdin", stdin="benchpass1\n")
    started = time.perf_counter()
    contact, anonymous_id = populate(tmp / "seam.db", ws["id"], args.events)
    print(f"populated {args.events:,} events in {time.perf_counter() - started:.0f}s ({tmp})")
    env = {**os.environ, "SEAM_ENRICH_INTERVAL": "3600"}
    proc = subprocess.Popen(
        [SEAM, "serve", "--db", db_url, "--port", str(args.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        client = httpx.Client(base_url=base, timeout=60)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/app/login").text)
        assert token
        client.post(
            "/app/login",
            data={
                "csrf_token": token.group(1),
                "email": "bench@example.com",
                "password": "benchpass1",
            },
        )
        w = f"/app/w/{ws['id']}/"
        started = time.perf_counter()
        client.get(w + "?fresh=1")
        cold = (time.perf_counter() - started) * 1000
        pages = {
            "overview (cached)": w,
            "overview (recomputed)": w + "?fresh=1",
            "people": w + "people",
            "people search": w + "people?q=user12",
            "visitors": w + "visitors",
            "person (10k events)": w + f"people/{contact}",
            "visitor": w + f"visitors/{anonymous_id}",
            "identity log": w + "identity",
            "settings": w + "settings",
        }
        print(f"{'page':28} {'median ms':>10} {'p95 ms':>8}")
        print(f"{'overview (first, cold)':28} {cold:10.1f}")
        for name, url in pages.items():
            runs = 5 if "recomputed" in name else args.runs
            median, p95 = timed(client, url, runs)
            print(f"{name:28} {median:10.1f} {p95:8.1f}")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


if __name__ == "__main__":
    main()
