from seam.identity.binding import BindOutcome, bind_device


def test_free_device_is_bound() -> None:
    assert bind_device(None, "c1") is BindOutcome.BOUND


def test_device_of_the_same_contact_is_a_no_op() -> None:
    assert bind_device("c1", "c1") is BindOutcome.ALREADY_BOUND
    assert BindOutcome.ALREADY_BOUND.visitor_bound


def test_device_of_another_contact_is_refused() -> None:
    outcome = bind_device("c1", "c2")
    assert outcome is BindOutcome.REFUSED and not outcome.visitor_bound
