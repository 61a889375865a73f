"""SPEC §6 over HTTP: /v1/collect (origins, CORS, keys, bodies, cookieless, forms) and the
app-JWT session identify. The tracker itself is exercised in Chromium in tests/browser."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from e2e.support import (
    Server,
    Workspace,
    app_token,
    basic,
    expect,
    expect_error,
    start_server,
    stop_server,
    uid,
)

ORIGIN = {"Origin": "https://www.example.com"}


def collect(
    ws: Workspace,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    text_plain: bool = True,
) -> Any:
    hdrs = {
        "Content-Type": "text/plain" if text_plain else "application/json",
        **(ORIGIN if headers is None else headers),
    }
    return ws.http.post("/v1/collect", content=json.dumps(body), headers=hdrs, params=params)


def hs_secret() -> str:
    return uid("jwt-secret-") + "k" * 32


def page(anonymous_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "page",
        "anonymousId": anonymous_id,
        "messageId": uid("m-"),
        "properties": {"path": "/"},
        **extra,
    }


def test_collect_accepts_a_beacon_batch_from_an_allowed_subdomain(workspace: Workspace) -> None:
    anon = uid("v-")
    r = collect(workspace, {"writeKey": workspace.write_key, "batch": [page(anon), page(anon)]})
    body = expect(r)
    assert body["accepted"] == 2
    assert r.headers["access-control-allow-origin"] == "https://www.example.com"
    assert len(workspace.events(anonymous_id=anon)) == 2


def test_collect_accepts_a_single_message_and_the_key_in_the_query(workspace: Workspace) -> None:
    anon = uid("v-")
    r = collect(workspace, page(anon), params={"key": workspace.write_key}, text_plain=False)
    assert expect(r) == {"status": "success"}
    assert len(workspace.events(anonymous_id=anon)) == 1


def test_collect_refuses_a_single_message_over_32kb_with_413(workspace: Workspace) -> None:
    message = page(uid("v-"), properties={"blob": "x" * 33_000})
    r = collect(workspace, message, params={"key": workspace.write_key})
    expect_error(r, 413, "payload_too_large")
    assert r.headers["access-control-allow-origin"] == "https://www.example.com"
    (kept,) = [q for q in workspace.quarantine() if message["messageId"] in q["payload"]]
    assert kept["code"] == "payload_too_large"


def test_collect_refuses_a_single_message_with_a_placeholder_id_with_400(
    workspace: Workspace,
) -> None:
    r = collect(workspace, page("undefined"), params={"key": workspace.write_key})
    expect_error(r, 400, "invalid_id")


def test_collect_refuses_a_foreign_origin_without_cors(workspace: Workspace) -> None:
    r = collect(
        workspace,
        {"writeKey": workspace.write_key, "batch": [page(uid())]},
        headers={"Origin": "https://evil.example.org"},
    )
    expect_error(r, 403, "forbidden_origin")
    assert "access-control-allow-origin" not in r.headers


def test_collect_refuses_a_lookalike_domain(workspace: Workspace) -> None:
    r = collect(
        workspace,
        {"writeKey": workspace.write_key, "batch": [page(uid())]},
        headers={"Origin": "https://notexample.com"},
    )
    expect_error(r, 403, "forbidden_origin")


def test_collect_uses_the_referer_when_there_is_no_origin(workspace: Workspace) -> None:
    r = collect(
        workspace,
        {"writeKey": workspace.write_key, "batch": [page(uid())]},
        headers={"Referer": "https://example.com/pricing?x=1"},
    )
    assert expect(r)["accepted"] == 1


def test_collect_refuses_a_secret_key(workspace: Workspace) -> None:
    r = collect(workspace, {"writeKey": workspace.secret_key, "batch": [page(uid())]})
    expect_error(r, 403)


def test_collect_refuses_a_secret_key_sent_beside_the_write_key(workspace: Workspace) -> None:
    """Any secret key the request carries is refused, whichever key it is served with."""
    anon = uid("v-")
    track = {"type": "track", "anonymousId": anon, "event": "e"}
    sk, wk = workspace.secret_key, workspace.write_key
    for params, body, headers in [
        ({"key": wk}, track, {**ORIGIN, "Authorization": f"Bearer {sk}"}),
        ({"key": wk}, {**track, "writeKey": sk}, ORIGIN),
        (None, {**track, "writeKey": wk}, {**ORIGIN, **basic(sk)}),
        ({"key": sk}, {**track, "writeKey": wk}, ORIGIN),
    ]:
        r = collect(workspace, body, params=params, headers=headers, text_plain=False)
        expect_error(r, 403, "secret_key_in_browser")
    assert workspace.events(anonymous_id=anon) == []
    # A key that is not one of ours beside the write key changes nothing.
    junk = {**ORIGIN, "Authorization": "Bearer sk_not-a-key"}
    expect(collect(workspace, track, params={"key": wk}, headers=junk))


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.com\\.example.com"},
        {"Origin": "https://.example.com"},
        {"Origin": "https://www..example.com"},
        {"Origin": "chrome-extension://example.com"},
        {"Origin": "ftp://example.com"},
        {"Origin": "https://example.com:99999"},
        {"Origin": "https://example.com:0"},
        {"Origin": "https://example.com:x"},
        {"Origin": "https://[example.com"},
        {"Referer": "chrome-extension://example.com/popup.html"},
        {"Referer": "https://.example.com/pricing"},
        {"Referer": "https://example.com:99999/pricing"},
    ],
)
def test_collect_refuses_origins_that_are_not_a_web_page_of_a_domain(
    workspace: Workspace, headers: dict[str, str]
) -> None:
    anon = uid("v-")
    sent = {"writeKey": workspace.write_key, "batch": [page(anon)]}
    r = collect(workspace, sent, headers=headers)
    expect_error(r, 403, "forbidden_origin")
    assert "access-control-allow-origin" not in r.headers
    asked = {**headers, "Access-Control-Request-Method": "POST"}
    preflight = workspace.http.options(
        "/v1/collect", params={"key": workspace.write_key}, headers=asked
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert workspace.events(anonymous_id=anon) == []


def test_collect_accepts_a_subdomain_origin_with_a_port(workspace: Workspace) -> None:
    origin = {"Origin": "http://shop.Example.com:8443"}
    r = collect(
        workspace, {"writeKey": workspace.write_key, "batch": [page(uid())]}, headers=origin
    )
    assert expect(r)["accepted"] == 1
    assert r.headers["access-control-allow-origin"] == "http://shop.Example.com:8443"


def test_a_preflight_naming_a_secret_key_is_not_granted(workspace: Workspace) -> None:
    r = workspace.http.options(
        "/v1/collect",
        params={"key": workspace.secret_key},
        headers={**ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 204
    assert "access-control-allow-origin" not in r.headers


def test_collect_errors_carry_cors_for_an_origin_of_the_keys_workspace(
    workspace: Workspace,
) -> None:
    """The tracker can read why it was refused: a body that is not JSON, a secret key."""
    not_json = workspace.http.post(
        "/v1/collect",
        params={"key": workspace.write_key},
        content=b"{not json",
        headers={"Content-Type": "text/plain", **ORIGIN},
    )
    expect_error(not_json, 400, "invalid_json")
    assert not_json.headers["access-control-allow-origin"] == "https://www.example.com"
    secret = collect(workspace, {"writeKey": workspace.secret_key, "batch": [page(uid())]})
    expect_error(secret, 403, "secret_key_in_browser")
    assert secret.headers["access-control-allow-origin"] == "https://www.example.com"
    # Never for an origin that is not the workspace's, nor without a key that names one.
    foreign = workspace.http.post(
        "/v1/collect",
        params={"key": workspace.write_key},
        content=b"{not json",
        headers={"Content-Type": "text/plain", "Origin": "https://evil.test"},
    )
    expect_error(foreign, 400, "invalid_json")
    assert "access-control-allow-origin" not in foreign.headers
    unknown = collect(workspace, {"writeKey": "wk_unknown", "batch": [page(uid())]})
    expect_error(unknown, 401)
    assert "access-control-allow-origin" not in unknown.headers


def test_a_rate_limited_collect_exposes_retry_after_to_the_page(workspace: Workspace) -> None:
    workspace.update("--rate-limit", "1")
    sent = {"writeKey": workspace.write_key, "batch": [page(uid())]}
    responses = [collect(workspace, sent) for _ in range(10)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, [r.status_code for r in responses]
    expect_error(limited[0], 429, "rate_limited")
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].headers["access-control-allow-origin"] == "https://www.example.com"
    assert "retry-after" in limited[0].headers["access-control-expose-headers"].lower()


def test_collect_without_a_key_is_401(workspace: Workspace) -> None:
    expect_error(collect(workspace, {"batch": [page(uid())]}), 401, "missing_key")


def test_preflight_grants_cors_only_to_the_workspace_origins(workspace: Workspace) -> None:
    ok = workspace.http.options(
        "/v1/collect",
        params={"key": workspace.write_key},
        headers={**ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert ok.headers.get("access-control-allow-origin") == "https://www.example.com"
    bad = workspace.http.options(
        "/v1/collect",
        params={"key": workspace.write_key},
        headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in bad.headers


def test_a_preflight_without_a_key_is_granted_only_to_origins_of_some_workspace(
    workspace: Workspace,
) -> None:
    """Segment's browser SDK preflights with its key in the body, not in the URL: a workspace
    origin is granted, any other is not, and the POST itself is origin-checked."""
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    ours = workspace.http.options("/v1/t", headers={**ORIGIN, **asked})
    assert ours.headers.get("access-control-allow-origin") == "https://www.example.com"
    foreign = workspace.http.options("/v1/t", headers={"Origin": "https://evil.test", **asked})
    assert "access-control-allow-origin" not in foreign.headers
    anon = uid("v-")
    sent = {"writeKey": workspace.write_key, "type": "track", "event": "x", "anonymousId": anon}
    post = collect(workspace, sent, headers={"Origin": "https://evil.test"})
    expect_error(post, 403, "forbidden_origin")
    assert "access-control-allow-origin" not in post.headers
    assert workspace.events(anonymous_id=anon) == []


def test_requests_naming_no_workspace_read_the_workspaces_once_a_key_cache_period(
    server: Server, workspace: Workspace, tmp_path: Any
) -> None:
    """A preflight without a key and a session identify name no workspace, and nobody
    authenticates them: a server caching keys for 30 s reads the workspaces once for them and
    answers from that (a new domain and a new app key count there only after the cache
    period), while the test server, which caches nothing, sees the change at once."""
    asked = {"Origin": "https://late.example.org", "Access-Control-Request-Method": "POST"}
    secret = hs_secret()
    token = app_token({"sub": "usr-late"}, secret, "HS256")
    cached = server.beside(tmp_path / "cached.log")
    start_server(cached, env={"SEAM_KEY_CACHE_SECONDS": "30"})
    try:
        with httpx.Client(base_url=cached.base_url, timeout=10) as client:
            there = dataclasses.replace(workspace, server=cached, http=client)
            before = there.http.options("/v1/t", headers=asked)
            assert "access-control-allow-origin" not in before.headers
            workspace.update("--domain", "example.com", "--domain", "late.example.org")
            workspace.update("--jwt-secret", secret)
            after = there.http.options("/v1/t", headers=asked)
            assert "access-control-allow-origin" not in after.headers
            expect_error(identify_session(there, uid("s-"), token), 401, "invalid_token")
    finally:
        stop_server(cached)
    now = workspace.http.options("/v1/t", headers=asked)
    assert now.headers.get("access-control-allow-origin") == "https://late.example.org"
    expect_error(identify_session(workspace, uid("s-"), token), 404)


def test_collect_keeps_good_messages_of_a_partly_bad_batch(workspace: Workspace) -> None:
    anon = uid("v-")
    r = collect(
        workspace,
        {
            "writeKey": workspace.write_key,
            "batch": [page(anon), {"type": "page", "anonymousId": "undefined"}],
        },
    )
    body = expect(r)
    assert body["accepted"] == 1 and body["rejected"][0]["code"] == "invalid_id"


def test_form_submission_creates_the_contact_by_email_and_binds_the_device(
    workspace: Workspace,
) -> None:
    anon = uid("v-")
    collect(workspace, {"writeKey": workspace.write_key, "batch": [page(anon), page(anon)]})
    form = {"type": "form", "anonymousId": anon, "traits": {"email": " Grace@Example.com"}}
    assert (
        expect(collect(workspace, {"writeKey": workspace.write_key, "batch": [form]}))["accepted"]
        == 1
    )
    found = workspace.contacts(email="grace@example.com")
    assert len(found) == 1
    contact = workspace.contact(found[0]["id"])
    assert contact["identifiers"]["email"] == "grace@example.com"
    assert anon in contact["anonymous_ids"]
    events = workspace.events(contact_id=contact["id"])
    assert [e["type"] for e in events].count("page") == 2
    assert {e["attribution"]["via"] for e in events if e["type"] == "page"} == {"form"}


def test_a_form_never_stores_a_password_even_if_one_is_sent(workspace: Workspace) -> None:
    anon = uid("v-")
    traits = {"email": "ada@example.com", "password": "hunter2", "user_pwd": "x", "plan": "pro"}
    properties = {"form_id": "signup", "password": "hunter3", "client_secret": "s"}
    form = {"type": "form", "anonymousId": anon, "traits": traits, "properties": properties}
    expect(collect(workspace, {"writeKey": workspace.write_key, "batch": [form]}))
    (stored,) = workspace.events(anonymous_id=anon, type="form")
    assert stored["traits"] == {"email": "ada@example.com", "plan": "pro"}
    assert stored["properties"] == {"form_id": "signup"}


def test_form_email_of_another_person_does_not_take_a_bound_device(workspace: Workspace) -> None:
    anon = uid("v-")
    workspace.identify({"userId": uid("usr-"), "anonymousId": anon})
    form = {"type": "form", "anonymousId": anon, "traits": {"email": "someone@example.com"}}
    collect(workspace, {"writeKey": workspace.write_key, "batch": [form]})
    refused = workspace.audit(anonymous_id=anon, action="visitor_bind_refused")
    assert len(refused) == 1


def cookieless_workspace(server: Any, http: Any) -> Workspace:
    raw = server.cli_json(
        "workspace", "create", uid("cl-"), "--domain", "example.com", "--cookieless", "--json"
    )
    return Workspace(
        server=server,
        http=http,
        id=raw["id"],
        name=raw["name"],
        write_key=raw["write_key"],
        secret_key=raw["secret_key"],
        raw=raw,
    )


def fingerprint_of(ws: Workspace, headers: dict[str, str]) -> str:
    """The anonymous id a cookieless page view sent with `headers` was stored under."""
    path = "/" + uid("p-")
    body = {"writeKey": ws.write_key, "batch": [{"type": "page", "properties": {"path": path}}]}
    expect(collect(ws, body, headers={**ORIGIN, **headers}))
    pages = ws.events(type="page", since="2000-01-01T00:00:00Z")
    (stored,) = [e for e in pages if e["properties"].get("path") == path]
    return str(stored["anonymous_id"])


def test_cookieless_workspace_derives_a_fingerprint_and_stitches_on_identify(
    server: Any,
    http: Any,
) -> None:
    ws = cookieless_workspace(server, http)
    ua = {**ORIGIN, "User-Agent": f"agent-{uid()}"}
    for _ in range(3):
        expect(
            collect(
                ws,
                {
                    "writeKey": ws.write_key,
                    "batch": [{"type": "page", "properties": {"path": "/"}}],
                },
                headers=ua,
            )
        )
    identify = {"type": "identify", "userId": "usr-cookieless", "traits": {"plan": "pro"}}
    expect(collect(ws, {"writeKey": ws.write_key, "batch": [identify]}, headers=ua))
    contact = ws.contact_by_external_id("usr-cookieless")
    assert contact is not None and len(contact["anonymous_ids"]) == 1
    assert contact["anonymous_ids"][0].startswith("fp_")
    pages = [e for e in ws.events(contact_id=contact["id"]) if e["type"] == "page"]
    assert len(pages) == 3
    # A different browser (user agent) is a different visitor.
    expect(
        collect(
            ws,
            {"writeKey": ws.write_key, "batch": [{"type": "page"}]},
            headers={**ORIGIN, "User-Agent": "another-agent"},
        )
    )
    assert len(ws.events(contact_id=contact["id"], type="page")) == 3


def test_cookieless_alias_cannot_name_another_visitors_fingerprint(server: Any, http: Any) -> None:
    """The server names a cookieless browser: an alias's previousId is its fingerprint too,
    whatever the page sent, so a page cannot bind another browser's visitor."""
    ws = cookieless_workspace(server, http)
    victim = fingerprint_of(ws, {"User-Agent": f"victim-{uid()}"})
    attacker_agent = {"User-Agent": f"attacker-{uid()}"}
    attacker = fingerprint_of(ws, attacker_agent)
    alias = {"type": "alias", "previousId": victim, "userId": uid("usr-")}
    expect(
        collect(
            ws, {"writeKey": ws.write_key, "batch": [alias]}, headers={**ORIGIN, **attacker_agent}
        )
    )
    assert ws.visitor(victim)["contact_id"] is None
    contact = ws.contact_by_external_id(alias["userId"])
    assert contact is not None and contact["anonymous_ids"] == [attacker]


