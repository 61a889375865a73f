"""SPEC §9 Command line, checked through the HTTP API of the running server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import Workspace, ago, app_token, bearer, expect, expect_error, iso, parse_iso, uid


def test_workspace_create_prints_id_name_and_both_keys(workspace: Workspace):
    assert workspace.raw["name"] == workspace.name
    assert workspace.write_key.startswith("wk_") and workspace.secret_key.startswith("sk_")
    assert workspace.write_key != workspace.secret_key


def test_key_create_defaults_to_all_scopes_of_a_secret_key(workspace: Workspace):
    key = workspace.server.cli_json("key", "create", "--workspace", workspace.id, "--json")
    assert set(key) >= {"id", "key", "scopes"}
    assert key["key"].startswith("sk_")
    assert set(key["scopes"]) == {
        "events:write",
        "contacts:write",
        "events:read",
        "contacts:read",
        "admin",
    }
    expect(workspace.http.get("/v1/quarantine", headers=bearer(key["key"])))


def test_key_create_write_key_is_public_and_write_only(workspace: Workspace):
    key = workspace.server.cli_json(
        "key", "create", "--workspace", workspace.id, "--write-key", "--json"
    )
    assert key["key"].startswith("wk_")
    assert key["scopes"] == ["events:write"]
    response = workspace.http.get(
        "/v1/events", params={"anonymous_id": "x"}, headers=bearer(key["key"])
    )
    expect_error(response, 403, "insufficient_scope")


def test_revoking_one_key_leaves_the_others_working(workspace: Workspace):
    first = workspace.create_key("events:write")
    second = workspace.create_key("events:write")
    workspace.revoke_key(first["id"])
    body = {"anonymousId": uid("vid_"), "event": "x"}
    expect_error(workspace.http.post("/v1/track", json=body, headers=bearer(first["key"])), 401)
    expect(workspace.http.post("/v1/track", json=body, headers=bearer(second["key"])))


def test_default_region_normalizes_national_phone_numbers(workspace: Workspace):
    workspace.update("--default-region", "FR")
    result = workspace.identify({"userId": uid("u_"), "traits": {"phone": "06 12 34 56 78"}})
    assert workspace.contact(result["contact_id"])["identifiers"]["phone"] == "+33612345678"


def test_enrich_command_attributes_and_exits_cleanly(workspace: Workspace):
    done = workspace.server.cli("enrich")
    assert done.returncode == 0


def test_import_jsonl_upserts_contacts_with_source(workspace: Workspace, tmp_path: Path):
    ext, email = uid("crm_"), f"{uid('crm')}@example.com"
    at = ago(days=2)
    records = [
        {"external_id": ext, "traits": {"plan": "gold"}, "updated_at": iso(at)},
        {"email": email, "traits": {"firstname": "Jo"}, "updated_at": iso(at)},
    ]
    path = tmp_path / "contacts.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    workspace.server.cli("import", str(path), "--workspace", workspace.id, "--source", "hubspot")
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None
    assert contact["traits"]["plan"] == "gold"
    assert "hubspot" in contact["trait_meta"]["plan"]["source"]
    assert parse_iso(contact["trait_meta"]["plan"]["updated_at"]) == parse_iso(iso(at))
    (by_email,) = workspace.contacts(email=email)
    assert workspace.contact(by_email["id"])["traits"]["firstname"] == "Jo"


def test_import_csv_upserts_contacts(workspace: Workspace, tmp_path: Path):
    ext, email = uid("csv_"), f"{uid('csv')}@example.com"
    path = tmp_path / "contacts.csv"
    path.write_text(f"external_id,email,updated_at,plan\n{ext},{email},{iso(ago(days=1))},silver\n")
    workspace.server.cli("import", str(path), "--workspace", workspace.id, "--source", "csv")
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None
    assert contact["identifiers"]["email"] == email
    assert contact["traits"]["plan"] == "silver"


def test_import_respects_newer_live_data(workspace: Workspace, tmp_path: Path):
    ext = uid("crm_")
    workspace.identify({"userId": ext, "traits": {"plan": "live"}, "timestamp": iso(ago(hours=1))})
    path = tmp_path / "old.jsonl"
    record = {"external_id": ext, "traits": {"plan": "stale"}, "updated_at": iso(ago(days=9))}
    path.write_text(json.dumps(record) + "\n")
    workspace.server.cli("import", str(path), "--workspace", workspace.id, "--source", "crm")
    assert workspace.contact_by_external_id(ext)["traits"]["plan"] == "live"


def test_import_refuses_unreadable_jsonl_lines_one_by_one(workspace: Workspace, tmp_path: Path):
    first, last = uid("crm_"), uid("crm_")
    path = tmp_path / "contacts.jsonl"
    path.write_text(
        json.dumps({"external_id": first, "traits": {"plan": "gold"}})
        + "\n\nnot json\n[1, 2]\n"
        + json.dumps({"external_id": last, "traits": {"plan": "silver"}})
        + "\n"
    )
    done = workspace.server.cli("import", str(path), "--workspace", workspace.id)
    assert "record 2: line 3 is not JSON" in done.stdout
    assert "record 3: a record must be an object" in done.stdout
    assert "created 2, updated 0, rejected 2" in done.stdout
    assert workspace.contact_by_external_id(first)["traits"]["plan"] == "gold"
    assert workspace.contact_by_external_id(last)["traits"]["plan"] == "silver"


def test_import_refuses_a_file_of_unknown_format(workspace: Workspace, tmp_path: Path):
    path = tmp_path / "contacts.txt"
    path.write_text(f"external_id\n{uid('crm_')}\n")
    done = workspace.server.cli("import", str(path), "--workspace", workspace.id, check=False)
    assert done.returncode == 2
    assert ".csv, .jsonl or .ndjson" in done.stderr


def test_workspace_rate_limit_must_be_positive(workspace: Workspace):
    for limit in ("0", "-5"):
        done = workspace.server.cli(
            "workspace", "update", workspace.id, "--rate-limit", limit, check=False
        )
        assert done.returncode == 2 and "--rate-limit" in done.stderr
    assert workspace.update("--rate-limit", "7")["rate_limit"] == 7


@pytest.mark.parametrize(
    "args",
    [
        ("--rate-limit", "99999999999"),
        ("--domain", "com"),
        ("--domain", "*"),
        ("--domain", "http://example.com/path"),
        ("--domain", "x" * 300 + ".com"),
        ("--default-region", "TOOLONGREGION"),
        ("--default-region", "XX"),
        ("--jwt-issuer", "i" * 600),
    ],
)
def test_workspace_update_refuses_what_cannot_be_stored_or_used(workspace: Workspace, args):
    """Each is a usage error naming its option (PostgreSQL would refuse the longer values;
    a bare top-level domain would admit every site under it); nothing changes."""
    before = workspace.update()
    done = workspace.server.cli("workspace", "update", workspace.id, *args, check=False)
    assert done.returncode == 2, done.stderr
    assert args[0] in done.stderr and "Traceback" not in done.stderr
    assert workspace.update() == before


def test_workspace_create_refuses_an_overlong_name_or_a_bad_domain(workspace: Workspace):
    for args in (("x" * 201,), ("ok", "--domain", "com")):
        done = workspace.server.cli("workspace", "create", *args, "--json", check=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr


def test_a_public_key_that_does_not_load_is_refused_and_the_secret_kept(
    workspace: Workspace, tmp_path
):
    secret = "s" * 40
    workspace.update("--jwt-secret", secret)
    garbage = tmp_path / "bad.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n")
    done = workspace.server.cli(
        "workspace", "update", workspace.id, "--jwt-public-key", str(garbage), check=False
    )
    assert done.returncode == 2 and "--jwt-public-key" in done.stderr, done.stderr
    # The HS256 secret still verifies the app's tokens.
    session = uid("sess-")
    workspace.send("page", {"anonymousId": uid("vid_"), "context": {"session_id": session}})
    token = app_token({"sub": uid("usr-")}, secret, algorithm="HS256")
    answer = workspace.http.patch(
        f"/v1/sessions/{session}/identify", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
