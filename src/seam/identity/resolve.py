"""Resolve-or-create: which contact an identity claim names (SPEC §4.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from seam.identity.normalize import IDENTIFIER_KINDS


@dataclass(frozen=True)
class ContactRef:
    id: str
    external_id: str | None


@dataclass(frozen=True)
class IdentifierConflict:
    kind: str
    value: str
    holder_id: str


@dataclass(frozen=True)
class Resolution:
    """`contact` is the existing contact to use, or None to create one.

    `adopt_external_id` means the contact was found by an identifier and has no external_id yet:
    it takes the claim's. `conflicts` are identifiers of the claim that another contact holds;
    they stay where they are and are audited.
    """

    contact: ContactRef | None
    matched_by: str | None
    adopt_external_id: bool = False
    conflicts: tuple[IdentifierConflict, ...] = field(default=())


def resolve_contact(
    external_id: str | None,
    *,
    by_external_id: ContactRef | None,
    identifiers: Mapping[str, str],
    holders: Mapping[str, ContactRef],
    match_identifiers: bool,
) -> Resolution:
    """Decide which contact a claim names.

    `identifiers` maps kind -> normalized value carried by the claim, `holders` maps kind -> the
    contact currently holding that value. Identifiers are matched only when `match_identifiers`
    (authoritative calls, imports and form emails); soft and verified identifies resolve by
    external_id alone.
    """
    chosen: ContactRef | None = by_external_id
    matched_by: str | None = "external_id" if by_external_id else None
    adopt = False
    conflicts: list[IdentifierConflict] = []
    for kind in IDENTIFIER_KINDS:
        holder = holders.get(kind)
        if kind not in identifiers or holder is None:
            continue
        if chosen is not None:
            if holder.id != chosen.id:
                conflicts.append(IdentifierConflict(kind, identifiers[kind], holder.id))
            continue
        if not match_identifiers:
            continue
        if holder.external_id is None or holder.external_id == external_id:
            chosen, matched_by = holder, kind
            adopt = external_id is not None and holder.external_id is None
        else:
            conflicts.append(IdentifierConflict(kind, identifiers[kind], holder.id))
    if chosen is not None:
        # Identifiers seen before the chosen one was found can still point elsewhere.
        conflicts = [c for c in conflicts if c.holder_id != chosen.id]
    return Resolution(chosen, matched_by, adopt, tuple(conflicts))
