import itertools

from seam.identity.traits import TraitValue, merge_trait_maps, merge_traits, observation_wins
from seam.identity.trust import Trust


def tv(value: object, at: int, trust: Trust = Trust.SOFT) -> TraitValue:
    return TraitValue(value, at, trust)


def test_newer_observation_replaces_older() -> None:
    assert observation_wins(tv("pro", 2), tv("free", 1))


def test_older_observation_never_clobbers_newer() -> None:
    assert not observation_wins(tv("free", 1, Trust.AUTHORITATIVE), tv("pro", 2, Trust.SOFT))


def test_equal_times_higher_trust_wins() -> None:
    assert observation_wins(tv("a", 5, Trust.AUTHORITATIVE), tv("b", 5, Trust.VERIFIED))
    assert observation_wins(tv("a", 5, Trust.VERIFIED), tv("b", 5, Trust.IMPORT))
    assert observation_wins(tv("a", 5, Trust.IMPORT), tv("b", 5, Trust.SOFT))
    assert not observation_wins(tv("a", 5, Trust.SOFT), tv("b", 5, Trust.IMPORT))


def test_identical_observation_is_not_a_change() -> None:
    assert not observation_wins(tv("a", 5), tv("a", 5))


def test_merge_returns_only_the_winning_fields() -> None:
    stored = {"plan": tv("pro", 10), "name": tv("Ada", 1)}
    winners = merge_traits(
        stored,
        {"plan": "free", "name": "Ada L.", "city": "London"},
        observed_at=5,
        trust=Trust.SOFT,
    )
    assert set(winners) == {"name", "city"}
    assert winners["name"].value == "Ada L."


def test_any_arrival_order_converges_on_the_same_state() -> None:
    observations = [
        ("plan", "free", 1, Trust.SOFT),
        ("plan", "pro", 3, Trust.SOFT),
        ("plan", "team", 3, Trust.IMPORT),
        ("plan", "zeta", 3, Trust.IMPORT),
        ("plan", "old", 2, Trust.AUTHORITATIVE),
    ]
    finals = set()
    for order in itertools.permutations(observations):
        state: dict[str, TraitValue] = {}
        for key, value, at, trust in order:
            state.update(merge_traits(state, {key: value}, observed_at=at, trust=trust))
        finals.add(state["plan"].value)
    assert finals == {"zeta"}


def test_merge_maps_takes_newer_held_values() -> None:
    contact = {"plan": tv("pro", 10), "name": tv("Ada", 1)}
    held = {"plan": tv("free", 5), "name": tv("Ada Lovelace", 7)}
    assert set(merge_trait_maps(contact, held)) == {"name"}
