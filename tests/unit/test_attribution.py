from seam.identity.attribution import (
    Claim,
    DeviceAttribution,
    attribute_event,
    attribute_through_device,
    backfill_via,
)
from seam.identity.trust import Trust

USER = Claim("user_id", "usr_1", Trust.AUTHORITATIVE)
SOFT_USER = Claim("user_id", "usr_1", Trust.SOFT)
COOKIE = Claim("cookie", "usr_2", Trust.SOFT)


def test_user_id_wins_over_cookie_and_visitor() -> None:
    a = attribute_event([USER, COOKIE], visitor_contact_id="c9", verification_required=False)
    assert a.via == "user_id" and a.claim == USER


def test_cookie_wins_over_visitor_binding() -> None:
    a = attribute_event([COOKIE], visitor_contact_id="c9", verification_required=False)
    assert a.via == "cookie" and a.claim == COOKIE


def test_visitor_binding_when_no_claim() -> None:
    a = attribute_event([], visitor_contact_id="c9", verification_required=False)
    assert a.via == "visitor" and a.contact_id == "c9"


def test_anonymous_when_nothing_matches() -> None:
    a = attribute_event([], visitor_contact_id=None, verification_required=False)
    assert a.via is None and a.contact_id is None and a.claim is None


def test_required_verification_ignores_soft_claims_and_reports_them() -> None:
    a = attribute_event([SOFT_USER, COOKIE], visitor_contact_id="c9", verification_required=True)
    assert a.via == "visitor" and a.unverified == (SOFT_USER, COOKIE)


def test_required_verification_accepts_verified_claims() -> None:
    verified = Claim("user_id", "usr_1", Trust.VERIFIED)
    a = attribute_event([verified], visitor_contact_id=None, verification_required=True)
    assert a.claim == verified and not a.unverified


# -- attribution through the device's binding -------------------------------------------------

BOUND_AT = 1_000


def test_an_event_received_before_the_binding_was_back_filled_by_it() -> None:
    decided = attribute_through_device(
        received_at=BOUND_AT - 1, bound_at=BOUND_AT, bound_via="form"
    )
    assert decided == DeviceAttribution("form", BOUND_AT)


def test_an_event_received_in_the_binding_transaction_was_back_filled_by_it() -> None:
    decided = attribute_through_device(
        received_at=BOUND_AT, bound_at=BOUND_AT, bound_via="identify"
    )
    assert decided == DeviceAttribution("identify", BOUND_AT)


def test_an_event_received_after_the_binding_raced_it_and_is_enriched_as_of_its_arrival() -> None:
    decided = attribute_through_device(
        received_at=BOUND_AT + 5, bound_at=BOUND_AT, bound_via="identify"
    )
    assert decided == DeviceAttribution("enrichment", BOUND_AT + 5)


def test_bindings_made_by_an_identity_claim_back_fill_as_identify() -> None:
    assert {backfill_via(v) for v in ("identify", "user_id", "cookie")} == {"identify"}


def test_form_and_admin_bindings_name_themselves() -> None:
    assert (backfill_via("form"), backfill_via("admin")) == ("form", "admin")
