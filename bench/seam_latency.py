"""Seam's latencies: identify with 1,000 events to back-fill, and timeline pages of one contact.

Load is bulk-sent through /v1/batch (concurrently); the timed requests are sent one at a time
on an otherwise idle server, so each sample is one request's latency as a client sees it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import msgspec

from bench.client import LoadStats, Message, SeamClient, TimedClient, iso
from bench.config import IDENTIFY_TARGET_MS, SETTLE_SECONDS, TIMELINE_TARGET_MS, Profile
from bench.results import BackendResult, Figure
from bench.seam_server import SeamInstance
from bench.stats import summary_ms

IDENTIFY_P50 = "identify p50 (ms)"
IDENTIFY_P99 = "identify p99 (ms)"
TIMELINE_P50 = "timeline page p50 (ms)"
TIMELINE_P99 = "timeline page p99 (ms)"
PAGE = 100
DAY = 86_400.0
TIMELINE_VISITORS = 50_000
_JSON = {"Content-Type": "application/json"}
_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def page_view(
    message_id: str, ts: float, *, anonymous_id: str | None = None, user_id: str | None = None
) -> Message:
    path = f"/docs/{message_id[-2:]}"
    message: Message = {
        "type": "page",
        "name": "Docs",
        "messageId": message_id,
        "timestamp": iso(ts),
        "properties": {"path": path, "url": f"https://localhost{path}", "title": "Docs"},
        "context": {"page": {"path": path, "url": f"https://localhost{path}"}, "userAgent": _UA},
    }
    if anonymous_id:
        message["anonymousId"] = anonymous_id
    if user_id:
        message["userId"] = user_id
    return message


def _batched(messages: Iterator[Message], size: int = PAGE) -> Iterator[list[Message]]:
    batch: list[Message] = []
    for message in messages:
        batch.append(message)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_load(stats: LoadStats, expected: int, what: str, out: BackendResult) -> None:
    out.notes.append(f"{what} load: {stats.describe()}")
    if stats.accepted != expected or stats.failed_requests:
        out.problems.append(
            f"{what} load: {stats.accepted} of {expected} events accepted, "
            f"{stats.failed_requests} failed requests; e.g. {stats.samples}"
        )


async def identify(seam: SeamInstance, profile: Profile, run_id: str, out: BackendResult) -> int:
    """K visitors with 1,000 anonymous page views, then one timed identify each.

    Returns the number of events stored by this phase.
    """
    n = profile.events_per_visitor
    visitors = [
        (f"{run_id}-idv-{i}", f"{run_id}-user-{i}") for i in range(profile.identify_visitors)
    ]
    now = time.time()

    def views() -> Iterator[Message]:
        for i, (anonymous_id, _user) in enumerate(visitors):
            for j in range(n):
                ts = now - DAY + j * 60 + i
                yield page_view(f"{run_id}-idv-{i}-{j}", ts, anonymous_id=anonymous_id)

    async with SeamClient(seam, profile.load_concurrency) as client:
        _check_load(await client.load(_batched(views())), len(visitors) * n, "identify", out)
    await asyncio.sleep(SETTLE_SECONDS)
    latencies: list[float] = []
    mismatches: list[str] = []
    with TimedClient(seam) as timed:
        for anonymous_id, user_id in visitors:
            body = msgspec.json.encode(
                {
                    "userId": user_id,
                    "anonymousId": anonymous_id,
                    "traits": {
                        "email": f"{user_id}@example.com",
                        "plan": "pro",
                        "firstname": "Ada",
                    },
                }
            )
            elapsed, status, data = timed.request("POST", "/v1/identify", body)
            latencies.append(elapsed)
            answer = msgspec.json.decode(data) if status == 200 else {}
            if answer.get("events_linked") != n or answer.get("visitor_bound") is not True:
                mismatches.append(f"{user_id}: {status} {data[:300]!r}")
    ms = summary_ms(latencies)
    out.add(Figure(out.backend, IDENTIFY_P50, ms["p50"], "ms"))
    out.add(
        Figure(
            out.backend,
            IDENTIFY_P99,
            ms["p99"],
            "ms",
            IDENTIFY_TARGET_MS,
            "target",
            higher_is_better=False,
            target_ratio=1.0,
        )
    )
    out.notes.append(
        f"identify: {len(visitors)} calls with {n} events each to back-fill, "
        f"max {ms['max']:.1f} ms, {len(mismatches)} answers without events_linked == {n}"
    )
    if mismatches:
        out.problems.append(
            f"identify: {len(mismatches)} of {len(visitors)} answers did not say "
            f"events_linked == {n} and visitor_bound: true; e.g. {mismatches[:3]}"
        )
    return len(visitors) * (n + 1)  # + the identify event itself


async def timeline(
    seam: SeamInstance, profile: Profile, run_id: str, out: BackendResult, stored: int
) -> None:
    """Top the store up to `timeline_total_events`, one contact's events spread evenly among
    them, then time walks over that contact's timeline, 100 events a page."""
    contact_events = profile.timeline_contact_events
    new = max(profile.timeline_total_events - stored, contact_events)
    user_id = f"{run_id}-timeline-user"
    start_ts = time.time() - 30 * DAY

    def messages() -> Iterator[Message]:
        for k in range(new):
            ts = start_ts + k * (30 * DAY / new)
            if (k * contact_events) // new != ((k + 1) * contact_events) // new:
                yield page_view(f"{run_id}-tl-{k}", ts, user_id=user_id)
            else:
                anonymous_id = f"{run_id}-tl-anon-{k % TIMELINE_VISITORS}"
                yield page_view(f"{run_id}-tl-{k}", ts, anonymous_id=anonymous_id)

    async with SeamClient(seam, profile.load_concurrency) as client:
        _check_load(await client.load(_batched(messages())), new, "timeline", out)
        out.notes.append(f"timeline: about {stored + new:,} events stored in total")
        contact_id = await _contact_id(client, user_id)
    await asyncio.sleep(SETTLE_SECONDS)
    latencies: list[float] = []
    first_pages: list[float] = []
    params = {"contact_id": contact_id, "limit": str(PAGE)}
    with TimedClient(seam) as timed:
        for walk in range(profile.timeline_passes):
            count = 0
            for elapsed, page in timed.pages(params, max_pages=contact_events // 10 + 10):
                if count == 0:
                    first_pages.append(elapsed)
                latencies.append(elapsed)
                count += len(page)
            if count != contact_events:
                out.problems.append(
                    f"timeline walk {walk}: {count} events on the contact's timeline, "
                    f"expected {contact_events}"
                )
    ms = summary_ms(latencies)
    out.add(Figure(out.backend, TIMELINE_P50, ms["p50"], "ms"))
    out.add(
        Figure(
            out.backend,
            TIMELINE_P99,
            ms["p99"],
            "ms",
            TIMELINE_TARGET_MS,
            "target",
            higher_is_better=False,
            target_ratio=1.0,
        )
    )
    first = summary_ms(first_pages)
    out.notes.append(
        f"timeline: {len(latencies)} page requests over {profile.timeline_passes} walk(s), "
        f"max {ms['max']:.1f} ms; first page p50 {first['p50']:.2f} ms"
    )


async def _contact_id(client: SeamClient, user_id: str) -> str:
    response = await client.http.get("/v1/contacts", params={"external_id": user_id})
    if response.status_code != 200 or not response.json().get("data"):
        raise RuntimeError(f"contact {user_id} not found: {response.status_code} {response.text}")
    return str(response.json()["data"][0]["id"])
