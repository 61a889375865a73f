"""SPEC §2 Keys, trust and scopes: the 401/403 matrix, key styles, revocation, isolation."""

from __future__ import annotations

import base64
import json

import pytest

from .support import Workspace, basic, bearer, expect, expect_error, uid

TRACK = {"anonymousId": "vid_auth", "event": "x"}


def test_created_keys_have_their_prefixes(workspace: Workspace):
    assert workspace.write_key.startswith("wk_")
    assert workspace.secret_key.startswith("sk_")
    assert set(workspace.raw) >= {"id", "name", "write_key", "secret_key"}


def test_write_key_is_accepted_as_basic_username_and_as_bearer(workspace: Workspace):
    for headers in (basic(workspace.write_key), bearer(workspace.write_key)):
        expect(workspace.http.post("/v1/track", json=TRACK, headers=headers))


def test_secret_key_is_accepted_as_bearer_and_as_basic_username(workspace: Workspace):
    for headers in (bearer(workspace.secret_key), basic(workspace.secret_key)):
        expect(workspace.http.post("/v1/track", json=TRACK, headers=headers))
        expect(workspace.http.get("/v1/events", params={"anonymous_id": "x"}, headers=headers))


def test_write_key_in_batch_body_is_accepted_like_segment_sdks_send_it(workspace: Workspace):
    body = {"batch": [{"type": "track", **TRACK}], "writeKey": workspace.write_key}
    assert expect(workspace.http.post("/v1/batch", json=body))["accepted"] == 1


@pytest.mark.parametrize("path", ["/v1/track", "/v1/identify", "/v1/batch", "/v1/page"])
def test_missing_key_is_401_missing_key(shared_workspace: Workspace, path: str):
    expect_error(shared_workspace.http.post(path, json=TRACK), 401, "missing_key")


@pytest.mark.parametrize(
    "path",
    ["/v1/events?anonymous_id=x", "/v1/contacts?external_id=x", "/v1/audit", "/v1/quarantine"],
)
def test_reading_without_key_is_401(shared_workspace: Workspace, path: str):
    expect_error(shared_workspace.http.get(path), 401, "missing_key")


@pytest.mark.parametrize(
    "headers",
    [
        bearer("sk_not_a_real_key"),
        bearer("wk_not_a_real_key"),
        basic("wk_not_a_real_key"),
        bearer("garbage"),
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:").decode()},
        {"Authorization": "Token sk_whatever"},
    ],
    ids=["sk", "wk", "basic", "garbage", "bad-base64", "non-utf8", "unknown-scheme"],
)
def test_bad_key_is_401(shared_workspace: Workspace, headers: dict[str, str]):
    error = expect_error(shared_workspace.http.post("/v1/track", json=TRACK, headers=headers), 401)
    assert error["code"] in {"invalid_key", "missing_key"}


def test_unknown_key_is_401_invalid_key(shared_workspace: Workspace):
    response = shared_workspace.http.post("/v1/track", json=TRACK, headers=bearer("sk_" + "a" * 32))
    expect_error(response, 401, "invalid_key")


def test_revoked_key_is_refused_immediately(workspace: Workspace):
    key = workspace.create_key("events:write", "events:read")
    assert key["key"].startswith("sk_")
    assert sorted(key["scopes"]) == ["events:read", "events:write"]
    expect(workspace.http.post("/v1/track", json=TRACK, headers=bearer(key["key"])))
    workspace.revoke_key(key["id"])
    expect_error(
        workspace.http.post("/v1/track", json=TRACK, headers=bearer(key["key"])), 401, "invalid_key"
    )
    expect_error(
        workspace.http.get("/v1/events", params={"anonymous_id": "x"}, headers=bearer(key["key"])),
        401,
        "invalid_key",
    )
    # the workspace's other keys still work
    expect(workspace.write("/v1/track", TRACK))


def test_write_key_reading_events_is_403(workspace: Workspace):
    response = workspace.get("/v1/events", key=workspace.write_key, anonymous_id="x")
    expect_error(response, 403, "insufficient_scope")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/contacts?external_id=x", None),
        ("GET", "/v1/audit", None),
        ("GET", "/v1/quarantine", None),
        ("GET", "/v1/visitors/some-visitor", None),
        ("POST", "/v1/contacts/import", {"records": []}),
        ("POST", "/v1/visitors/v/move", {"contact_id": "c"}),
        ("POST", "/v1/contacts/c/merge", {"from_contact_id": "d"}),
        ("DELETE", "/v1/contacts/c", None),
        ("GET", "/v1/contacts/c/export", None),
    ],
)
def test_write_key_cannot_read_contacts_or_administer(workspace: Workspace, method, path, body):
    response = workspace.request(method, path, body, key=workspace.write_key, auth="basic")
    expect_error(response, 403, "insufficient_scope")


