"""Admin merge of two contacts (SPEC §8): what survives."""

from __future__ import annotations

from dataclasses import dataclass

from seam.identity.resolve import ContactRef


@dataclass(frozen=True)
class MergePlan:
    allowed: bool
    external_id: str | None
    reason: str | None = None


def plan_merge(into: ContactRef, source: ContactRef) -> MergePlan:
    """Two contacts with different external ids are two people by the customer's own word;
    merging them would make one of those ids point nowhere, so it is refused."""
    if into.id == source.id:
        return MergePlan(False, into.external_id, "cannot merge a contact into itself")
    if into.external_id and source.external_id and into.external_id != source.external_id:
        return MergePlan(False, into.external_id, "both contacts have different external ids")
    return MergePlan(True, into.external_id or source.external_id)
