"""How much an identity claim is believed (SPEC §2), and whether it may be used."""

from __future__ import annotations

import hashlib
import hmac
from enum import IntEnum

from seam.secrets_compare import same_secret


class Trust(IntEnum):
    """Ordered so a higher value wins a trait tie: authoritative > verified > import > soft."""

    SOFT = 1
    IMPORT = 2
    VERIFIED = 3
    AUTHORITATIVE = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Trust:
        return cls[label.upper()]


def user_hash(identity_secret: str, external_id: str) -> str:
    """The `user_hash` a customer's server computes for a verified browser identity."""
    return hmac.new(identity_secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def user_hash_is_valid(identity_secret: str, external_id: str, claimed: str | None) -> bool:
    if not claimed:
        return False
    return same_secret(claimed.strip().lower(), user_hash(identity_secret, external_id))


def claim_trust(*, secret_key: bool, can_write_contacts: bool, verified: bool) -> Trust:
    """The trust of an identity claim made with a key: a secret key that may write contacts is
    authoritative; anything else is soft unless the browser proved the claim (user_hash, JWT)."""
    if secret_key and can_write_contacts:
        return Trust.AUTHORITATIVE
    if verified:
        return Trust.VERIFIED
    return Trust.SOFT


def cookie_trust(*, verified: bool) -> Trust:
    """The trust of the `seam_external_contact_id` cookie's claim: soft (SPEC §2) whichever key
    sent it. The site sets the cookie and the browser sends it, so a server that forwards it
    with a secret key cannot vouch for it: believed as authoritative, it let a forged cookie
    take a contact by email. Verified only if the browser proved it (user_hash, JWT)."""
    return Trust.VERIFIED if verified else Trust.SOFT


def claim_is_usable(trust: Trust, *, verification_required: bool) -> bool:
    """Under `identity_verification: required` a soft claim is not used for identity at all."""
    return not (verification_required and trust is Trust.SOFT)
