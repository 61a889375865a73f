"""One device, one contact (SPEC §4.4)."""

from __future__ import annotations

from enum import Enum


class BindOutcome(Enum):
    BOUND = "bound"  # the visitor was free (or new) and now belongs to the contact
    ALREADY_BOUND = "already_bound"  # it already belonged to this contact: nothing to do
    REFUSED = "refused"  # it belongs to another contact; only an admin may move it

    @property
    def visitor_bound(self) -> bool:
        return self is not BindOutcome.REFUSED


REFUSED_REASON = "visitor_bound_to_other_contact"


def bind_device(current_contact_id: str | None, contact_id: str) -> BindOutcome:
    """Decide what binding `contact_id` to a visitor currently bound to `current_contact_id` does.

    The store applies BOUND with a conditional update and calls this again with the winner it
    reads back, so two racing identifies can never both bind one device.
    """
    if current_contact_id is None:
        return BindOutcome.BOUND
    if current_contact_id == contact_id:
        return BindOutcome.ALREADY_BOUND
    return BindOutcome.REFUSED