def test_key_without_events_write_cannot_ingest(workspace: Workspace):
    key = workspace.create_key("events:read")
    response = workspace.http.post("/v1/track", json=TRACK, headers=bearer(key["key"]))
    expect_error(response, 403, "insufficient_scope")
    batch = {"batch": [{"type": "track", **TRACK}]}
    expect_error(
        workspace.http.post("/v1/batch", json=batch, headers=bearer(key["key"])),
        403,
        "insufficient_scope",
    )


def test_scopes_gate_each_read_and_admin_endpoint(workspace: Workspace):
    events_only = workspace.create_key("events:read")["key"]
    contacts_only = workspace.create_key("contacts:read")["key"]
    expect(workspace.get("/v1/events", key=events_only, anonymous_id="x"))
    expect_error(
        workspace.get("/v1/contacts", key=events_only, external_id="x"), 403, "insufficient_scope"
    )
    expect(workspace.get("/v1/contacts", key=contacts_only, external_id="x"))
    expect_error(
        workspace.get("/v1/events", key=contacts_only, anonymous_id="x"), 403, "insufficient_scope"
    )
    expect_error(workspace.get("/v1/quarantine", key=contacts_only), 403, "insufficient_scope")
    response = workspace.request(
        "POST", "/v1/contacts/import", {"records": []}, key=contacts_only, auth="bearer"
    )
    expect_error(response, 403, "insufficient_scope")


def test_secret_key_without_contacts_write_is_not_authoritative(workspace: Workspace):
    """Trust is authoritative only for a secret key *with* contacts:write (§2)."""
    email = f"{uid('lead')}@example.com"
    workspace.import_contacts(
        [{"email": email, "traits": {}, "updated_at": "2026-01-01T00:00:00.000Z"}]
    )
    (lead,) = workspace.contacts(email=email)
    events_key = workspace.create_key("events:write")["key"]
    response = workspace.http.post(
        "/v1/identify",
        json={"userId": uid("usr_"), "traits": {"email": email}},
        headers=bearer(events_key),
    )
    result = expect(response)
    assert result["contact_id"] != lead["id"]  # resolved by external_id only, like a soft claim


def test_secret_key_on_collect_is_403(workspace: Workspace):
    body = {"type": "page", "anonymousId": uid("vid_"), "writeKey": workspace.secret_key}
    response = workspace.http.post(
        "/v1/collect", content=json.dumps(body), headers={"Origin": "https://example.com"}
    )
    expect_error(response, 403)
    response = workspace.http.post(
        "/v1/collect",
        params={"key": workspace.secret_key},
        json={"type": "page", "anonymousId": uid("vid_")},
        headers={"Origin": "https://example.com"},
    )
    expect_error(response, 403)


def test_keys_never_cross_workspaces(workspace: Workspace, make_workspace):
    other = make_workspace()
    ext, vid = uid("usr_"), uid("vid_")
    contact_id = workspace.identify({"userId": ext, "anonymousId": vid})["contact_id"]
    expect_error(other.get(f"/v1/contacts/{contact_id}"), 404, "not_found")
    expect_error(other.get(f"/v1/visitors/{vid}"), 404, "not_found")
    assert other.contacts(external_id=ext) == []
    assert other.events(anonymous_id=vid) == []
    assert other.events(contact_id=contact_id) == []
    # the same external id in another workspace is another contact
    mine = other.identify({"userId": ext, "anonymousId": vid})
    assert mine["created"] is True
    assert mine["contact_id"] != contact_id
    # ids of the first workspace mean nothing in the second one
    expect_error(other.secret(f"/v1/visitors/{vid}/move", {"contact_id": contact_id}), 404)
    expect_error(
        other.secret(f"/v1/contacts/{mine['contact_id']}/merge", {"from_contact_id": contact_id}),
        404,
    )
    expect_error(other.get(f"/v1/contacts/{contact_id}/export"), 404)
    expect_error(other.secret(f"/v1/contacts/{contact_id}", method="DELETE"), 404)
    assert workspace.contact(contact_id)["external_id"] == ext


SCOPES = ("events:write", "contacts:write", "events:read", "contacts:read", "admin")


def test_every_documented_scope_is_the_one_the_server_enforces(workspace: Workspace):
    """For each route /openapi.json says needs a scope: a key with every other scope is
    refused 403, and a key with just that one gets past authentication."""
    doc = expect(workspace.http.get("/openapi.json"))
    keys = {scope: workspace.create_key(scope)["key"] for scope in SCOPES}
    all_but = {s: workspace.create_key(*(o for o in SCOPES if o != s))["key"] for s in SCOPES}
    checked = 0
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            scope = op.get("x-scope")
            if scope is None or op.get("x-browser"):  # browsers' endpoints: write keys only
                continue
            url = path.replace("{", "").replace("}", "")  # ids that exist nowhere: 404 at most
            send = {"method": method.upper(), "path": url}
            body = {} if method in ("post", "patch") else None
            refused = workspace.request(**send, body=body, key=all_but[scope])
            expect_error(refused, 403, "insufficient_scope")
            allowed = workspace.request(**send, body=body, key=keys[scope])
            assert allowed.status_code not in (401, 403), (path, method, allowed.text)
            checked += 1
    assert checked >= 15
