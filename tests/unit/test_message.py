import pytest

from seam.ingest.message import FUTURE_LIMIT_US, Message, Rejection, correct_timestamp, validate

NOW = 1_800_000_000_000_000


def test_missing_timestamp_means_received_at() -> None:
    assert correct_timestamp(None, None, NOW) == (NOW, ())


def test_skew_is_corrected_by_received_minus_sent() -> None:
    # the device clock is 10 s behind: sent "at" NOW-10s, event 5 s before that
    ts, flags = correct_timestamp(NOW - 15_000_000, NOW - 10_000_000, NOW)
    assert ts == NOW - 5_000_000 and flags == ()


def test_far_future_is_clamped_and_flagged() -> None:
    ts, flags = correct_timestamp(NOW + FUTURE_LIMIT_US + 1, None, NOW)
    assert ts == NOW and flags == ("future_timestamp_clamped",)


def test_corrections_before_1970_are_clamped_and_flagged() -> None:
    ts, flags = correct_timestamp(-62_135_596_800_000_000, NOW + 10**15, NOW)
    assert ts == NOW and flags == ("timestamp_out_of_range_clamped",)


def test_snake_case_aliases_are_accepted() -> None:
    m = validate(
        {
            "type": "track",
            "user_id": "u1",
            "anonymous_id": "a1",
            "message_id": "m1",
            "event": "Signed Up",
        },
        received_at=NOW,
    )
    assert isinstance(m, Message)
    assert (m.user_id, m.anonymous_id, m.message_id) == ("u1", "a1", "m1")


def test_message_without_any_id_is_rejected() -> None:
    r = validate({"type": "page"}, received_at=NOW)
    assert isinstance(r, Rejection) and r.code == "missing_id"


@pytest.mark.parametrize("cookie", ["null", " Undefined ", "x" * 256, {"id": 1}, ""])
def test_a_cookie_that_is_no_id_is_ignored_and_the_message_flagged(cookie: object) -> None:
    m = validate(
        {"type": "page", "anonymousId": "a", "context": {"external_contact_id": cookie}},
        received_at=NOW,
    )
    assert isinstance(m, Message)
    assert m.external_contact_id is None
    assert m.flags == ("invalid_external_contact_id_ignored",)


def test_alias_uses_previous_id_as_the_anonymous_id() -> None:
    m = validate({"previousId": "anon-9", "userId": "u9"}, received_at=NOW, default_type="alias")
    assert isinstance(m, Message) and m.anonymous_id == "anon-9"


def test_page_leave_measurements_are_clamped() -> None:
    m = validate(
        {
            "type": "page_leave",
            "anonymousId": "a",
            "properties": {"page_message_id": "p1", "duration_ms": 99_999_999, "scroll_depth": -4},
        },
        received_at=NOW,
    )
    assert isinstance(m, Message)
    assert (m.duration_ms, m.scroll_depth, m.page_message_id) == (3_600_000, 0, "p1")


def test_wrong_types_are_rejected_not_crashing() -> None:
    for raw in (
        [],
        "x",
        {"type": "track", "anonymousId": "a", "event": {"x": 1}},
        {"type": "track", "anonymousId": "a", "event": "e", "properties": [1]},
        {"type": "nope", "anonymousId": "a"},
        {"type": "page", "anonymousId": "a", "timestamp": "yesterday"},
    ):
        assert isinstance(validate(raw, received_at=NOW), Rejection), raw
