from seam.identity.normalize import (
    identifiers_from_traits,
    normalize_email,
    normalize_linkedin,
    normalize_phone,
)


def test_email_is_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"


def test_unparseable_email_is_not_an_identifier() -> None:
    assert normalize_email("not an email") is None
    assert normalize_email(12) is None


def test_phone_becomes_e164_with_the_workspace_region() -> None:
    assert normalize_phone("(415) 555-2671", "US") == "+14155552671"
    assert normalize_phone("+44 20 7946 0958", None) == "+442079460958"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"


def test_phone_without_country_and_without_region_does_not_parse() -> None:
    assert normalize_phone("415 555 2671", None) is None
    assert normalize_phone("12", "US") is None


def test_linkedin_is_reduced_to_the_profile_slug() -> None:
    expected = "linkedin.com/in/ada-lovelace"
    for raw in (
        "https://www.linkedin.com/in/Ada-Lovelace/",
        "http://linkedin.com/in/ada-lovelace?trk=abc",
        "www.linkedin.com/in/ada-lovelace",
        "linkedin.com/in/ada-lovelace",
        "https://uk.linkedin.com/in/ada-lovelace/",
        "https://m.linkedin.com/in/ada-lovelace/",
        "https://www.linkedin.com/in/ada-lovelace/details/experience/",
        "https://www.linkedin.com/in/ada-lovelace/?originalSubdomain=uk",
    ):
        assert normalize_linkedin(raw) == expected, raw


def test_a_percent_encoded_linkedin_slug_is_the_same_profile() -> None:
    assert normalize_linkedin("https://www.linkedin.com/in/j%C3%B6rg") == "linkedin.com/in/jörg"
    assert normalize_linkedin("linkedin.com/in/JÖRG/") == "linkedin.com/in/jörg"
    assert normalize_linkedin("linkedin.com/in/a%2Fb") is None


def test_non_profile_linkedin_urls_are_not_identifiers() -> None:
    assert normalize_linkedin("https://www.linkedin.com/company/acme") is None
    assert normalize_linkedin("https://example.com/in/ada") is None


def test_identifiers_from_traits_keep_only_what_parses() -> None:
    found = identifiers_from_traits(
        {"email": "A@B.co", "phone": "garbage", "linkedin_url": "linkedin.com/in/x/"}, "US"
    )
    assert found == {"email": "a@b.co", "linkedin_url": "linkedin.com/in/x"}


def test_a_value_with_a_nul_character_is_no_identifier() -> None:
    """No database text column stores NUL (PostgreSQL refuses it): such a value stays a trait."""
    assert normalize_email("ada\x00@example.com") is None
    assert normalize_linkedin("linkedin.com/in/ada%00") is None
    assert normalize_linkedin("linkedin.com/in/ada\x00x") is None
    assert normalize_phone("+1 415 555 2671\x00", None) in (None, "+14155552671")