def test_cookieless_fingerprint_uses_the_address_a_trusted_proxy_forwards(
    server: Any, http: Any
) -> None:
    """The tests connect from 127.0.0.1, the proxy `seam serve` trusts by default: the address
    its X-Forwarded-For names is the client's."""
    ws = cookieless_workspace(server, http)
    agent = {"User-Agent": f"agent-{uid()}"}
    first = fingerprint_of(ws, {**agent, "X-Forwarded-For": "203.0.113.7"})
    assert first.startswith("fp_")
    assert fingerprint_of(ws, {**agent, "X-Forwarded-For": "203.0.113.7"}) == first
    assert fingerprint_of(ws, {**agent, "X-Forwarded-For": "198.51.100.9"}) != first
    assert fingerprint_of(ws, agent) != first  # 127.0.0.1 itself


def test_cookieless_fingerprint_ignores_x_forwarded_for_from_an_untrusted_peer(
    server: Server, http: Any, tmp_path: Any
) -> None:
    """A client that is not a trusted proxy cannot name another address (and so write to the
    fingerprint of another visitor behind it): its own connection's address counts."""
    ws = cookieless_workspace(server, http)
    untrusting = server.beside(tmp_path / "s.log")
    start_server(untrusting, "--forwarded-allow-ips", "10.255.255.1")
    try:
        with httpx.Client(base_url=untrusting.base_url, timeout=10) as client:
            there = dataclasses.replace(ws, server=untrusting, http=client)
            agent = {"User-Agent": f"agent-{uid()}"}
            own = fingerprint_of(there, agent)
            assert fingerprint_of(there, {**agent, "X-Forwarded-For": "203.0.113.7"}) == own
            assert fingerprint_of(there, {**agent, "X-Forwarded-For": "198.51.100.9"}) == own
    finally:
        stop_server(untrusting)
    # The default server trusts 127.0.0.1: the same requests are two other visitors there.
    assert fingerprint_of(ws, {**agent, "X-Forwarded-For": "203.0.113.7"}) != own


