from seam.identity.resolve import ContactRef, resolve_contact

ADA = ContactRef("c-ada", "usr_ada")
ANON = ContactRef("c-anon", None)


def test_an_existing_external_id_decides() -> None:
    r = resolve_contact(
        "usr_ada", by_external_id=ADA, identifiers={}, holders={}, match_identifiers=True
    )
    assert r.contact == ADA and r.matched_by == "external_id" and not r.conflicts


def test_unknown_external_id_without_identifiers_creates() -> None:
    r = resolve_contact(
        "usr_new", by_external_id=None, identifiers={}, holders={}, match_identifiers=True
    )
    assert r.contact is None


def test_authoritative_claim_finds_contact_without_external_id_by_email_and_adopts() -> None:
    r = resolve_contact(
        "usr_new",
        by_external_id=None,
        identifiers={"email": "a@b.co"},
        holders={"email": ANON},
        match_identifiers=True,
    )
    assert r.contact == ANON and r.matched_by == "email" and r.adopt_external_id


def test_soft_claims_never_resolve_by_identifiers() -> None:
    r = resolve_contact(
        "usr_new",
        by_external_id=None,
        identifiers={"email": "a@b.co"},
        holders={"email": ANON},
        match_identifiers=False,
    )
    assert r.contact is None


def test_contact_with_other_external_id_is_never_taken_over() -> None:
    r = resolve_contact(
        "usr_bob",
        by_external_id=None,
        identifiers={"email": "a@b.co"},
        holders={"email": ADA},
        match_identifiers=True,
    )
    assert r.contact is None
    assert [(c.kind, c.holder_id) for c in r.conflicts] == [("email", "c-ada")]


def test_lookup_order_is_email_then_linkedin_then_phone() -> None:
    by_phone = ContactRef("c-phone", None)
    by_linkedin = ContactRef("c-li", None)
    r = resolve_contact(
        "usr_x",
        by_external_id=None,
        identifiers={"phone": "+1415", "linkedin_url": "linkedin.com/in/x"},
        holders={"phone": by_phone, "linkedin_url": by_linkedin},
        match_identifiers=True,
    )
    assert r.contact == by_linkedin and r.matched_by == "linkedin_url"
    assert [c.kind for c in r.conflicts] == ["phone"]


def test_identifier_held_elsewhere_is_a_conflict_for_a_known_contact() -> None:
    r = resolve_contact(
        "usr_ada",
        by_external_id=ADA,
        identifiers={"email": "x@y.z"},
        holders={"email": ContactRef("c-other", None)},
        match_identifiers=True,
    )
    assert r.contact == ADA and [c.holder_id for c in r.conflicts] == ["c-other"]
