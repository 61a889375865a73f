"""Normalized forms of the identifiers a contact is looked up by (SPEC §4)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import phonenumbers

IDENTIFIER_KINDS = ("email", "linkedin_url", "phone")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Any profile page counts (`/in/<slug>/details/experience`), from the mobile (`m.`) or a
# country (`uk.`) host too.
_LINKEDIN = re.compile(
    r"^(?:https?://)?(?:(?:www|m|[a-z]{2,3})\.)?(?:www\.)?linkedin\.com/in/([^/?#\s]+)"
    r"(?:/[^?#\s]*)?(?:[?#].*)?$"
)


_SLUG_BREAK = re.compile(r"[/?#\s\x00]")
# An identifier is stored in 320 characters (the longest email); LinkedIn allows 100.
MAX_LINKEDIN_SLUG = 300


def normalize_email(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    email = raw.strip().lower()
    # NUL passes the pattern, but no database text column stores it (PostgreSQL refuses it).
    return email if _EMAIL.match(email) and len(email) <= 320 and "\x00" not in email else None


def normalize_phone(raw: object, default_region: str | None) -> str | None:
    """E.164, using the workspace's region for numbers written without a country code."""
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    try:
        number = phonenumbers.parse(str(raw), default_region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_linkedin(raw: object) -> str | None:
    """`linkedin.com/in/<slug>`: lower-case, no scheme, `www`, query or trailing slash."""
    if not isinstance(raw, str):
        return None
    match = _LINKEDIN.match(raw.strip().lower())
    if not match:
        return None
    # `j%C3%B6rg` and `jörg` are one profile: the slug is kept decoded.
    slug = unquote(match.group(1)).lower()
    if not slug or _SLUG_BREAK.search(slug) or len(slug) > MAX_LINKEDIN_SLUG:
        return None
    return f"linkedin.com/in/{slug}"


def identifiers_from_traits(
    traits: Mapping[str, Any], default_region: str | None
) -> dict[str, str]:
    """The identifiers carried by a set of traits, in the SPEC's lookup order; values that do not
    parse are left out (they stay ordinary traits)."""
    found: dict[str, str] = {}
    email = normalize_email(traits.get("email"))
    if email:
        found["email"] = email
    linkedin = normalize_linkedin(traits.get("linkedin_url") or traits.get("linkedin"))
    if linkedin:
        found["linkedin_url"] = linkedin
    phone = normalize_phone(traits.get("phone"), default_region)
    if phone:
        found["phone"] = phone
    return found