# -- verified browser identity -------------------------------------------------------------------


def test_unsigned_browser_identify_is_ignored_and_audited_when_verification_is_required(
    workspace: Workspace,
) -> None:
    workspace.update("--identity-verification", "required")
    anon = uid("v-")
    workspace.send("page", {"anonymousId": anon})
    r = collect(
        workspace,
        {
            "writeKey": workspace.write_key,
            "batch": [{"type": "identify", "userId": "usr-unsigned", "anonymousId": anon}],
        },
    )
    assert expect(r)["accepted"] == 1
    assert workspace.contact_by_external_id("usr-unsigned") is None
    assert workspace.audit(action="identity_unverified")
    assert all(e["contact_id"] is None for e in workspace.events(anonymous_id=anon))


def test_user_hash_makes_a_browser_identify_count_under_required(workspace: Workspace) -> None:
    secret = workspace.update("--identity-verification", "required")["identity_secret"]
    anon = uid("v-")
    workspace.send("page", {"anonymousId": anon})
    digest = hmac.new(secret.encode(), b"usr-signed", hashlib.sha256).hexdigest()
    r = collect(
        workspace,
        {
            "writeKey": workspace.write_key,
            "batch": [
                {
                    "type": "identify",
                    "userId": "usr-signed",
                    "anonymousId": anon,
                    "context": {"user_hash": digest},
                }
            ],
        },
    )
    assert expect(r)["accepted"] == 1
    contact = workspace.contact_by_external_id("usr-signed")
    assert contact is not None and anon in contact["anonymous_ids"]
    bound = workspace.audit(anonymous_id=anon, action="visitor_bound")
    assert bound and bound[0]["trust"] == "verified"


