import pytest

from seam.identity.ids import PLACEHOLDER_IDS, InvalidId, check_id


@pytest.mark.parametrize("value", sorted(PLACEHOLDER_IDS))
def test_refuses_every_placeholder(value: str) -> None:
    assert isinstance(check_id(value), InvalidId)


@pytest.mark.parametrize("value", [" NULL ", "Undefined", "[Object Object]", "\tguest\n", "NaN"])
def test_refuses_placeholders_whatever_their_case_and_whitespace(value: str) -> None:
    assert isinstance(check_id(value), InvalidId)


def test_refuses_empty_and_overlong_ids() -> None:
    assert isinstance(check_id("   "), InvalidId)
    assert isinstance(check_id("x" * 256), InvalidId)
    assert check_id("x" * 255) == "x" * 255


def test_refuses_ids_with_nul_characters() -> None:
    assert isinstance(check_id("nul\x00id"), InvalidId)


def test_absent_id_is_none_not_an_error() -> None:
    assert check_id(None) is None


def test_keeps_real_ids_trimmed_and_numbers_as_text() -> None:
    assert check_id("  usr_8f3a ") == "usr_8f3a"
    assert check_id(42) == "42"
    assert check_id(42.0) == "42"
    assert check_id("00") == "00"


def test_refuses_non_scalar_ids() -> None:
    assert isinstance(check_id({"id": 1}), InvalidId)
    assert isinstance(check_id(True), InvalidId)
    assert isinstance(check_id(["a"]), InvalidId)
