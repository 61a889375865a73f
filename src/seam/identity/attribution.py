"""Which contact an event belongs to: at ingest, first match wins (SPEC §5); later, through the
binding of its device (SPEC §4.5)."""

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


@dataclass(frozen=True)
class DeviceAttribution:
    via: str
    at: int


def backfill_via(bound_via: str) -> str:
    """How a binding reports the events it back-filled: a binding made by an identity claim
    (identify, an event's userId or the external-id cookie) back-fills `identify`; a form or
    an admin move names itself."""
    return "identify" if bound_via in ("identify", "user_id", "cookie") else bound_via


def attribute_through_device(
    *, received_at: int, bound_at: int, bound_via: str
) -> DeviceAttribution:
    """An event stored anonymous belongs to the contact its device is bound to.

    Binding a device does not rewrite its events: this decides, whenever they are read, how the
    binding attributed them. An event received before the binding was back-filled by it (at
    the binding's time). One received after it raced the binding (its transaction read the
    device as free): the enrichment pass attributes those, as of their arrival.
    """
    if received_at <= bound_at:
        return DeviceAttribution(backfill_via(bound_via), bound_at)
    return DeviceAttribution("enrichment", received_at)