def test_wrong_user_hash_is_refused_under_required(workspace: Workspace) -> None:
    workspace.update("--identity-verification", "required")
    anon = uid("v-")
    r = collect(
        workspace,
        {
            "writeKey": workspace.write_key,
            "batch": [
                {
                    "type": "identify",
                    "userId": "usr-forged",
                    "anonymousId": anon,
                    "context": {"user_hash": "0" * 64},
                }
            ],
        },
    )
    expect(r)
    assert workspace.contact_by_external_id("usr-forged") is None


# -- PATCH /v1/sessions/{id}/identify -----------------------------------------------------------


def session_with_pages(ws: Workspace, n: int = 3) -> tuple[str, str]:
    anon, session = uid("v-"), uid("s-")
    for _ in range(n):
        ws.send("page", {"anonymousId": anon, "context": {"session_id": session}})
    return anon, session


def identify_session(ws: Workspace, session: str, token: str) -> Any:
    return ws.http.patch(
        f"/v1/sessions/{session}/identify", headers={"Authorization": f"Bearer {token}"}
    )


def test_hs256_app_token_identifies_the_session(workspace: Workspace) -> None:
    secret = hs_secret()
    workspace.update("--jwt-secret", secret, "--jwt-issuer", "https://app.example.com")
    anon, session = session_with_pages(workspace)
    token = app_token({"sub": "usr-jwt", "iss": "https://app.example.com"}, secret, "HS256")
    first = expect(identify_session(workspace, session, token))
    assert first["events_linked"] == 3 and first["contact_id"]
    again = expect(identify_session(workspace, session, token))
    assert again == {**first, "events_linked": 0}
    contact = workspace.contact(first["contact_id"])
    assert contact["external_id"] == "usr-jwt" and anon in contact["anonymous_ids"]


