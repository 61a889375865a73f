"""Seam's ingest throughput under wrk: single-event /v1/track and 100-message /v1/batch.

After each run the events that arrived are read back (GET /v1/events?since=…) and counted
against the 2xx responses wrk received: a 2xx must mean stored ("never 200 and lost").
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from bench.ceilings import Load
from bench.client import TimedClient, iso
from bench.config import THROUGHPUT_TARGET_RATIO, Profile
from bench.results import BackendResult, Figure
from bench.seam_server import SeamInstance
from bench.wrk_driver import WrkResult, run_wrk

SINGLE = "single-event ingest{label} (req/s)"
SINGLE_ALTERNATING = "single-event ingest{label}, alternating (req/s)"
BATCH = "batch ingest{label} (events/s)"
BATCH_ALTERNATING = "batch ingest{label}, alternating (events/s)"
BATCH_SIZE = 100
SAMPLE_SIZE = 50


@dataclass(frozen=True)
class StoredCheck:
    stored: int  # events carrying the run's messageId prefix
    duplicates: int  # message ids seen more than once
    bad_samples: list[str]  # sampled events whose fields differ from what was sent
    seconds: float


async def check_stored(seam: SeamInstance, since: float, prefix: str, expected: int) -> StoredCheck:
    """Read back every event since `since` and count those with `prefix`; sample their fields."""
    seen: set[str] = set()
    duplicates = 0
    bad: list[str] = []
    start = time.perf_counter()
    params = {"since": iso(since), "order": "asc", "limit": "1000"}
    with TimedClient(seam) as client:
        for _elapsed, page in client.pages(params, max_pages=expected // 20 + 100):
            for event in page:
                message_id = str(event.get("message_id", ""))
                if not message_id.startswith(prefix + "-"):
                    continue
                if message_id in seen:
                    duplicates += 1
                seen.add(message_id)
                if len(seen) % max(1, expected // SAMPLE_SIZE) == 0 and len(bad) < 5:
                    bad.extend(_field_problems(event, prefix))
    return StoredCheck(len(seen), duplicates, bad, time.perf_counter() - start)


def _field_problems(event: dict[str, object], prefix: str) -> list[str]:
    properties = event.get("properties")
    wrong = []
    if event.get("type") != "track" or event.get("event") != "Bench Event":
        wrong.append("type/event")
    if not str(event.get("anonymous_id", "")).startswith(f"{prefix}-anon-"):
        wrong.append("anonymous_id")
    if not isinstance(properties, dict) or properties.get("plan") != "pro":
        wrong.append("properties")
    if event.get("contact_id") is not None:
        wrong.append("contact_id (expected anonymous)")
    return [f"{event.get('message_id')}: wrong {', '.join(wrong)}"] if wrong else []


def _wrk(seam: SeamInstance, profile: Profile, mode: str, prefix: str, seconds: int) -> WrkResult:
    return run_wrk(
        seam.url,
        mode=mode,
        prefix=prefix,
        authorization=seam.workspace.basic_auth,
        pool=profile.anon_pool,
        seconds=seconds,
        connections=profile.wrk_connections if mode == "track" else profile.batch_connections,
        threads=profile.wrk_threads,
        batch_size=BATCH_SIZE,
    )


def _measure(
    seam: SeamInstance, profile: Profile, mode: str, run_id: str, out: BackendResult, label: str
) -> tuple[WrkResult, int]:
    """Warm up, run wrk, verify storage. Returns (result, events acknowledged incl. warm-up)."""
    per_request = BATCH_SIZE if mode == "batch" else 1
    warm = _wrk(seam, profile, mode, f"{run_id}w{mode}", profile.wrk_warmup_seconds)
    since = time.time() - 1.0  # the server's clock is ours; 1 s of slack for rounding
    prefix = f"{run_id}{mode}"
    result = _wrk(seam, profile, mode, prefix, profile.wrk_seconds)
    out.notes.append(f"seam {mode}{label}: {result.describe()}")
    acked = result.ok * per_request
    check = asyncio.run(check_stored(seam, since, prefix, acked))
    out.notes.append(
        f"seam {mode}{label} read-back: {check.stored} of {acked} acknowledged events found "
        f"({check.duplicates} duplicates, {check.seconds:.1f}s to read back)"
    )
    if check.stored < acked:
        out.problems.append(
            f"{mode}{label}: {acked - check.stored} of {acked} acknowledged events missing from "
            "GET /v1/events?since=… (2xx but not stored?)"
        )
    if check.duplicates:
        out.problems.append(
            f"{mode}{label}: {check.duplicates} message ids returned more than once"
        )
    if check.bad_samples:
        out.problems.append(
            f"{mode}{label}: stored events differ from those sent: {check.bad_samples}"
        )
    _note_load_problems(out, result, f"{mode}{label}")
    return result, (warm.ok + result.ok) * per_request


def _note_load_problems(out: BackendResult, result: WrkResult, what: str) -> None:
    if result.non_2xx:
        statuses = {s: n for s, n in result.statuses.items() if not 200 <= s < 300}
        out.problems.append(f"{what}: {result.non_2xx} non-2xx responses under load {statuses}")
    if any(result.socket_errors.values()):
        out.problems.append(f"{what}: socket errors under load {result.socket_errors}")


def _alternate(
    seam: SeamInstance,
    profile: Profile,
    run_id: str,
    out: BackendResult,
    label: str,
    mode: str,
    reference: tuple[str, str, Callable[[int], float]],
) -> int:
    """Reference, Seam, reference, …, reference: every run of Seam's `mode` ingest sits
    between two runs of what it is judged against, so each is judged against the minutes it
    ran in. `reference` is (name, unit, run number -> rate). Adds the figure (Seam's mean rate
    against the mean, over its runs, of the two reference runs around each) and returns the
    events Seam acknowledged."""
    name, reference_unit, reference_run = reference
    per_request = BATCH_SIZE if mode == "batch" else 1
    seconds = profile.alternating_seconds
    references = [reference_run(0)]
    seams: list[float] = []
    acknowledged = 0
    for i in range(profile.alternating_rounds):
        result = _wrk(seam, profile, mode, f"{run_id}{mode}alt{i}", seconds)
        _note_load_problems(out, result, f"{mode}{label}, alternating")
        acknowledged += result.ok * per_request
        seams.append(result.ok_per_second * per_request)
        references.append(reference_run(i + 1))
    around = [(a + b) / 2 for a, b in itertools.pairwise(references)]
    template, unit = (
        (SINGLE_ALTERNATING, "req/s") if mode == "track" else (BATCH_ALTERNATING, "events/s")
    )
    ratios = ", ".join(f"{x / r:.2f}" for x, r in zip(seams, around, strict=True))
    out.notes.append(
        f"{template.format(label=label).removesuffix(f' ({unit})')} with {name} ({seconds} s "
        f"runs): {name} {', '.join(f'{r:,.0f}' for r in references)} {reference_unit}; Seam "
        f"{', '.join(f'{r:,.0f}' for r in seams)} {unit}; each Seam run against the mean of "
        f"the two around it: {ratios}"
    )
    out.add(
        Figure(
            out.backend,
            template.format(label=label),
            statistics.fmean(seams),
            unit,
            statistics.fmean(around),
            f"{name}, alternating {profile.alternating_rounds} x {seconds} s runs",
            target_ratio=THROUGHPUT_TARGET_RATIO,
        )
    )
    return acknowledged


# A figure Seam's throughput is judged against: (name, rate, goal ratio or None).
Reference = tuple[str, float, float | None]
# A raw insert to run again between Seam's batch runs: (name, run number -> rows/s).
RawLoad = tuple[str, Callable[[int], float]]


def measure(
    seam: SeamInstance,
    profile: Profile,
    run_id: str,
    out: BackendResult,
    *,
    trivial: list[Reference],
    raw: list[Reference],
    label: str = "",
    starlette: Callable[[], AbstractContextManager[Load]] | None = None,
    raw_alternating: RawLoad | None = None,
) -> int:
    """Single and batch ingest figures; returns how many events were acknowledged in total.

    `starlette` serves the Starlette trivial endpoint again, to run in alternation with Seam's
    single-event ingest: the VM's speed drifts within minutes, and the ceilings were measured a
    few minutes earlier. `raw_alternating` does the same for batch ingest.
    """
    single, single_events = _measure(seam, profile, "track", run_id, out, label)
    for trivial_name, trivial_rate, goal in trivial:
        out.add(
            Figure(
                out.backend,
                SINGLE.format(label=label),
                single.ok_per_second,
                "req/s",
                trivial_rate,
                trivial_name,
                target_ratio=goal,
            )
        )
    if starlette is not None:
        with starlette() as load:
            single_events += _alternate(
                seam,
                profile,
                run_id,
                out,
                label,
                "track",
                (
                    "trivial, Starlette",
                    "req/s",
                    lambda i: load(f"{run_id}alt{i}", profile.alternating_seconds).ok_per_second,
                ),
            )
    batch, batch_events = _measure(seam, profile, "batch", run_id, out, label)
    for raw_name, raw_rate, goal in raw:
        out.add(
            Figure(
                out.backend,
                BATCH.format(label=label),
                batch.ok_per_second * BATCH_SIZE,
                "events/s",
                raw_rate,
                raw_name,
                target_ratio=goal,
            )
        )
    if raw_alternating is not None:
        raw_name, raw_run = raw_alternating
        batch_events += _alternate(
            seam, profile, run_id, out, label, "batch", (raw_name, "rows/s", raw_run)
        )
    return single_events + batch_events
