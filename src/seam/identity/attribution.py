"""Which contact an event belongs to at ingest, first match wins (SPEC §5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from seam.identity.trust import Trust, claim_is_usable

Via = Literal["user_id", "cookie", "visitor"]


@dataclass(frozen=True)
class Claim:
    via: Literal["user_id", "cookie"]
    external_id: str
    trust: Trust


@dataclass(frozen=True)
class Attribution:
    """`claim` names the contact by external_id (to resolve or create); `contact_id` is set when
    the visitor's binding decided; both None means the event stays anonymous. `unverified` lists
    the claims ignored because verification is required (each is audited)."""

    via: Via | None
    claim: Claim | None = None
    contact_id: str | None = None
    unverified: tuple[Claim, ...] = ()


def attribute_event(
    claims: Sequence[Claim],
    *,
    visitor_contact_id: str | None,
    verification_required: bool,
) -> Attribution:
    """`claims` in SPEC order (userId, then the external-id cookie)."""
    unverified: list[Claim] = []
    for claim in claims:
        if claim_is_usable(claim.trust, verification_required=verification_required):
            return Attribution(claim.via, claim=claim, unverified=tuple(unverified))
        unverified.append(claim)
    if visitor_contact_id is not None:
        return Attribution("visitor", contact_id=visitor_contact_id, unverified=tuple(unverified))
    return Attribution(None, unverified=tuple(unverified))
