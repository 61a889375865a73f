"""SPEC §8 operating rules over HTTP: per-key rate limits, CRM imports."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from e2e.support import Workspace, expect, iso, now, parse_iso, uid


def test_a_noisy_key_is_limited_and_does_not_starve_another_workspace(
    workspace: Workspace,
    make_workspace: object,
) -> None:
    workspace.update("--rate-limit", "5")
    quiet = make_workspace()  # type: ignore[operator]
    body = {"anonymousId": uid("v-"), "event": "Burst"}
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: workspace.write("/v1/track", body), range(40)))
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "40 requests at once should exceed 5 requests/s"
    assert all(r.status_code in (200, 429) for r in responses)
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert limited[0].json()["error"]["code"] == "rate_limited"
    expect(quiet.write("/v1/track", {"anonymousId": uid("v-"), "event": "Calm"}))
    accepted = sum(r.status_code == 200 for r in responses)
    stored = workspace.events(anonymous_id=body["anonymousId"])
    assert len(stored) == accepted  # every 200 is stored, no 429 is


def test_an_import_dated_in_the_far_future_is_clamped_and_does_not_pin_its_traits(
    workspace: Workspace,
) -> None:
    ext = uid("crm_")
    workspace.import_contacts(
        [{"external_id": ext, "traits": {"plan": "pinned"}, "updated_at": "2099-01-01T00:00:00Z"}]
    )
    meta = workspace.contact_by_external_id(ext)["trait_meta"]["plan"]
    assert parse_iso(meta["updated_at"]) < now() + timedelta(hours=1)  # clamped to its receipt
    workspace.identify({"userId": ext, "traits": {"plan": "live"}, "timestamp": iso(now())})
    assert workspace.contact_by_external_id(ext)["traits"]["plan"] == "live"


def test_one_bad_import_record_never_fails_the_others(workspace: Workspace) -> None:
    """Values a database column cannot hold are refused per record (PostgreSQL refuses them
    where SQLite would store them), and the other records of the request are stored."""
    good = uid("crm-")
    records = [
        {"external_id": uid("crm-"), "traits": {"k" * 300: 1}},
        {"external_id": uid("crm-"), "traits": {"bad\x00name": 1}},
        {"email": "nul\x00@example.com"},
        {"external_id": uid("crm-"), "traits": {"email": "x\x00@example.com", "plan": "a"}},
        {"external_id": good, "traits": {"plan": "kept"}},
    ]
    body = expect(
        workspace.secret("/v1/contacts/import", {"records": records, "source": "c\x00rm"})
    )
    assert [r["index"] for r in body["rejected"]] == [0, 1, 2]
    assert body["created"] == 2
    contact = workspace.contact_by_external_id(good)
    assert contact is not None and contact["traits"]["plan"] == "kept"
    assert contact["trait_meta"]["plan"]["source"] == "import:crm"
