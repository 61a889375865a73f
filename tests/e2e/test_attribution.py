"""SPEC §5 Attribution at ingest, the enrichment pass, and §2 identity verification."""

from __future__ import annotations

import hashlib
import hmac
import threading
from typing import Any

import pytest

from .support import ISO_RE, Workspace, eventually, expect, uid


def only_event(ws: Workspace, **filters: Any) -> dict[str, Any]:
    events = ws.events(**filters)
    assert len(events) == 1, events
    return events[0]


def test_event_with_user_id_is_attributed_via_user_id_creating_contact(workspace: Workspace):
    ext = uid("usr_")
    workspace.send("track", {"userId": ext, "event": "Bought"})
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None
    event = only_event(workspace, contact_id=contact["id"])
    assert event["attribution"]["via"] == "user_id"
    assert ISO_RE.match(event["attribution"]["at"])


def test_anonymous_event_of_unknown_visitor_stays_anonymous(workspace: Workspace):
    vid = uid("vid_")
    workspace.send("page", {"anonymousId": vid})
    event = only_event(workspace, anonymous_id=vid)
    assert event["contact_id"] is None
    assert event["attribution"] == {"via": None, "at": None}


def test_events_after_identify_are_attributed_via_visitor(workspace: Workspace):
    vid = uid("vid_")
    contact_id = workspace.identify({"userId": uid("usr_"), "anonymousId": vid})["contact_id"]
    workspace.send("page", {"anonymousId": vid, "messageId": "after-1"})
    workspace.batch(
        [{"type": "track", "anonymousId": vid, "event": "later", "messageId": "after-2"}]
    )
    for mid in ("after-1", "after-2"):
        (event,) = [e for e in workspace.events(anonymous_id=vid) if e["message_id"] == mid]
        assert event["contact_id"] == contact_id
        assert event["attribution"]["via"] == "visitor"


def test_cookie_only_static_site_creates_contact_and_stitches_device(workspace: Workspace):
    vid, cookie = uid("vid_"), uid("cust_")
    workspace.send("page", {"anonymousId": vid, "messageId": "before"})
    workspace.send(
        "page",
        {
            "anonymousId": vid,
            "messageId": "with-cookie",
            "context": {"external_contact_id": cookie},
        },
    )
    contact = workspace.contact_by_external_id(cookie)
    assert contact is not None, "the cookie value did not create a contact"
    assert vid in contact["anonymous_ids"]
    events = {e["message_id"]: e for e in workspace.events(anonymous_id=vid)}
    assert events["with-cookie"]["contact_id"] == contact["id"]
    assert events["with-cookie"]["attribution"]["via"] == "cookie"
    assert events["before"]["contact_id"] == contact["id"]  # back-filled by the binding
    assert workspace.visitor(vid)["contact_id"] == contact["id"]

    workspace.send("page", {"anonymousId": vid, "messageId": "later"})
    later = next(e for e in workspace.events(anonymous_id=vid) if e["message_id"] == "later")
    assert later["contact_id"] == contact["id"]
    assert later["attribution"]["via"] == "visitor"


def test_an_identify_with_only_the_cookie_names_the_cookie_contact(workspace: Workspace):
    """A browser identify before login carries the cookie like any other event: its traits go
    to that contact, and the device is bound and back-filled."""
    vid, cookie = uid("vid_"), uid("cust_")
    workspace.send("page", {"anonymousId": vid})
    answer = workspace.send(
        "identify",
        {"anonymousId": vid, "traits": {"plan": "pro"}, "context": {"external_contact_id": cookie}},
    )
    contact = workspace.contact_by_external_id(cookie)
    assert contact is not None
    assert (answer["contact_id"], answer["visitor_bound"]) == (contact["id"], True)
    assert answer["events_linked"] == 1
    assert contact["traits"]["plan"] == "pro"
    vias = {e["type"]: e["attribution"]["via"] for e in workspace.events(anonymous_id=vid)}
    assert vias == {"page": "identify", "identify": "cookie"}


def test_user_id_beats_cookie(workspace: Workspace):
    ext, cookie = uid("usr_"), uid("cust_")
    workspace.send(
        "track", {"userId": ext, "event": "x", "context": {"external_contact_id": cookie}}
    )
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None
    event = only_event(workspace, contact_id=contact["id"])
    assert event["attribution"]["via"] == "user_id"


