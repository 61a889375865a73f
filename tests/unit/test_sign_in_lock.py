from seam.store.users import MAX_SIGN_IN_LOCK_SECONDS, sign_in_lock_seconds


def test_five_failures_are_free_then_the_lock_doubles_up_to_fifteen_minutes() -> None:
    assert [sign_in_lock_seconds(n) for n in range(8)] == [0, 0, 0, 0, 0, 1, 2, 4]
    assert sign_in_lock_seconds(14) == 512
    assert sign_in_lock_seconds(15) == sign_in_lock_seconds(10_000) == MAX_SIGN_IN_LOCK_SECONDS
