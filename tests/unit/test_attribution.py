from seam.identity.attribution import Claim, attribute_event
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