def test_cookie_beats_visitor_binding(workspace: Workspace):
    vid, bound_to, cookie = uid("vid_"), uid("usr_"), uid("cust_")
    first = workspace.identify({"userId": bound_to, "anonymousId": vid})
    workspace.send(
        "track",
        {
            "anonymousId": vid,
            "event": "x",
            "messageId": "m1",
            "context": {"external_contact_id": cookie},
        },
    )
    cookie_contact = workspace.contact_by_external_id(cookie)
    assert cookie_contact is not None
    (event,) = [e for e in workspace.events(anonymous_id=vid) if e["message_id"] == "m1"]
    assert event["contact_id"] == cookie_contact["id"]
    assert event["attribution"]["via"] == "cookie"
    # the device stays with its first contact (one device, one contact)
    assert workspace.visitor(vid)["contact_id"] == first["contact_id"]
    assert workspace.audit(anonymous_id=vid, action="visitor_bind_refused")


def test_event_with_identity_and_anonymous_id_binds_and_backfills_visitor(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    for i in range(3):
        workspace.send("page", {"anonymousId": vid, "messageId": f"anon-{i}"})
    workspace.send("track", {"userId": ext, "anonymousId": vid, "event": "Logged In"})
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None
    assert vid in contact["anonymous_ids"]
    events = workspace.events(anonymous_id=vid)
    assert len(events) == 4
    assert {e["contact_id"] for e in events} == {contact["id"]}


def test_events_racing_identify_are_eventually_attributed(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    errors: list[BaseException] = []

    def fire(start: int) -> None:
        try:
            for i in range(start, start + 10):
                workspace.send(
                    "track", {"anonymousId": vid, "event": "race", "messageId": f"race-{i}"}
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fire, args=(n * 10,)) for n in range(3)]
    for thread in threads:
        thread.start()
    contact_id = workspace.identify({"userId": ext, "anonymousId": vid})["contact_id"]
    for thread in threads:
        thread.join()
    assert not errors, errors

    def all_attributed() -> bool:
        events = [e for e in workspace.events(anonymous_id=vid) if e["type"] == "track"]
        assert len(events) == 30
        assert {e["contact_id"] for e in events} == {contact_id}, [
            (e["message_id"], e["contact_id"]) for e in events if e["contact_id"] != contact_id
        ]
        assert {e["attribution"]["via"] for e in events} <= {"identify", "visitor", "enrichment"}
        return True

    eventually(all_attributed, timeout=20)
    timeline = workspace.events(contact_id=contact_id, type="track")
    assert len(timeline) == 30


def test_enrich_command_runs(workspace: Workspace):
    workspace.server.cli("enrich")


# -- identity verification (§2, §5, §6) -----------------------------------------------------------


def identity_secret(settings: dict[str, Any]) -> str:
    if isinstance(settings.get("identity_secret"), str):
        return settings["identity_secret"]
    candidates = [
        v for k, v in settings.items() if isinstance(v, str) and "identity" in k and "secret" in k
    ]
    assert candidates, f"no identity secret in `workspace update --json` output: {settings}"
    return candidates[0]


def user_hash(secret: str, external_id: str) -> str:
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def verified_workspace(workspace: Workspace) -> tuple[Workspace, str]:
    settings = workspace.update("--identity-verification", "required")
    assert settings.get("identity_verification") == "required", settings
    return workspace, identity_secret(settings)


def test_workspace_update_prints_identity_secret(workspace: Workspace):
    settings = workspace.update("--identity-verification", "off")
    assert len(identity_secret(settings)) >= 16


def test_unverified_write_key_identify_is_not_used_for_identity(verified_workspace):
    ws, _ = verified_workspace
    vid, ext = uid("vid_"), uid("usr_")
    ws.send("page", {"anonymousId": vid})
    response = ws.write(
        "/v1/identify", {"userId": ext, "anonymousId": vid, "traits": {"plan": "x"}}
    )
    result = expect(response)
    assert result.get("contact_id") is None
    assert result.get("events_linked", 0) == 0
    assert ws.contacts(external_id=ext) == []
    assert ws.visitor(vid)["contact_id"] is None
    events = ws.events(anonymous_id=vid)
    assert {e["type"] for e in events} == {"page", "identify"}  # still stored, anonymous
    assert {e["contact_id"] for e in events} == {None}
    assert ws.audit(action="identity_unverified"), "the refusal was not audited"


def test_unverified_user_id_and_cookie_are_ignored_for_attribution(verified_workspace):
    ws, _ = verified_workspace
    vid, ext, cookie = uid("vid_"), uid("usr_"), uid("cust_")
    ws.send("track", {"userId": ext, "anonymousId": vid, "event": "a"})
    ws.send("track", {"anonymousId": vid, "event": "b", "context": {"external_contact_id": cookie}})
    events = ws.events(anonymous_id=vid)
    assert len(events) == 2
    assert {e["contact_id"] for e in events} == {None}
    assert ws.contacts(external_id=ext) == []
    assert ws.contacts(external_id=cookie) == []
    assert len(ws.audit(action="identity_unverified")) >= 2


def test_valid_user_hash_is_accepted_as_verified_identity(verified_workspace):
    ws, secret = verified_workspace
    vid, ext = uid("vid_"), uid("usr_")
    ws.send("page", {"anonymousId": vid})
    result = ws.identify(
        {"userId": ext, "anonymousId": vid, "context": {"user_hash": user_hash(secret, ext)}},
        secret=False,
    )
    assert result["contact_id"]
    assert result["created"] is True
    assert result["events_linked"] == 1
    assert result["visitor_bound"] is True
    ws.send(
        "track", {"userId": ext, "event": "x", "context": {"user_hash": user_hash(secret, ext)}}
    )
    tracked = [e for e in ws.events(contact_id=result["contact_id"]) if e["type"] == "track"]
    assert tracked and tracked[0]["attribution"]["via"] == "user_id"


@pytest.mark.parametrize("wrong", ["other", "é" * 64, "\u2603 snowman"])
def test_wrong_user_hash_is_unverified(verified_workspace, wrong: str):
    """Also a hash with non-ASCII characters (once a 500: the constant-time comparison of
    text refuses them)."""
    ws, secret = verified_workspace
    ext = uid("usr_")
    claimed = user_hash(secret, ext + "x") if wrong == "other" else wrong
    result = ws.identify(
        {"userId": ext, "anonymousId": uid("vid_"), "context": {"user_hash": claimed}},
        secret=False,
    )
    assert result.get("contact_id") is None
    assert ws.contacts(external_id=ext) == []
    assert ws.audit(action="identity_unverified")


def test_secret_key_identify_is_authoritative_under_verification(verified_workspace):
    ws, _ = verified_workspace
    ext = uid("usr_")
    result = ws.identify({"userId": ext, "anonymousId": uid("vid_")})
    assert result["created"] is True and result["visitor_bound"] is True


def test_verification_off_accepts_soft_claims(workspace: Workspace):
    ext = uid("usr_")
    result = workspace.identify({"userId": ext, "anonymousId": uid("vid_")}, secret=False)
    assert result["created"] is True
    assert workspace.audit(action="identity_unverified") == []


def test_equal_times_verified_claim_beats_soft_claim(workspace: Workspace):
    secret = identity_secret(workspace.update("--identity-verification", "off"))
    ext = uid("usr_")
    at = "2026-03-01T10:00:00.000Z"
    verified = {
        "userId": ext,
        "traits": {"plan": "verified"},
        "timestamp": at,
        "context": {"user_hash": user_hash(secret, ext)},
    }
    soft = {"userId": ext, "traits": {"plan": "soft"}, "timestamp": at}
    workspace.identify(verified, secret=False)
    workspace.identify(soft, secret=False)
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None
    assert contact["traits"]["plan"] == "verified"


def test_form_email_resolves_an_existing_contact_and_binds_visitor_via_form(workspace: Workspace):
    ext, vid = uid("usr_"), uid("vid_")
    email = f"{ext}@example.com"
    contact_id = workspace.identify({"userId": ext, "traits": {"email": email}})["contact_id"]
    workspace.send("page", {"anonymousId": vid})
    result = workspace.batch(
        [{"type": "form", "anonymousId": vid, "traits": {"email": email.upper()}}]
    )
    assert result["accepted"] == 1, result
    visitor = workspace.visitor(vid)
    assert visitor["contact_id"] == contact_id
    assert visitor["bound_via"] == "form"
    assert len(workspace.contacts(email=email)) == 1
    (page,) = workspace.events(anonymous_id=vid, type="page")
    assert page["contact_id"] == contact_id


def test_user_id_event_on_device_of_someone_else_is_attributed_but_not_rebound(
    workspace: Workspace,
):
    vid = uid("vid_")
    owner = workspace.identify({"userId": uid("owner_"), "anonymousId": vid})["contact_id"]
    guest = uid("guest_")
    workspace.send("track", {"userId": guest, "anonymousId": vid, "event": "x", "messageId": "g"})
    guest_contact = workspace.contact_by_external_id(guest)
    assert guest_contact is not None
    (event,) = [e for e in workspace.events(anonymous_id=vid) if e["message_id"] == "g"]
    assert event["contact_id"] == guest_contact["id"]
    assert event["attribution"]["via"] == "user_id"
    assert workspace.visitor(vid)["contact_id"] == owner
    assert workspace.audit(anonymous_id=vid, action="visitor_bind_refused")


def test_a_cookie_forwarded_with_a_secret_key_is_soft(workspace: Workspace):
    """SPEC §2: the cookie's claim is soft whichever key sends it, so it resolves by external id
    only: a forged cookie value cannot take a contact by its email."""
    email = f"{uid('vip')}@example.com"
    workspace.import_contacts([{"email": email, "traits": {"firstname": "Vi"}}])
    (crm,) = workspace.contacts(email=email)
    vid, cookie = uid("vid_"), uid("forged_")
    workspace.identify(
        {
            "anonymousId": vid,
            "context": {"external_contact_id": cookie},
            "traits": {"email": email},
        }
    )
    forged = workspace.contact_by_external_id(cookie)
    assert forged is not None and forged["id"] != crm["id"]
    assert workspace.contact(crm["id"])["external_id"] is None
    assert [c["id"] for c in workspace.contacts(email=email)] == [crm["id"]]
    (bound,) = workspace.audit(action="visitor_bound", anonymous_id=vid)
    assert bound["contact_id"] == forged["id"]
    assert bound["trust"] == "soft"


def test_a_cookie_forwarded_with_a_secret_key_is_unverified_when_verification_is_required(
    verified_workspace,
):
    ws, _ = verified_workspace
    vid, cookie = uid("vid_"), uid("forged_")
    ws.send(
        "track",
        {"anonymousId": vid, "event": "x", "context": {"external_contact_id": cookie}},
        secret=True,
    )
    assert ws.contact_by_external_id(cookie) is None
    (event,) = ws.events(anonymous_id=vid)
    assert event["contact_id"] is None
    assert ws.audit(action="identity_unverified", anonymous_id=vid)


def test_a_soft_anonymous_identify_adds_no_identifier_when_verification_is_required(
    verified_workspace,
):
    """Its traits still go to the device's contact (SPEC §4), but a soft call is not used for
    identity: its email never becomes a key that finds the contact (a form, an import)."""
    ws, _ = verified_workspace
    vid, ext, email = uid("vid_"), uid("usr_"), f"{uid('x')}@example.com"
    contact_id = ws.identify({"userId": ext, "anonymousId": vid})["contact_id"]
    ws.write("/v1/identify", {"anonymousId": vid, "traits": {"plan": "p", "email": email}})
    contact = ws.contact(contact_id)
    assert contact["traits"]["plan"] == "p"
    assert contact["traits"]["email"] == email
    assert contact["identifiers"]["email"] is None
    assert ws.contacts(email=email) == []
    # Held on a device not yet bound, then bound: the same.
    other, held_email = uid("vid_"), f"{uid('h')}@example.com"
    ws.write("/v1/identify", {"anonymousId": other, "traits": {"email": held_email}})
    later = ws.identify({"userId": uid("usr_"), "anonymousId": other})["contact_id"]
    assert ws.contact(later)["traits"]["email"] == held_email
    assert ws.contact(later)["identifiers"]["email"] is None
