"""`python -m bench [--backend sqlite|postgres|both] [--quick]`: measure, print, write the doc."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg

from bench import ceilings, seam_latency, seam_load, seam_server
from bench.config import FULL, LOAD_CORE, QUICK, REPO, THROUGHPUT_TARGET_RATIO, Profile
from bench.procs import pin_self
from bench.report import text_table, write_markdown
from bench.results import BackendResult
from bench.scratch import DEFAULT_PG, scratch_dir, scratch_pg_database
from bench.seam_load import RawLoad, Reference


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="short runs, 100k events stored")
    parser.add_argument(
        "--pg", default=DEFAULT_PG, help=f"PostgreSQL server (default {DEFAULT_PG})"
    )
    parser.add_argument("--ceilings-only", action="store_true", help="skip Seam itself")
    parser.add_argument(
        "--output", type=Path, default=REPO / "docs" / "benchmarks.md", help="Markdown report"
    )
    parser.add_argument("--no-write", action="store_true", help="print only, keep the doc")
    return parser.parse_args(argv)


@contextlib.contextmanager
def seam_database(backend: str, workdir: Path, pg_server: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'seam.db'}"
    else:
        with scratch_pg_database(pg_server, "seam") as url:
            yield url


_WHY = {
    "starlette.requests.ClientDisconnect": " (wrk drops its in-flight requests when a run ends; "
    "Seam logs a full traceback for each instead of ignoring the disconnect)"
}


def server_log_problems(log: Path) -> list[str]:
    """Errors Seam logged while under benchmark: tracebacks grouped by exception, 5xx lines."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    exceptions: Counter[str] = Counter()
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            # The exception line is the first unindented line after the frames.
            end = next(
                (j for j in range(i + 1, min(i + 200, len(lines))) if not lines[j][:1].isspace()),
                None,
            )
            exceptions[lines[end][:300] if end is not None else "?"] += 1
    problems = [
        f"{log.name}: {n} traceback(s) ending in: {exc}{_WHY.get(exc, '')}"
        for exc, n in exceptions.most_common(5)
    ]
    five_xx = sum(1 for line in lines if '" 50' in line)
    if five_xx:
        problems.append(f"{log.name}: {five_xx} access-log lines with a 5xx status")
    return problems


def bench_backend(backend: str, profile: Profile, args: argparse.Namespace) -> BackendResult:
    out = BackendResult(backend)
    run_id = f"r{int(time.time()) % 1_000_000}{backend[0]}"
    started = time.monotonic()
    with scratch_dir() as workdir:
        try:
            phase = time.monotonic()
            ceilings.measure(backend, profile, workdir, args.pg, out)
            out.notes.append(f"ceilings took {time.monotonic() - phase:.0f}s")
            if not args.ceilings_only:
                _bench_seam(backend, profile, args, workdir, run_id, out)
        except Exception as exc:
            traceback.print_exc()
            out.problems.append(f"run aborted: {type(exc).__name__}: {str(exc)[:1500]}")
        finally:
            for log in sorted(workdir.glob("seam-serve*.log")):
                out.problems.extend(server_log_problems(log))
    out.seconds = time.monotonic() - started
    return out


