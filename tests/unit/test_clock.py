from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from seam.clock import parse_iso, to_iso

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(st.integers(min_value=-(10**16), max_value=4 * 10**15))
def test_to_iso_is_utc_with_milliseconds_for_any_time(us: int) -> None:
    expected = EPOCH + timedelta(microseconds=us)
    assert (
        to_iso(us)
        == expected.strftime("%Y-%m-%dT%H:%M:%S.") + f"{expected.microsecond // 1000:03d}Z"
    )


@given(st.integers(min_value=0, max_value=4 * 10**15))
def test_to_iso_round_trips_to_the_millisecond(us: int) -> None:
    assert parse_iso(to_iso(us)) == us - us % 1000


def test_no_time_renders_as_none() -> None:
    assert to_iso(None) is None
