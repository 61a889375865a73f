"""A key's rate limit is the deployment's, shared by the processes serving one database.

Each process lets through, for each key, what the other processes have left of the key's limit
lately (they publish their rates with their heartbeats), and never less than an even share. A
client whose requests all reach one process (a keep-alive connection stays with the process
that accepted it) gets the whole limit there, not 1/N of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


def share_of_limit(limit: float, live_processes: int, used_by_others: float) -> float:
    """Requests a second this process lets through for a key whose limit is `limit`, when the
    other live processes let through `used_by_others` a second of it lately.

    Never below an even share: processes that were idle for a key may all see it free at once,
    and so for a heartbeat or two let through up to twice the limit between them, until each
    has seen what the others let through. Above the even share only by what the others leave."""
    even = limit / max(1, live_processes)
    return max(even, limit - used_by_others)


@dataclass
class TokenBucket:
    """One key's budget in this process: tokens come back at `rate` a second, up to `burst`.
    Losing it on restart is harmless. It starts full."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.updated = time.monotonic()

    def retune(self, rate: float, burst: float) -> None:
        """A new share: what is left in the bucket stays (up to the new burst), so a share
        that changes at every heartbeat neither refills nor empties it."""
        self._refill()
        self.rate = rate
        self.burst = burst
        self.tokens = min(self.tokens, self.burst)

    def take(self) -> float:
        """0 if a request may pass now, else the seconds until one may."""
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
