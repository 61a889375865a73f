import hashlib
import hmac

from seam.identity.trust import (
    Trust,
    claim_is_usable,
    claim_trust,
    cookie_trust,
    user_hash,
    user_hash_is_valid,
)


def test_secret_key_with_contacts_write_is_authoritative() -> None:
    assert claim_trust(secret_key=True, can_write_contacts=True, verified=False) is (
        Trust.AUTHORITATIVE
    )


def test_secret_key_without_contacts_write_is_only_soft() -> None:
    assert claim_trust(secret_key=True, can_write_contacts=False, verified=False) is Trust.SOFT


def test_write_key_claim_is_verified_only_with_proof() -> None:
    assert claim_trust(secret_key=False, can_write_contacts=False, verified=True) is (
        Trust.VERIFIED
    )
    assert claim_trust(secret_key=False, can_write_contacts=False, verified=False) is Trust.SOFT


def test_the_cookie_is_soft_whichever_key_sent_it_unless_proved() -> None:
    assert cookie_trust(verified=False) is Trust.SOFT
    assert cookie_trust(verified=True) is Trust.VERIFIED


def test_user_hash_is_hex_hmac_sha256_of_the_external_id() -> None:
    expected = hmac.new(b"s3cret", b"usr_1", hashlib.sha256).hexdigest()
    assert user_hash("s3cret", "usr_1") == expected
    assert user_hash_is_valid("s3cret", "usr_1", expected.upper())
    assert not user_hash_is_valid("s3cret", "usr_2", expected)
    assert not user_hash_is_valid("s3cret", "usr_1", None)
    assert not user_hash_is_valid("s3cret", "usr_1", "\u00e9" * 64)  # refused, not a TypeError


def test_soft_claims_are_unusable_only_when_verification_is_required() -> None:
    assert claim_is_usable(Trust.SOFT, verification_required=False)
    assert not claim_is_usable(Trust.SOFT, verification_required=True)
    assert claim_is_usable(Trust.VERIFIED, verification_required=True)


def test_trust_order_matches_the_spec() -> None:
    assert Trust.AUTHORITATIVE > Trust.VERIFIED > Trust.IMPORT > Trust.SOFT