def test_a_jwt_secret_shorter_than_32_bytes_is_refused_and_not_stored(
    workspace: Workspace,
) -> None:
    refused = workspace.server.cli(
        "workspace", "update", workspace.id, "--jwt-secret", "short-secret", "--json", check=False
    )
    assert refused.returncode != 0 and "32 bytes" in refused.stderr
    assert workspace.update()["jwt_configured"] is False


def test_expired_token_is_401(workspace: Workspace) -> None:
    secret = hs_secret()
    workspace.update("--jwt-secret", secret)
    _, session = session_with_pages(workspace, 1)
    token = app_token({"sub": "usr-x", "exp": int(time.time()) - 60}, secret, algorithm="HS256")
    expect_error(identify_session(workspace, session, token), 401)


def test_a_token_that_never_expires_is_401(workspace: Workspace) -> None:
    secret = hs_secret()
    workspace.update("--jwt-secret", secret)
    _, session = session_with_pages(workspace, 1)
    forever = jwt.encode({"sub": "usr-x"}, secret, algorithm="HS256")
    expect_error(identify_session(workspace, session, forever), 401, "invalid_token")


def test_workspaces_sharing_an_app_key_each_identify_their_own_sessions(
    make_workspace: Any,
) -> None:
    """An RS256/ES256 key is public and two workspaces may hold the same one: the session
    decides which workspace a token identifies in."""
    secret = hs_secret()
    first, second = make_workspace("example.com"), make_workspace("example.com")
    for ws in (first, second):
        ws.update("--jwt-secret", secret)
    for ws in (first, second):
        anon, session = session_with_pages(ws, 2)
        token = app_token({"sub": uid("usr-")}, secret, algorithm="HS256")
        answer = expect(identify_session(ws, session, token))
        assert answer["events_linked"] == 2
        assert anon in ws.contact(answer["contact_id"])["anonymous_ids"]


