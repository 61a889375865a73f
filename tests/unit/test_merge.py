from seam.identity.merge import plan_merge
from seam.identity.resolve import ContactRef


def test_contacts_with_different_external_ids_are_never_merged() -> None:
    plan = plan_merge(ContactRef("a", "usr_a"), ContactRef("b", "usr_b"))
    assert not plan.allowed


def test_survivor_takes_the_external_id_it_lacks() -> None:
    plan = plan_merge(ContactRef("a", None), ContactRef("b", "usr_b"))
    assert plan.allowed and plan.external_id == "usr_b"


def test_a_contact_cannot_merge_into_itself() -> None:
    assert not plan_merge(ContactRef("a", None), ContactRef("a", None)).allowed
