"""The rule that keeps a workspace with an admin (`users.takes_the_last_admin`)."""

from __future__ import annotations

import pytest

from seam.store.users import ADMIN, VIEWER, takes_the_last_admin


@pytest.mark.parametrize("change", [VIEWER, None])
def test_demoting_or_removing_the_only_admin_takes_the_last_admin(change: str | None) -> None:
    assert takes_the_last_admin({"a": ADMIN, "v": VIEWER}, "a", change)


@pytest.mark.parametrize("change", [VIEWER, None])
def test_another_admin_left_is_enough(change: str | None) -> None:
    assert not takes_the_last_admin({"a": ADMIN, "b": ADMIN}, "a", change)


def test_keeping_an_admin_an_admin_takes_nothing() -> None:
    assert not takes_the_last_admin({"a": ADMIN}, "a", ADMIN)


@pytest.mark.parametrize("change", [ADMIN, VIEWER, None])
def test_changes_to_viewers_and_newcomers_never_take_the_last_admin(change: str | None) -> None:
    assert not takes_the_last_admin({"a": ADMIN, "v": VIEWER}, "v", change)
    assert not takes_the_last_admin({"a": ADMIN}, "new", change)
    # A workspace that never had an admin (made from the CLI) may get viewers.
    assert not takes_the_last_admin({}, "new", change)
