"""SPEC §4.3 as a property: whatever the arrival order, a trait converges to the observation with
the newest time, ties broken by trust (authoritative > import > soft)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import Workspace, expect, iso, now, uid

TRUST_RANK = {"soft": 0, "import": 1, "authoritative": 2}
BASE = now() - timedelta(days=10)

observations = st.lists(
    st.tuples(st.integers(min_value=0, max_value=3), st.sampled_from(sorted(TRUST_RANK))),
    min_size=1,
    max_size=5,
    unique=True,  # one observation per (time, trust): the winner is always well defined
).flatmap(st.permutations)


def send(ws: Workspace, external_id: str, hour: int, trust: str) -> None:
    at = iso(BASE + timedelta(hours=hour))
    value = f"{trust}@{hour}"
    if trust == "import":
        ws.import_contacts(
            [{"external_id": external_id, "traits": {"plan": value}, "updated_at": at}]
        )
        return
    ws.identify(
        {"userId": external_id, "traits": {"plan": value}, "timestamp": at},
        secret=trust == "authoritative",
    )


def test_trait_converges_to_newest_then_most_trusted_in_any_order(shared_workspace: Workspace):
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(order=observations)
    def run(order: list[tuple[int, str]]) -> None:
        external_id = uid("conv_")
        for hour, trust in order:
            send(shared_workspace, external_id, hour, trust)
        hour, trust = max(order, key=lambda o: (o[0], TRUST_RANK[o[1]]))
        found = expect(shared_workspace.get("/v1/contacts", external_id=external_id))["data"]
        contact = shared_workspace.contact(found[0]["id"])
        assert contact["traits"]["plan"] == f"{trust}@{hour}", order

    run()
