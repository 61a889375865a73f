"""Runtime settings: command-line flags override `SEAM_*` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///seam.db"


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # Seconds between enrichment passes (attributing events that raced an identify).
    enrich_interval: float = 30.0
    # How long a looked-up key or workspace is trusted before it is read again; a revoked key
    # stops working within this many seconds on every process.
    key_cache_seconds: float = 1.0
    # /metrics is served only when enabled, and then only to an admin key.
    metrics_enabled: bool = False
    demo: bool = False
    rate_limit_per_second: int = 1000
    # FULL: every acknowledged commit is on disk. NORMAL trades the last commits before a power
    # loss (not a crash of Seam) for speed.
    sqlite_synchronous: str = "FULL"
    # PostgreSQL: write transactions one process keeps open at once (SQLite takes one).
    write_transactions: int = 2
    # Seconds between heartbeats, by which the processes on one database count each other.
    heartbeat_seconds: float = 5.0

    def __post_init__(self) -> None:
        # A limit of 0 would refuse every request after the first and a negative one none: neither
        # means "unlimited", so refuse them like `seam workspace update --rate-limit` does.
        if self.rate_limit_per_second < 1:
            raise ValueError("SEAM_RATE_LIMIT must be at least 1 (requests a second per key)")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": os.environ.get("SEAM_DATABASE_URL") or DEFAULT_DATABASE_URL,
            "enrich_interval": _float("SEAM_ENRICH_INTERVAL", 30.0),
            "key_cache_seconds": _float("SEAM_KEY_CACHE_SECONDS", 1.0),
            "metrics_enabled": os.environ.get("SEAM_METRICS", "") in ("1", "true", "on"),
            "demo": os.environ.get("SEAM_DEMO", "") in ("1", "true", "on"),
            "rate_limit_per_second": int(_float("SEAM_RATE_LIMIT", 1000)),
            "sqlite_synchronous": os.environ.get("SEAM_SQLITE_SYNCHRONOUS", "FULL").upper(),
            "write_transactions": int(_float("SEAM_WRITE_TRANSACTIONS", 2)),
            "heartbeat_seconds": _float("SEAM_HEARTBEAT_SECONDS", 5.0),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
