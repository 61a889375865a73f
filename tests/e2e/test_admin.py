"""SPEC §8 Operating: contact import, admin move/merge/erase/export, quarantine reads."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from .support import Workspace, ago, expect, expect_error, iso, parse_iso, uid

# -- import ---------------------------------------------------------------------------------------


def test_import_upserts_contacts_with_import_trust(workspace: Workspace):
    ext, email = uid("crm_"), f"{uid('crm')}@example.com"
    at = ago(days=1)
    workspace.import_contacts(
        [
            {"external_id": ext, "traits": {"plan": "gold"}, "updated_at": iso(at)},
            {"email": email.upper(), "traits": {"firstname": "Lee"}, "updated_at": iso(at)},
        ]
    )
    by_ext = workspace.contact_by_external_id(ext)
    assert by_ext is not None
    assert by_ext["traits"]["plan"] == "gold"
    assert parse_iso(by_ext["trait_meta"]["plan"]["updated_at"]) == parse_iso(iso(at))
    assert by_ext["trait_meta"]["plan"]["source"]
    (by_email,) = workspace.contacts(email=email.lower())
    assert workspace.contact(by_email["id"])["traits"]["firstname"] == "Lee"


def test_import_respects_updated_at_ordering(workspace: Workspace):
    ext = uid("crm_")
    workspace.identify({"userId": ext, "traits": {"plan": "live"}, "timestamp": iso(ago(hours=1))})
    workspace.import_contacts(
        [
            {
                "external_id": ext,
                "traits": {"plan": "stale", "region": "EU"},
                "updated_at": iso(ago(days=3)),
            }
        ]
    )
    contact = workspace.contact_by_external_id(ext)
    assert contact["traits"]["plan"] == "live"  # an older CRM record never clobbers newer data
    assert contact["traits"]["region"] == "EU"
    workspace.import_contacts(
        [{"external_id": ext, "traits": {"plan": "crm-new"}, "updated_at": iso(ago(minutes=1))}]
    )
    assert workspace.contact_by_external_id(ext)["traits"]["plan"] == "crm-new"


def test_import_records_in_one_call_apply_by_updated_at_not_position(workspace: Workspace):
    ext = uid("crm_")
    workspace.import_contacts(
        [
            {"external_id": ext, "traits": {"stage": "customer"}, "updated_at": iso(ago(hours=1))},
            {"external_id": ext, "traits": {"stage": "lead"}, "updated_at": iso(ago(days=30))},
        ]
    )
    assert workspace.contact_by_external_id(ext)["traits"]["stage"] == "customer"


def test_import_makes_email_phone_linkedin_identifiers(workspace: Workspace):
    email, slug = f"{uid('id')}@example.com", uid("li-")
    workspace.import_contacts(
        [
            {
                "email": email,
                "traits": {
                    "phone": "+1 415 555 2671",
                    "linkedin_url": f"https://linkedin.com/in/{slug}/",
                },
                "updated_at": iso(ago(days=1)),
            }
        ]
    )
    (summary,) = workspace.contacts(email=email)
    identifiers = workspace.contact(summary["id"])["identifiers"]
    assert identifiers == {
        "email": email,
        "phone": "+14155552671",
        "linkedin_url": f"linkedin.com/in/{slug}",
    }


def test_import_reports_bad_records_without_dropping_good_ones(workspace: Workspace):
    ext = uid("crm_")
    response = workspace.secret(
        "/v1/contacts/import",
        {
            "records": [
                {"external_id": ext, "traits": {"a": 1}, "updated_at": iso(ago(days=1))},
                {"external_id": "undefined", "traits": {}, "updated_at": iso(ago(days=1))},
                "not a record",
            ]
        },
    )
    if response.status_code == 400:
        expect_error(response, 400)
        return
    body = expect(response)
    assert len(body.get("rejected", [])) == 2, body
    assert workspace.contact_by_external_id(ext) is not None
    assert workspace.contacts(external_id="undefined") == []


# -- move, merge ----------------------------------------------------------------------------------


def test_admin_moves_visitor_to_another_contact(workspace: Workspace):
    vid = uid("vid_")
    workspace.send("page", {"anonymousId": vid})
    first = workspace.identify({"userId": uid("a_"), "anonymousId": vid})["contact_id"]
    second = workspace.identify({"userId": uid("b_")})["contact_id"]
    expect(workspace.secret(f"/v1/visitors/{vid}/move", {"contact_id": second}))
    visitor = workspace.visitor(vid)
    assert visitor["contact_id"] == second
    assert visitor["bound_via"] == "admin"
    assert vid in workspace.contact(second)["anonymous_ids"]
    assert vid not in workspace.contact(first)["anonymous_ids"]
    assert workspace.audit(anonymous_id=vid, action="visitor_moved")
    later = workspace.send("track", {"anonymousId": vid, "event": "after move"})
    assert later["status"] == "success"
    tracked = workspace.events(anonymous_id=vid, type="track")
    assert tracked[0]["contact_id"] == second


def test_move_to_unknown_contact_is_404(workspace: Workspace):
    vid = uid("vid_")
    workspace.send("page", {"anonymousId": vid})
    expect_error(workspace.secret(f"/v1/visitors/{vid}/move", {"contact_id": "nope"}), 404)
    contact_id = workspace.identify({"userId": uid("u_")})["contact_id"]
    expect_error(
        workspace.secret(f"/v1/visitors/{uid('ghost_')}/move", {"contact_id": contact_id}), 404
    )
    expect_error(workspace.secret(f"/v1/visitors/{vid}/move", {}), 400)


def test_moving_a_visitor_twice_moves_and_audits_once(workspace: Workspace):
    vid = uid("vid_")
    workspace.send("page", {"anonymousId": vid})
    contact_id = workspace.identify({"userId": uid("u_")})["contact_id"]
    first = expect(workspace.secret(f"/v1/visitors/{vid}/move", {"contact_id": contact_id}))
    again = expect(workspace.secret(f"/v1/visitors/{vid}/move", {"contact_id": contact_id}))
    assert (first["events_moved"], again["events_moved"]) == (1, 0)
    assert again["previous_contact_id"] == contact_id
    assert len(workspace.audit(anonymous_id=vid, action="visitor_moved")) == 1


def test_a_visitor_whose_anonymous_id_holds_a_slash_can_be_read_and_moved(workspace: Workspace):
    vid = uid("tenant/") + "/device"
    workspace.send("page", {"anonymousId": vid})
    assert workspace.visitor(vid.replace("/", "%2F"))["anonymous_id"] == vid
    contact_id = workspace.identify({"userId": uid("u_")})["contact_id"]
    path = f"/v1/visitors/{vid.replace('/', '%2F')}/move"
    assert expect(workspace.secret(path, {"contact_id": contact_id}))["events_moved"] == 1
    assert workspace.visitor(vid)["contact_id"] == contact_id


def test_admin_merges_duplicate_lead_into_identified_contact(workspace: Workspace):
    v1, v2 = uid("vid_"), uid("vid_")
    keep = workspace.identify(
        {
            "userId": uid("keep_"),
            "anonymousId": v1,
            "traits": {"plan": "pro"},
            "timestamp": iso(ago(hours=1)),
        }
    )["contact_id"]
    lead_email = f"{uid('dup')}@example.com"
    workspace.send("page", {"anonymousId": v2, "messageId": "lead-page"})
    result = workspace.batch([{"type": "form", "anonymousId": v2, "traits": {"email": lead_email}}])
    assert result["accepted"] == 1, result
    workspace.import_contacts(
        [
            {
                "email": lead_email,
                "traits": {"plan": "old", "city": "Oslo"},
                "updated_at": iso(ago(hours=5)),
            }
        ]
    )
    (lead,) = workspace.contacts(email=lead_email)
    assert lead["id"] != keep and lead["external_id"] is None
    assert workspace.visitor(v2)["contact_id"] == lead["id"]

    done = expect(workspace.secret(f"/v1/contacts/{keep}/merge", {"from_contact_id": lead["id"]}))
    # the page the form's binding back-filled and the form itself
    assert done["events_moved"] == 2, done
    merged = workspace.contact(keep)
    assert set(merged["anonymous_ids"]) == {v1, v2}
    assert merged["traits"]["plan"] == "pro"  # the newer value is kept
    assert merged["traits"]["city"] == "Oslo"
    assert merged["identifiers"]["email"] == lead_email
    expect_error(workspace.get(f"/v1/contacts/{lead['id']}"), 404)
    assert [c["id"] for c in workspace.contacts(email=lead_email)] == [keep]
    assert {e["contact_id"] for e in workspace.events(anonymous_id=v2)} == {keep}
    (page,) = [e for e in workspace.events(contact_id=keep) if e["message_id"] == "lead-page"]
    assert page["attribution"]["via"] == "form"
    assert workspace.audit(action="contacts_merged")[0]["details"]["events_moved"] == 2


def test_a_merge_gives_the_survivor_the_companies_of_both_once(workspace: Workspace):
    shared, own, theirs = uid("shared_"), uid("own_"), uid("theirs_")
    keep_ext, vid = uid("keep_"), uid("vid_")
    keep = workspace.identify({"userId": keep_ext})["contact_id"]
    for company in (shared, own):
        workspace.send("group", {"userId": keep_ext, "groupId": company})
    # A lead: a form filled in by a visitor who, while anonymous, joined two companies.
    for company in (shared, theirs):
        workspace.send("group", {"anonymousId": vid, "groupId": company})
    email = f"{uid('lead')}@example.com"
    workspace.batch([{"type": "form", "anonymousId": vid, "traits": {"email": email}}])
    (lead,) = workspace.contacts(email=email)
    assert sorted(workspace.contact(lead["id"])["groups"]) == sorted([shared, theirs])

    expect(workspace.secret(f"/v1/contacts/{keep}/merge", {"from_contact_id": lead["id"]}))
    assert sorted(workspace.contact(keep)["groups"]) == sorted([shared, own, theirs])


def test_a_merge_keeps_every_email_of_both_contacts(workspace: Workspace):
    """The merged-away contact's email joins the survivor: looking it up finds the survivor,
    and the next form with it is not a new person."""
    own_email, lead_email = f"{uid('own')}@example.com", f"{uid('lead')}@example.com"
    keep = workspace.identify(
        {"userId": uid("keep_"), "traits": {"email": own_email}, "timestamp": iso(ago(hours=2))}
    )["contact_id"]
    workspace.batch([{"type": "form", "anonymousId": uid("vid_"), "traits": {"email": lead_email}}])
    (lead,) = workspace.contacts(email=lead_email)
    expect(workspace.secret(f"/v1/contacts/{keep}/merge", {"from_contact_id": lead["id"]}))

    merged = workspace.contact(keep)
    assert merged["traits"]["email"] == lead_email  # the later observation
    assert merged["identifiers"]["email"] == lead_email  # shown as the trait says
    for email in (own_email, lead_email):
        assert [c["id"] for c in workspace.contacts(email=email)] == [keep]
    again = workspace.batch(
        [{"type": "form", "anonymousId": uid("vid_"), "traits": {"email": lead_email}}]
    )
    assert again["accepted"] == 1
    assert [c["id"] for c in workspace.contacts(email=lead_email)] == [keep]


def test_opposite_merges_at_once_keep_one_contact(workspace: Workspace):
    """A into B and B into A, sent together (on PostgreSQL, two transactions at once): one
    wins, the other finds its contact gone; never both deleted."""
    for _ in range(3):
        ids = []
        for _ in range(2):
            email = f"{uid('m')}@example.com"
            workspace.batch(
                [{"type": "form", "anonymousId": uid("vid_"), "traits": {"email": email}}]
            )
            ids.append(workspace.contacts(email=email)[0]["id"])
        a, b = ids
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda pair: workspace.secret(
                        f"/v1/contacts/{pair[0]}/merge", {"from_contact_id": pair[1]}
                    ),
                    [(a, b), (b, a)],
                )
            )
        assert sorted(r.status_code for r in answers) == [200, 404], [r.text for r in answers]
        survivor = a if answers[0].status_code == 200 else b
        assert workspace.contact(survivor)["id"] == survivor
        assert len(workspace.contact(survivor)["anonymous_ids"]) == 2


def test_merging_two_contacts_with_different_external_ids_is_a_conflict(workspace: Workspace):
    a = workspace.identify({"userId": uid("a_")})["contact_id"]
    b = workspace.identify({"userId": uid("b_")})["contact_id"]
    expect_error(workspace.secret(f"/v1/contacts/{a}/merge", {"from_contact_id": b}), 409)
    assert workspace.contact(b)["id"] == b


def test_merge_into_itself_or_unknown_is_refused(workspace: Workspace):
    contact_id = workspace.identify({"userId": uid("u_")})["contact_id"]
    response = workspace.secret(f"/v1/contacts/{contact_id}/merge", {"from_contact_id": contact_id})
    assert response.status_code in (400, 409)
    expect_error(response, response.status_code)
    expect_error(
        workspace.secret(f"/v1/contacts/{contact_id}/merge", {"from_contact_id": "nope"}), 404
    )


# -- erase, export --------------------------------------------------------------------------------


def test_erasure_removes_contact_events_and_keeps_tombstone_without_personal_data(
    workspace: Workspace,
):
    vid, ext = uid("vid_"), uid("usr_")
    email = f"{ext}@example.com"
    workspace.send("page", {"anonymousId": vid})
    contact_id = workspace.identify(
        {"userId": ext, "anonymousId": vid, "traits": {"email": email, "firstname": "Erin"}}
    )["contact_id"]
    workspace.send("track", {"userId": ext, "event": "x"})

    response = workspace.secret(f"/v1/contacts/{contact_id}", method="DELETE")
    assert response.status_code in (200, 204), response.text

    expect_error(workspace.get(f"/v1/contacts/{contact_id}"), 404)
    assert workspace.events(contact_id=contact_id) == []
    assert workspace.events(anonymous_id=vid) == []
    assert workspace.contacts(external_id=ext) == []
    assert workspace.contacts(email=email) == []
    tombstones = workspace.audit(action="contact_erased")
    assert len(tombstones) == 1
    everything = json.dumps(workspace.audit())
    for personal in (ext, email, "Erin", vid):
        assert personal not in everything, personal
    # the device is no longer bound: its next event is anonymous
    workspace.send("page", {"anonymousId": vid, "messageId": "after-erasure"})
    (after,) = workspace.events(anonymous_id=vid)
    assert after["contact_id"] is None
    # the same person may come back later as a new contact
    again = workspace.identify({"userId": ext})
    assert again["created"] is True and again["contact_id"] != contact_id


def test_erasure_also_removes_the_rejected_messages_that_name_the_person(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    email = f"{ext}@example.com"
    contact_id = workspace.identify(
        {"userId": ext, "anonymousId": vid, "traits": {"email": email}}
    )["contact_id"]
    rejected = [
        {"type": "track", "userId": ext, "event": ""},  # no event name
        {"type": "page", "anonymousId": vid, "timestamp": "not a time"},
        {"type": "nonsense", "anonymousId": uid("v_"), "traits": {"email": email.upper()}},
        {"type": "nonsense", "anonymousId": uid("someone-else_"), "messageId": "keep-me"},
    ]
    assert workspace.batch(rejected, secret=True)["accepted"] == 0
    assert len(workspace.quarantine()) == 4

    expect(workspace.secret(f"/v1/contacts/{contact_id}", method="DELETE"))

    left = workspace.quarantine()
    assert [q["payload"] for q in left if "keep-me" in q["payload"]] and len(left) == 1
    (tombstone,) = workspace.audit(action="contact_erased")
    assert tombstone["details"]["rejected_messages"] == 3


def test_erasure_leaves_another_persons_events_on_the_device(workspace: Workspace):
    """A second user refused on the erased person's device sent their own identify from it:
    that event is theirs and survives the erasure."""
    vid, other = uid("vid_"), uid("other_")
    erased = workspace.identify({"userId": uid("gone_"), "anonymousId": vid})["contact_id"]
    workspace.send("page", {"anonymousId": vid})
    refused = workspace.identify({"userId": other, "anonymousId": vid})
    assert refused["visitor_bound"] is False
    expect(workspace.secret(f"/v1/contacts/{erased}", method="DELETE"))
    assert workspace.events(anonymous_id=vid) == [
        e for e in workspace.events(contact_id=refused["contact_id"]) if e["anonymous_id"] == vid
    ]
    (kept,) = workspace.events(anonymous_id=vid)
    assert kept["type"] == "identify" and kept["contact_id"] == refused["contact_id"]


def test_erasure_forgets_the_devices_in_every_audit_entry(workspace: Workspace):
    """A device first bound to someone else, then moved to the erased person: the entry of
    that first binding names the device too."""
    vid = uid("vid_")
    workspace.identify({"userId": uid("first_"), "anonymousId": vid})
    erased = workspace.identify({"userId": uid("gone_")})["contact_id"]
    expect(workspace.secret(f"/v1/visitors/{vid}/move", {"contact_id": erased}))
    assert workspace.audit(anonymous_id=vid, action="visitor_bound")
    expect(workspace.secret(f"/v1/contacts/{erased}", method="DELETE"))
    assert workspace.audit(anonymous_id=vid) == []


def test_erasing_unknown_contact_is_404(shared_workspace: Workspace):
    expect_error(shared_workspace.secret("/v1/contacts/nope", method="DELETE"), 404)


def test_export_contains_contact_and_its_events(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    workspace.send("page", {"anonymousId": vid, "messageId": "exp-page"})
    contact_id = workspace.identify(
        {"userId": ext, "anonymousId": vid, "traits": {"firstname": "Exa"}}
    )["contact_id"]
    response = workspace.get(f"/v1/contacts/{contact_id}/export")
    assert response.status_code == 200, response.text
    text = response.text
    assert contact_id in text and ext in text and "Exa" in text and "exp-page" in text
    expect_error(workspace.get("/v1/contacts/nope/export"), 404)


def test_export_gives_page_views_the_time_on_page_the_timeline_shows(workspace: Workspace):
    """A page view without a page_leave lasts until its session's next page view, in the
    export as in GET /v1/events."""
    ext, sid = uid("usr_"), uid("sess_")
    start = ago(hours=2)
    pages = [("a", 0), ("b", 42), ("c", 100)]
    workspace.batch(
        [
            {
                "type": "page",
                "userId": ext,
                "name": name,
                "timestamp": iso(start + timedelta(seconds=second)),
                "context": {"session_id": sid},
            }
            for name, second in pages
        ]
    )
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None
    contact_id = contact["id"]
    exported = expect(workspace.get(f"/v1/contacts/{contact_id}/export"))["data"]["events"]
    durations = {e["name"]: e["duration_ms"] for e in exported}
    assert durations == {"a": 42_000, "b": 58_000, "c": None}
    shown = workspace.events(contact_id=contact_id, type="page")
    assert durations == {e["name"]: e["duration_ms"] for e in shown}


# -- quarantine -----------------------------------------------------------------------------------


def test_quarantine_paginates_and_filters_since(workspace: Workspace):
    mids = [uid("q_") for _ in range(5)]
    workspace.batch([{"type": "track", "messageId": m, "event": "no id"} for m in mids])
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        body = expect(workspace.get("/v1/quarantine", limit=2, cursor=cursor))
        assert len(body["data"]) <= 2
        seen += [q["id"] for q in body["data"]]
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
    assert workspace.quarantine(since=iso(ago(days=-1))) == []
