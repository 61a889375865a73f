"""How a key's rate limit is shared among the processes serving one database."""

from __future__ import annotations

import pytest

from seam.api.rate_limits import TokenBucket, share_of_limit


def test_a_key_the_other_processes_leave_alone_gets_its_whole_limit_here() -> None:
    assert share_of_limit(1000, live_processes=4, used_by_others=0) == 1000


def test_a_key_gets_what_the_other_processes_left_of_its_limit() -> None:
    assert share_of_limit(1000, live_processes=2, used_by_others=300) == 700


def test_a_key_gets_at_least_an_even_share_however_busy_the_others_are() -> None:
    assert share_of_limit(1000, live_processes=4, used_by_others=900) == 250
    assert share_of_limit(1000, live_processes=4, used_by_others=5000) == 250


def test_one_process_has_the_whole_limit() -> None:
    assert share_of_limit(10, live_processes=1, used_by_others=0) == 10


def test_a_bucket_lets_a_burst_through_then_paces_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("seam.api.rate_limits.time.monotonic", lambda: clock[0])
    bucket = TokenBucket(rate=8, burst=3)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == 0.125  # one token comes back every 1/8 s
    clock[0] += 0.125
    assert bucket.take() == 0


def test_a_new_share_keeps_what_is_left_in_the_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shares change at every heartbeat; a change must neither refill an empty bucket (which
    would let a burst through every heartbeat) nor empty a full one."""
    clock = [100.0]
    monkeypatch.setattr("seam.api.rate_limits.time.monotonic", lambda: clock[0])
    bucket = TokenBucket(rate=4, burst=5)
    for _ in range(5):
        bucket.take()
    bucket.retune(rate=16, burst=5)
    assert bucket.take() > 0  # still empty
    clock[0] += 0.125  # refills at the new rate: two tokens
    assert [bucket.take() for _ in range(2)] == [0, 0]
    assert bucket.take() > 0
    full = TokenBucket(rate=5, burst=5)
    full.retune(rate=2, burst=3)
    assert [full.take() for _ in range(3)] == [0, 0, 0]  # capped at the new burst
    assert full.take() > 0