def test_a_session_seen_by_two_workspaces_sharing_the_app_key_is_409(
    make_workspace: Any,
) -> None:
    secret = hs_secret()
    first, second = make_workspace("example.com"), make_workspace("example.com")
    session = uid("sess-")
    for ws in (first, second):
        ws.update("--jwt-secret", secret)
        ws.send("page", {"anonymousId": uid("vid_"), "context": {"session_id": session}})
    token = app_token({"sub": uid("usr-")}, secret, algorithm="HS256")
    expect_error(identify_session(first, session, token), 409, "ambiguous_session")
    assert first.contacts() == [] and second.contacts() == []


def test_token_signed_with_the_wrong_key_is_401(workspace: Workspace) -> None:
    workspace.update("--jwt-secret", hs_secret())
    _, session = session_with_pages(workspace, 1)
    token = app_token({"sub": "usr-x"}, hs_secret(), algorithm="HS256")
    expect_error(identify_session(workspace, session, token), 401)


def test_wrong_issuer_or_audience_is_401(workspace: Workspace) -> None:
    secret = hs_secret()
    workspace.update("--jwt-secret", secret, "--jwt-issuer", "good-iss", "--jwt-audience", "seam")
    _, session = session_with_pages(workspace, 1)
    bad_iss = app_token({"sub": "u", "iss": "evil", "aud": "seam"}, secret, algorithm="HS256")
    bad_aud = app_token({"sub": "u", "iss": "good-iss", "aud": "x"}, secret, algorithm="HS256")
    expect_error(identify_session(workspace, session, bad_iss), 401)
    expect_error(identify_session(workspace, session, bad_aud), 401)
    good = app_token({"sub": "u", "iss": "good-iss", "aud": "seam"}, secret, algorithm="HS256")
    expect(identify_session(workspace, session, good))