def _bench_seam(
    backend: str,
    profile: Profile,
    args: argparse.Namespace,
    workdir: Path,
    run_id: str,
    out: BackendResult,
) -> None:
    raw = {f.name: f.value for f in out.figures if f.is_ceiling and f.value}
    goal = THROUGHPUT_TARGET_RATIO
    # Seam's ingest endpoints run beneath Starlette and ASGI: judged against the bare ASGI endpoint
    # (its own stack) and, as the GUIDE defines the ceiling, the Starlette one.
    trivial: list[Reference] = [
        ("trivial, bare ASGI", raw[ceilings.TRIVIAL_ASGI], goal),
        ("trivial, Starlette", raw[ceilings.TRIVIAL], goal),
    ]
    single_refs = trivial
    if backend == "sqlite":
        # Seam's SQLite default is synchronous=FULL: judged against both raw figures.
        ceilings_for: list[Reference] = [
            ("raw executemany", raw[ceilings.RAW_SQLITE], goal),
            ("raw, sync=FULL", raw[ceilings.RAW_SQLITE_FULL], goal),
        ]
        bound = one_core_bound(raw[ceilings.TRIVIAL_ASGI], raw[ceilings.RAW_SQLITE_FULL])
        single_refs = [*trivial, bound]
    else:
        ceilings_for = [
            ("raw executemany", raw[ceilings.RAW_EXECUTEMANY], goal),
            ("raw COPY", raw[ceilings.RAW_COPY], goal),
        ]

    def starlette() -> contextlib.AbstractContextManager[ceilings.Load]:
        return ceilings.trivial_server(profile, workdir, "bench.trivial_app")

    # The raw insert Seam's batch ingest is judged against, run again between its batch runs.
    raw_again: RawLoad = (
        ("raw, sync=FULL", ceilings.sqlite_again(profile, workdir, "FULL"))
        if backend == "sqlite"
        else ("raw COPY", ceilings.postgres_copy_again(profile, args.pg))
    )

    with (
        seam_database(backend, workdir, args.pg) as db_url,
        seam_server.serve(db_url, workdir) as seam,
    ):
        phase = time.monotonic()
        stored = seam_load.measure(
            seam,
            profile,
            run_id,
            out,
            trivial=single_refs,
            raw=ceilings_for,
            starlette=starlette,
            raw_alternating=raw_again,
        )
        out.notes.append(f"ingest phases took {time.monotonic() - phase:.0f}s")
        phase = time.monotonic()
        stored += asyncio.run(seam_latency.identify(seam, profile, run_id, out))
        out.notes.append(f"identify phase took {time.monotonic() - phase:.0f}s")
        phase = time.monotonic()
        asyncio.run(seam_latency.timeline(seam, profile, run_id, out, stored))
        out.notes.append(f"timeline phase took {time.monotonic() - phase:.0f}s")
    if backend == "sqlite":
        # The raw ceiling is measured with synchronous=NORMAL: ingest again, like for like.
        normal = {"SEAM_SQLITE_SYNCHRONOUS": "NORMAL"}
        db_url = f"sqlite:///{workdir / 'seam-normal.db'}"
        with seam_server.serve(db_url, workdir, env=normal, name="seam-serve-normal") as seam:
            seam_load.measure(
                seam,
                profile,
                f"{run_id}n",
                out,
                trivial=[
                    *trivial,
                    one_core_bound(raw[ceilings.TRIVIAL_ASGI], raw[ceilings.RAW_SQLITE]),
                ],
                raw=[("raw executemany", raw[ceilings.RAW_SQLITE], goal)],
                label=", sync=NORMAL",
                starlette=starlette,
                raw_alternating=(
                    "raw executemany",
                    ceilings.sqlite_again(profile, workdir, "NORMAL"),
                ),
            )


def one_core_bound(requests_per_second: float, rows_per_second: float) -> Reference:
    """On SQLite both halves of an event's work happen on the server core: no server can do
    less per event than the bare endpoint's request plus one row of the raw insert. The GUIDE
    sets no goal against it; it shows how much of what one core allows Seam reaches."""
    bound = 1 / (1 / requests_per_second + 1 / rows_per_second)
    return ("one-core bound: bare ASGI + one raw row", bound, None)


def postgres_version(pg_server: str) -> str | None:
    try:
        with psycopg.connect(f"{pg_server}/postgres", connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    except psycopg.Error:
        return None


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    profile = QUICK if args.quick else FULL
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    pin_self(LOAD_CORE)  # this harness and wrk: the load core; servers pin themselves to core 0
    started = time.monotonic()
    results = []
    for backend in backends:
        print(f"== {backend} ({profile.name} profile)", flush=True)
        results.append(bench_backend(backend, profile, args))
        print(text_table(results[-1:]), flush=True)
    seconds = time.monotonic() - started
    print(f"\n== results ({seconds / 60:.1f} min)\n{text_table(results)}")
    for result in results:
        for problem in result.problems:
            print(f"[{result.backend}] PROBLEM: {problem}")
    if not args.no_write:
        pg = postgres_version(args.pg) if "postgres" in backends else None
        write_markdown(
            args.output, results, profile=profile, argv=argv, seconds=seconds, pg_version=pg
        )
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
