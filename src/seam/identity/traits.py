"""Most-recent-wins trait merging (SPEC §4.3).

A stored value is replaced only by one observed later; on equal observation times the higher
trust wins; on equal time and trust the larger canonical JSON wins, so that any arrival order of
the same observations converges on the same state (replays and out-of-order syncs are harmless).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from seam.identity.trust import Trust

_encoder = msgspec.json.Encoder(order="sorted")


def canonical_json(value: Any) -> str:
    return _encoder.encode(value).decode()


@dataclass(frozen=True)
class TraitValue:
    value: Any
    observed_at: int  # microseconds since the epoch
    trust: Trust
    source: str = ""

    def rank(self) -> tuple[int, int, str]:
        return (self.observed_at, int(self.trust), canonical_json(self.value))


def observation_wins(incoming: TraitValue, stored: TraitValue | None) -> bool:
    """Whether `incoming` replaces `stored` under most-recent-wins with the trust tie-break."""
    return stored is None or incoming.rank() > stored.rank()


def merge_traits(
    stored: Mapping[str, TraitValue],
    incoming: Mapping[str, Any],
    *,
    observed_at: int,
    trust: Trust,
    source: str = "",
) -> dict[str, TraitValue]:
    """The fields of `incoming` that win against `stored`, as the values to write."""
    winners: dict[str, TraitValue] = {}
    for key, value in incoming.items():
        candidate = TraitValue(value, observed_at, trust, source)
        if observation_wins(candidate, stored.get(key)):
            winners[key] = candidate
    return winners


def merge_trait_maps(
    into: Mapping[str, TraitValue], other: Mapping[str, TraitValue]
) -> dict[str, TraitValue]:
    """The fields of `other` that win against `into` (held visitor traits, contact merges)."""
    return {key: tv for key, tv in other.items() if observation_wins(tv, into.get(key))}