def test_missing_token_is_401(workspace: Workspace) -> None:
    r = workspace.http.patch("/v1/sessions/whatever/identify")
    expect_error(r, 401)


def test_unknown_session_is_404(workspace: Workspace) -> None:
    secret = hs_secret()
    workspace.update("--jwt-secret", secret)
    token = app_token({"sub": "usr-x"}, secret, algorithm="HS256")
    expect_error(identify_session(workspace, uid("no-such-session-"), token), 404)


def test_session_of_a_device_bound_to_someone_else_is_409_and_leaves_no_trace(
    workspace: Workspace,
) -> None:
    secret = hs_secret()
    workspace.update("--jwt-secret", secret)
    anon, session = session_with_pages(workspace, 1)
    workspace.identify({"userId": "usr-first", "anonymousId": anon})
    token = app_token({"sub": "usr-second"}, secret, algorithm="HS256")
    expect_error(identify_session(workspace, session, token), 409, "visitor_bound_to_other_contact")
    assert workspace.contact_by_external_id("usr-second") is None
    assert len(workspace.audit(action="contact_created")) == 1  # usr-first's only
    assert [e["type"] for e in workspace.events(anonymous_id=anon)] == ["page", "identify"]
    (identify,) = workspace.events(anonymous_id=anon, type="identify")
    assert identify["user_id"] == "usr-first"
    (refusal,) = workspace.audit(anonymous_id=anon, action="visitor_bind_refused")
    first = workspace.contact_by_external_id("usr-first")
    assert first is not None and refusal["other_contact_id"] == first["id"]
    assert refusal["trust"] == "verified"


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_public_key_tokens_identify_the_session(
    workspace: Workspace,
    algorithm: str,
    tmp_path: Any,
) -> None:
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_file = tmp_path / "app.pem"
    key_file.write_bytes(pem)
    workspace.update("--jwt-public-key", str(key_file))
    _, session = session_with_pages(workspace, 2)
    token = app_token({"sub": f"usr-{algorithm}"}, private, algorithm=algorithm)
    assert expect(identify_session(workspace, session, token))["events_linked"] == 2
    other = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    forged = app_token({"sub": "usr-forged"}, other, algorithm=algorithm)
    expect_error(identify_session(workspace, session, forged), 401)


# -- Segment's browser SDK (analytics.js / analytics-next) with `apiHost` set to Seam ----------


def analytics_js(ws: Workspace, letter: str, body: dict[str, Any], **kw: Any) -> Any:
    """What analytics-next sends: text/plain JSON with the write key and its metadata."""
    sent = {
        "messageId": uid("ajs-next-"),
        "writeKey": ws.write_key,
        "sentAt": "2026-12-02T10:00:00.000Z",
        "timestamp": "2026-12-02T10:00:00.000Z",
        "integrations": {},
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
        "context": {
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
            "page": {"path": "/pricing", "url": "https://www.example.com/pricing"},
            "userAgent": "Mozilla/5.0",
            "locale": "en-US",
        },
        **body,
    }
    return ws.http.post(
        f"/v1/{letter}",
        content=json.dumps(sent),
        headers={"Content-Type": "text/plain", **kw.get("headers", ORIGIN)},
    )


def test_analytics_js_pages_then_identify_stitch_the_visitor(workspace: Workspace) -> None:
    anon = uid("ajs-")
    for path in ("/", "/pricing"):
        r = analytics_js(
            workspace, "p", {"type": "page", "anonymousId": anon, "properties": {"path": path}}
        )
        assert expect(r) == {"status": "success"}
        assert r.headers["access-control-allow-origin"] == "https://www.example.com"
    tracked = analytics_js(
        workspace, "t", {"type": "track", "event": "Clicked", "anonymousId": anon}
    )
    assert expect(tracked) == {"status": "success"}
    identified = expect(
        analytics_js(
            workspace,
            "i",
            {
                "type": "identify",
                "userId": "usr-ajs",
                "anonymousId": anon,
                "traits": {"plan": "pro"},
            },
        )
    )
    assert (identified["created"], identified["events_linked"]) == (True, 3)
    timeline = workspace.events(contact_id=identified["contact_id"])
    assert {e["type"] for e in timeline} == {"page", "track", "identify"}
    # A soft claim: the write key's identify is stored with that trust.
    contact = workspace.contact(identified["contact_id"])
    assert contact["traits"]["plan"] == "pro"


def test_analytics_js_batches_go_to_b(workspace: Workspace) -> None:
    anon = uid("ajs-")
    body = {
        "writeKey": workspace.write_key,
        "sentAt": "2026-12-02T10:00:00.000Z",
        "batch": [
            {"type": "page", "anonymousId": anon, "messageId": uid("m-"), "_metadata": {}},
            {"type": "track", "event": "Signed Up", "anonymousId": anon, "messageId": uid("m-")},
        ],
    }
    r = workspace.http.post(
        "/v1/b", content=json.dumps(body), headers={"Content-Type": "text/plain", **ORIGIN}
    )
    assert expect(r)["accepted"] == 2
    assert len(workspace.events(anonymous_id=anon)) == 2


def test_analytics_js_paths_keep_the_browser_rules(workspace: Workspace) -> None:
    message = {"type": "track", "event": "x", "anonymousId": uid("ajs-")}
    foreign = analytics_js(workspace, "t", message, headers={"Origin": "https://evil.test"})
    expect_error(foreign, 403, "forbidden_origin")
    assert "access-control-allow-origin" not in foreign.headers
    secret = analytics_js(workspace, "t", {**message, "writeKey": workspace.secret_key})
    expect_error(secret, 403, "secret_key_in_browser")
    # Each single-message path takes its own type only.
    expect_error(analytics_js(workspace, "t", {**message, "type": "page"}), 400, "invalid_type")


# -- page_leave ---------------------------------------------------------------------------------


def leave(anonymous_id: str, page_message_id: str, duration_ms: int, scroll_depth: int) -> Any:
    return {
        "type": "page_leave",
        "anonymousId": anonymous_id,
        "properties": {
            "page_message_id": page_message_id,
            "duration_ms": duration_ms,
            "scroll_depth": scroll_depth,
        },
    }


def test_a_page_leave_closes_only_a_page_view_of_its_own_visitor(workspace: Workspace) -> None:
    victim, pv = uid("victim-"), uid("victim-pv-")
    expect(collect(workspace, {"writeKey": workspace.write_key, **page(victim, messageId=pv)}))
    attack = {"writeKey": workspace.write_key, **leave(uid("attacker-"), pv, 1111, 11)}
    expect(collect(workspace, attack))
    (viewed,) = workspace.events(anonymous_id=victim, type="page")
    assert (viewed["duration_ms"], viewed["scroll_depth"]) == (None, None)
    own = {"writeKey": workspace.write_key, **leave(victim, pv, 2222, 22)}
    expect(collect(workspace, own))
    (viewed,) = workspace.events(anonymous_id=victim, type="page")
    assert (viewed["duration_ms"], viewed["scroll_depth"]) == (2222, 22)


def test_a_later_page_leave_never_lowers_what_an_earlier_one_set(workspace: Workspace) -> None:
    anon, pv = uid("v-"), uid("pv-")
    session = {"context": {"session_id": uid("s-")}}
    expect(
        collect(workspace, {"writeKey": workspace.write_key, **page(anon, messageId=pv, **session)})
    )
    for duration, scroll in [(5000, 80), (3000, 20), (4000, 90)]:
        expect(
            collect(
                workspace, {"writeKey": workspace.write_key, **leave(anon, pv, duration, scroll)}
            )
        )
    # A next page view of the session does not replace what the page_leave measured.
    expect(collect(workspace, {"writeKey": workspace.write_key, **page(anon, **session)}))
    first = next(
        e for e in workspace.events(anonymous_id=anon, type="page") if e["message_id"] == pv
    )
    assert (first["duration_ms"], first["scroll_depth"]) == (5000, 90)
