"""SPEC §4 Identify: resolve or create, bind, merge traits, bind the visitor, back-fill."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .support import ISO_RE, Workspace, ago, expect_error, iso, parse_iso, uid


def anonymous_pages(ws: Workspace, anonymous_id: str, count: int) -> list[str]:
    message_ids = [uid("msg_") for _ in range(count)]
    for i, message_id in enumerate(message_ids):
        ws.send(
            "page",
            {
                "anonymousId": anonymous_id,
                "messageId": message_id,
                "name": f"page {i}",
                "timestamp": iso(ago(minutes=30 - i)),
                "context": {"page": {"url": f"https://example.com/p{i}", "path": f"/p{i}"}},
            },
        )
    return message_ids


# -- the Pathbound flow ---------------------------------------------------------------------------


def test_pathbound_identify_links_five_anonymous_pages_then_is_idempotent(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    page_ids = anonymous_pages(workspace, vid, 5)
    before = workspace.events(anonymous_id=vid)
    assert [e["contact_id"] for e in before] == [None] * 5

    first = workspace.identify(
        {"userId": ext, "anonymousId": vid, "traits": {"email": f"{ext}@example.com"}}
    )
    assert first["status"] == "success"
    assert first["created"] is True
    assert first["events_linked"] == 5
    assert first["visitor_bound"] is True
    assert "refused_reason" not in first or first["refused_reason"] is None
    assert ISO_RE.match(first["timestamp"]), first
    contact_id = first["contact_id"]
    assert contact_id

    again = workspace.identify(
        {"userId": ext, "anonymousId": vid, "traits": {"email": f"{ext}@example.com"}}
    )
    assert again["contact_id"] == contact_id
    assert again["created"] is False
    assert again["events_linked"] == 0
    assert again["visitor_bound"] is True

    timeline = workspace.events(contact_id=contact_id, order="asc")
    pages = [e for e in timeline if e["type"] == "page"]
    assert sorted(e["message_id"] for e in pages) == sorted(page_ids)
    for page in pages:
        assert page["contact_id"] == contact_id
        assert page["attribution"]["via"] == "identify"
        assert ISO_RE.match(page["attribution"]["at"])
    identifies = [e for e in timeline if e["type"] == "identify"]
    assert len(identifies) == 2  # both calls are on the timeline; the second linked nothing new
    assert all(e["contact_id"] == contact_id for e in identifies)


def test_back_filled_events_belong_to_the_contact_in_every_view(workspace: Workspace):
    vid, ext, session = uid("vid_"), uid("usr_"), uid("ses_")
    for i in range(3):
        workspace.send(
            "page",
            {"anonymousId": vid, "name": f"p{i}", "context": {"session_id": session}},
        )
    linked = workspace.identify({"userId": ext, "anonymousId": vid})
    assert linked["events_linked"] == 3
    contact_id = linked["contact_id"]
    bound_at = workspace.visitor(vid)["bound_at"]

    pages = [e for e in workspace.events(anonymous_id=vid) if e["type"] == "page"]
    assert len(pages) == 3
    for page in pages:
        assert page["contact_id"] == contact_id
        assert page["attribution"] == {"via": "identify", "at": bound_at}
    by_session = workspace.events(session_id=session, identified_only="true")
    assert {e["contact_id"] for e in by_session} == {contact_id} and len(by_session) == 3
    identified = workspace.events(anonymous_id=vid, identified_only="true")
    assert len(identified) == 4  # the pages and the identify itself
    assert workspace.contact(contact_id)["event_count"] == 4
    assert workspace.visitor(vid)["event_count"] == 4


def test_identify_marks_contact_identified_with_external_id(workspace: Workspace):
    ext = uid("usr_")
    result = workspace.identify({"userId": ext, "anonymousId": uid("vid_")})
    contact = workspace.contact(result["contact_id"])
    assert contact["external_id"] == ext
    assert contact["identified"] is True
    assert ISO_RE.match(contact["identified_at"])


def test_identify_accepts_snake_case_external_id_and_anonymous_id(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    anonymous_pages(workspace, vid, 2)
    result = workspace.identify({"external_id": ext, "anonymous_id": vid, "traits": {"plan": "x"}})
    assert result["created"] is True
    assert result["events_linked"] == 2
    assert workspace.contact(result["contact_id"])["external_id"] == ext
    result = workspace.identify({"user_id": ext, "anonymous_id": vid})
    assert result["created"] is False


def test_identify_without_any_id_is_rejected_with_missing_id(workspace: Workspace):
    response = workspace.secret("/v1/identify", {"traits": {"email": "a@example.com"}})
    expect_error(response, 400, "missing_id")


def test_identify_without_visitor_upserts_contact_only(workspace: Workspace):
    ext = uid("usr_")
    result = workspace.identify({"userId": ext, "traits": {"plan": "pro"}})
    assert result["created"] is True
    assert result["events_linked"] == 0
    contact = workspace.contact(result["contact_id"])
    assert contact["traits"]["plan"] == "pro"
    assert contact["anonymous_ids"] == []


# -- one device, one contact ----------------------------------------------------------------------


def test_second_user_on_same_device_is_refused_but_contact_part_succeeds(workspace: Workspace):
    vid, alice, bob = uid("vid_"), uid("alice_"), uid("bob_")
    anonymous_pages(workspace, vid, 2)
    first = workspace.identify({"userId": alice, "anonymousId": vid})
    assert first["visitor_bound"] is True

    second = workspace.identify({"userId": bob, "anonymousId": vid, "traits": {"plan": "team"}})
    assert second["visitor_bound"] is False
    assert second["refused_reason"] == "visitor_bound_to_other_contact"
    assert second["created"] is True
    assert second["events_linked"] == 0
    assert second["contact_id"] and second["contact_id"] != first["contact_id"]

    bob_contact = workspace.contact(second["contact_id"])
    assert bob_contact["external_id"] == bob
    assert bob_contact["identified"] is True
    assert bob_contact["traits"]["plan"] == "team"
    assert vid not in bob_contact["anonymous_ids"]
    assert workspace.visitor(vid)["contact_id"] == first["contact_id"]

    refusals = workspace.audit(anonymous_id=vid, action="visitor_bind_refused")
    assert len(refusals) >= 1
    assert refusals[0]["action"] == "visitor_bind_refused"
    assert second["contact_id"] in {refusals[0]["contact_id"], refusals[0].get("other_contact_id")}

    # the anonymous pages stay with the first contact
    pages = workspace.events(anonymous_id=vid, type="page")
    assert {e["contact_id"] for e in pages} == {first["contact_id"]}


def test_repeated_refused_identify_still_reports_not_bound(workspace: Workspace):
    vid = uid("vid_")
    workspace.identify({"userId": uid("a_"), "anonymousId": vid})
    bob = uid("b_")
    workspace.identify({"userId": bob, "anonymousId": vid})
    again = workspace.identify({"userId": bob, "anonymousId": vid})
    assert again["visitor_bound"] is False
    assert again["refused_reason"] == "visitor_bound_to_other_contact"
    assert again["created"] is False


# -- traits: most recent wins per field -----------------------------------------------------------


def test_newer_trait_wins_regardless_of_arrival_order(workspace: Workspace):
    ext = uid("usr_")
    newer, older = ago(hours=1), ago(hours=5)
    workspace.identify(
        {"userId": ext, "traits": {"plan": "pro", "city": "Paris"}, "timestamp": iso(newer)}
    )
    workspace.identify(
        {"userId": ext, "traits": {"plan": "free", "seats": 3}, "timestamp": iso(older)}
    )
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None
    assert contact["traits"]["plan"] == "pro"  # the late sync of older data did not clobber
    assert contact["traits"]["city"] == "Paris"
    assert contact["traits"]["seats"] == 3  # a field only the older message had is still set
    meta = contact["trait_meta"]["plan"]
    assert parse_iso(meta["updated_at"]) == parse_iso(iso(newer))
    assert isinstance(meta["source"], str) and meta["source"]
    assert parse_iso(contact["trait_meta"]["seats"]["updated_at"]) == parse_iso(iso(older))


def test_newer_trait_replaces_older_when_arriving_in_order(workspace: Workspace):
    ext = uid("usr_")
    workspace.identify({"userId": ext, "traits": {"plan": "free"}, "timestamp": iso(ago(hours=5))})
    workspace.identify({"userId": ext, "traits": {"plan": "pro"}, "timestamp": iso(ago(hours=1))})
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None
    assert contact["traits"]["plan"] == "pro"


def test_equal_times_higher_trust_wins_in_either_order(workspace: Workspace):
    at = iso(ago(hours=2))
    for order in ("soft_first", "authoritative_first"):
        ext = uid(f"{order}_")
        soft = {"userId": ext, "traits": {"plan": "soft"}, "timestamp": at}
        authoritative = {"userId": ext, "traits": {"plan": "authoritative"}, "timestamp": at}
        if order == "soft_first":
            workspace.identify(soft, secret=False)
            workspace.identify(authoritative, secret=True)
        else:
            workspace.identify(authoritative, secret=True)
            workspace.identify(soft, secret=False)
        contact = workspace.contact_by_external_id(ext)
        assert contact is not None
        assert contact["traits"]["plan"] == "authoritative", order


def test_equal_times_import_beats_soft_and_authoritative_beats_import(workspace: Workspace):
    at = ago(hours=3)
    ext = uid("usr_")
    workspace.identify(
        {"userId": ext, "traits": {"plan": "soft"}, "timestamp": iso(at)}, secret=False
    )
    workspace.import_contacts(
        [{"external_id": ext, "traits": {"plan": "import"}, "updated_at": iso(at)}]
    )
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None and contact["traits"]["plan"] == "import"
    workspace.identify(
        {"userId": ext, "traits": {"plan": "soft-again"}, "timestamp": iso(at)}, secret=False
    )
    assert workspace.contact_by_external_id(ext)["traits"]["plan"] == "import"
    workspace.identify({"userId": ext, "traits": {"plan": "authoritative"}, "timestamp": iso(at)})
    assert workspace.contact_by_external_id(ext)["traits"]["plan"] == "authoritative"


def test_newer_soft_claim_beats_older_authoritative_value(workspace: Workspace):
    ext = uid("usr_")
    workspace.identify(
        {"userId": ext, "traits": {"plan": "auth-old"}, "timestamp": iso(ago(hours=4))}
    )
    workspace.identify(
        {"userId": ext, "traits": {"plan": "soft-new"}, "timestamp": iso(ago(hours=1))},
        secret=False,
    )
    assert workspace.contact_by_external_id(ext)["traits"]["plan"] == "soft-new"


# -- resolution by identifiers --------------------------------------------------------------------


def import_email_only_contact(ws: Workspace, email: str) -> None:
    ws.import_contacts(
        [{"email": email, "traits": {"firstname": "Imp"}, "updated_at": iso(ago(days=1))}]
    )


def test_authoritative_identify_resolves_existing_contact_by_email(workspace: Workspace):
    email = f"{uid('lead')}@example.com"
    import_email_only_contact(workspace, email)
    (lead,) = workspace.contacts(email=email)
    assert lead["external_id"] is None

    ext = uid("usr_")
    result = workspace.identify({"userId": ext, "traits": {"email": email.upper()}})
    assert result["contact_id"] == lead["id"]
    assert result["created"] is False
    contact = workspace.contact(lead["id"])
    assert contact["external_id"] == ext
    assert contact["identifiers"]["email"] == email
    assert contact["traits"]["firstname"] == "Imp"


def test_write_key_identify_resolves_by_external_id_only(workspace: Workspace):
    email = f"{uid('lead')}@example.com"
    import_email_only_contact(workspace, email)
    (lead,) = workspace.contacts(email=email)

    ext = uid("usr_")
    result = workspace.identify({"userId": ext, "traits": {"email": email}}, secret=False)
    assert result["created"] is True
    assert result["contact_id"] != lead["id"]
    assert workspace.contact(lead["id"])["external_id"] is None
    assert workspace.contact(lead["id"])["identifiers"]["email"] == email
    new = workspace.contact(result["contact_id"])
    assert new["external_id"] == ext
    assert new["identifiers"]["email"] is None  # the identifier stays where it was


def test_authoritative_identify_resolves_by_linkedin_url_and_by_phone(workspace: Workspace):
    slug = uid("jane-")
    phone_email, linkedin_email = f"{uid('p')}@example.com", f"{uid('l')}@example.com"
    records = [
        {
            "email": linkedin_email,
            "traits": {"linkedin_url": f"https://www.linkedin.com/in/{slug}/", "firstname": "Jane"},
            "updated_at": iso(ago(days=2)),
        },
        {
            "email": phone_email,
            "traits": {"phone": "+44 20 7946 0958", "firstname": "Phil"},
            "updated_at": iso(ago(days=2)),
        },
    ]
    workspace.import_contacts(records)

    by_linkedin = workspace.identify(
        {"userId": uid("usr_"), "traits": {"linkedin_url": f"linkedin.com/in/{slug}"}}
    )
    assert by_linkedin["created"] is False
    contact = workspace.contact(by_linkedin["contact_id"])
    assert contact["identifiers"]["email"] == linkedin_email
    assert contact["identifiers"]["linkedin_url"] == f"linkedin.com/in/{slug}"

    by_phone = workspace.identify({"userId": uid("usr_"), "traits": {"phone": "+442079460958"}})
    assert by_phone["created"] is False
    assert workspace.contact(by_phone["contact_id"])["identifiers"]["email"] == phone_email


def test_identifier_conflict_never_takes_over_a_contact(workspace: Workspace):
    email = f"{uid('owner')}@example.com"
    owner_ext, intruder_ext = uid("usr_"), uid("usr_")
    owner = workspace.identify({"userId": owner_ext, "traits": {"email": email}})
    assert owner["created"] is True

    intruder = workspace.identify({"userId": intruder_ext, "traits": {"email": email}})
    assert intruder["created"] is True
    assert intruder["contact_id"] != owner["contact_id"]

    owner_contact = workspace.contact(owner["contact_id"])
    assert owner_contact["external_id"] == owner_ext
    assert owner_contact["identifiers"]["email"] == email
    intruder_contact = workspace.contact(intruder["contact_id"])
    assert intruder_contact["external_id"] == intruder_ext
    assert intruder_contact["identifiers"]["email"] is None
    assert [c["id"] for c in workspace.contacts(email=email)] == [owner["contact_id"]]

    (conflict,) = workspace.audit(contact_id=intruder["contact_id"], action="identifier_conflict")
    assert conflict["other_contact_id"] == owner["contact_id"]


def test_identifiers_show_the_current_email_when_an_older_one_arrives_late(workspace: Workspace):
    """A late sync with an older email keeps the newer trait, and the contact document shows
    the identifier that trait holds; the older email still finds the contact."""
    ext = uid("usr_")
    new_email, old_email = f"{uid('new')}@example.com", f"{uid('old')}@example.com"
    at = ago(hours=1)
    first = workspace.identify(
        {"userId": ext, "traits": {"email": new_email}, "timestamp": iso(at)}
    )
    workspace.identify(
        {"userId": ext, "traits": {"email": old_email}, "timestamp": iso(at - timedelta(days=30))}
    )
    contact = workspace.contact(first["contact_id"])
    assert contact["traits"]["email"] == new_email
    assert contact["identifiers"]["email"] == new_email
    assert [c["id"] for c in workspace.contacts(email=old_email)] == [first["contact_id"]]


# -- normalization --------------------------------------------------------------------------------


def test_email_is_trimmed_and_lower_cased(workspace: Workspace):
    local = uid("Mixed.Case")
    result = workspace.identify(
        {"userId": uid("u_"), "traits": {"email": f"  {local}@Example.COM "}}
    )
    contact = workspace.contact(result["contact_id"])
    assert contact["identifiers"]["email"] == f"{local.lower()}@example.com"
    assert [c["id"] for c in workspace.contacts(email=f"{local.lower()}@example.com")] == [
        result["contact_id"]
    ]


def test_phone_is_normalized_to_e164(workspace: Workspace):
    result = workspace.identify({"userId": uid("u_"), "traits": {"phone": "+1 (415) 555-2671"}})
    contact = workspace.contact(result["contact_id"])
    assert contact["identifiers"]["phone"] == "+14155552671"
    assert [c["id"] for c in workspace.contacts(phone="+14155552671")] == [result["contact_id"]]


def test_linkedin_url_is_reduced_to_slug_form(workspace: Workspace):
    slug = uid("Jane-Doe-")
    result = workspace.identify(
        {
            "userId": uid("u_"),
            "traits": {"linkedin_url": f"https://www.LinkedIn.com/in/{slug}/?trk=public_profile"},
        }
    )
    contact = workspace.contact(result["contact_id"])
    assert contact["identifiers"]["linkedin_url"] == f"linkedin.com/in/{slug.lower()}"


def test_unparseable_identifiers_stay_traits_but_not_identifiers(workspace: Workspace):
    result = workspace.identify(
        {
            "userId": uid("u_"),
            "traits": {
                "email": "not-an-email",
                "phone": "call me maybe",
                "linkedin_url": "myspace",
            },
        }
    )
    contact = workspace.contact(result["contact_id"])
    assert contact["traits"]["email"] == "not-an-email"
    assert contact["traits"]["phone"] == "call me maybe"
    assert contact["identifiers"] == {"email": None, "phone": None, "linkedin_url": None}


# -- anonymous-only identify ----------------------------------------------------------------------


def test_anonymous_only_identify_holds_traits_until_binding(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    held = workspace.identify(
        {
            "anonymousId": vid,
            "traits": {"plan": "trial", "color": "blue"},
            "timestamp": iso(ago(hours=2)),
        },
        secret=False,
    )
    assert held["contact_id"] is None
    assert workspace.contacts(external_id=ext) == []

    bound = workspace.identify(
        {
            "userId": ext,
            "anonymousId": vid,
            "traits": {"color": "red"},
            "timestamp": iso(ago(hours=1)),
        }
    )
    contact = workspace.contact(bound["contact_id"])
    assert contact["traits"]["plan"] == "trial"
    assert contact["traits"]["color"] == "red"  # the identify's observation is newer


def test_held_traits_newer_than_binding_identify_win(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    workspace.identify(
        {"anonymousId": vid, "traits": {"color": "held-new"}, "timestamp": iso(ago(minutes=5))},
        secret=False,
    )
    bound = workspace.identify(
        {
            "userId": ext,
            "anonymousId": vid,
            "traits": {"color": "old"},
            "timestamp": iso(ago(hours=3)),
        }
    )
    assert workspace.contact(bound["contact_id"])["traits"]["color"] == "held-new"


def test_anonymous_identify_of_bound_visitor_updates_its_contact(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    bound = workspace.identify({"userId": ext, "anonymousId": vid})
    later = workspace.identify({"anonymousId": vid, "traits": {"plan": "enterprise"}}, secret=False)
    assert later["contact_id"] == bound["contact_id"]
    assert workspace.contact(bound["contact_id"])["traits"]["plan"] == "enterprise"


# -- alias, group, company trait ------------------------------------------------------------------


def test_alias_with_previous_id_behaves_like_identify(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    anonymous_pages(workspace, vid, 3)
    result = workspace.send("alias", {"previousId": vid, "userId": ext}, secret=True)
    assert result["status"] == "success"
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None
    assert vid in contact["anonymous_ids"]
    pages = workspace.events(anonymous_id=vid, type="page")
    assert len(pages) == 3
    assert {e["contact_id"] for e in pages} == {contact["id"]}
    aliases = workspace.events(contact_id=contact["id"], type="alias")
    assert len(aliases) == 1


def test_alias_without_user_id_is_rejected(workspace: Workspace):
    expect_error(workspace.secret("/v1/alias", {"previousId": uid("vid_")}), 400)


def test_group_associates_contact_with_company(workspace: Workspace):
    ext, company = uid("usr_"), uid("acme_")
    contact_id = workspace.identify({"userId": ext})["contact_id"]
    workspace.send(
        "group", {"userId": ext, "groupId": company, "traits": {"name": "Acme", "employees": 50}}
    )
    contact = workspace.contact(contact_id)
    assert company in str(contact.get("groups")), contact
    (group_event,) = workspace.events(contact_id=contact_id, type="group")
    assert group_event["attribution"]["via"] == "user_id"


def test_company_trait_object_with_id_associates_contact_like_group(workspace: Workspace):
    ext, company = uid("usr_"), uid("globex_")
    result = workspace.identify(
        {"userId": ext, "traits": {"company": {"id": company, "name": "Globex"}}}
    )
    contact = workspace.contact(result["contact_id"])
    assert company in str(contact.get("groups")), contact


def test_a_company_joined_while_anonymous_follows_the_visitor_to_its_contact(
    workspace: Workspace,
):
    vid, company = uid("vid_"), uid("initech_")
    workspace.send("group", {"anonymousId": vid, "groupId": company, "traits": {"name": "I"}})
    contact_id = workspace.identify({"userId": uid("usr_"), "anonymousId": vid})["contact_id"]
    assert workspace.contact(contact_id)["groups"] == [company]


@pytest.mark.parametrize("company_id", ["", "null", "x" * 300, True])
def test_a_company_trait_with_an_invalid_id_associates_nothing(workspace: Workspace, company_id):
    """The id is checked like a groupId; the trait itself is kept."""
    ext = uid("usr_")
    company = {"id": company_id, "name": "Nobody"}
    result = workspace.identify({"userId": ext, "traits": {"company": company}})
    contact = workspace.contact(result["contact_id"])
    assert contact["groups"] == []
    assert contact["traits"]["company"] == company


def test_identify_response_timestamp_is_the_message_timestamp(workspace: Workspace):
    at = ago(hours=6)
    result = workspace.identify({"userId": uid("u_"), "timestamp": iso(at)})
    assert abs(parse_iso(result["timestamp"]) - at) < timedelta(milliseconds=2)


def test_two_devices_of_one_user_share_one_unified_timeline(workspace: Workspace):
    laptop, phone, ext = uid("laptop_"), uid("phone_"), uid("usr_")
    laptop_pages = anonymous_pages(workspace, laptop, 2)
    phone_pages = anonymous_pages(workspace, phone, 3)
    first = workspace.identify({"userId": ext, "anonymousId": laptop})
    second = workspace.identify({"userId": ext, "anonymousId": phone})
    assert second["contact_id"] == first["contact_id"]
    assert (first["events_linked"], second["events_linked"]) == (2, 3)
    contact = workspace.contact(first["contact_id"])
    assert sorted(contact["anonymous_ids"]) == sorted([laptop, phone])
    pages = workspace.events(contact_id=first["contact_id"], type="page")
    assert sorted(e["message_id"] for e in pages) == sorted(laptop_pages + phone_pages)
    assert contact["event_count"] == 7  # five pages and two identifies


def test_held_traits_are_merged_when_a_cookie_event_binds_the_visitor(workspace: Workspace):
    vid, cookie = uid("vid_"), uid("cust_")
    workspace.identify({"anonymousId": vid, "traits": {"plan": "held"}}, secret=False)
    workspace.send("page", {"anonymousId": vid, "context": {"external_contact_id": cookie}})
    contact = workspace.contact_by_external_id(cookie)
    assert contact is not None
    assert contact["traits"]["plan"] == "held"


def test_soft_identify_makes_free_email_an_identifier(workspace: Workspace):
    ext = uid("usr_")
    email = f"{ext}@example.com"
    result = workspace.identify({"userId": ext, "traits": {"email": email}}, secret=False)
    assert workspace.contact(result["contact_id"])["identifiers"]["email"] == email


def test_external_id_match_wins_over_email_of_another_contact(workspace: Workspace):
    alice, bob = uid("alice_"), uid("bob_")
    alice_email = f"{alice}@example.com"
    alice_id = workspace.identify({"userId": alice, "traits": {"email": alice_email}})["contact_id"]
    bob_id = workspace.identify({"userId": bob})["contact_id"]
    again = workspace.identify({"userId": bob, "traits": {"email": alice_email}})
    assert again["contact_id"] == bob_id
    assert again["created"] is False
    assert workspace.contact(alice_id)["identifiers"]["email"] == alice_email
    assert workspace.contact(bob_id)["identifiers"]["email"] is None
    assert [c["id"] for c in workspace.contacts(email=alice_email)] == [alice_id]


def test_a_nul_in_an_email_trait_keeps_it_a_trait_and_never_blocks_a_login(workspace: Workspace):
    """No text column stores NUL (PostgreSQL refuses it): such an email is no identifier, so a
    held trait with one cannot make every later binding of the device fail."""
    vid, user = uid("vid_"), uid("usr_")
    held = {"anonymousId": vid, "traits": {"email": "held\x00@example.com"}}
    workspace.send("identify", held)
    batch = [
        {"type": "identify", "userId": uid("usr_"), "traits": {"email": "x\x00@example.com"}},
        {"type": "track", "anonymousId": uid("vid_"), "event": "good"},
    ]
    assert workspace.batch(batch, secret=True)["accepted"] == 2
    answer = workspace.identify({"userId": user, "anonymousId": vid, "traits": {"plan": "pro"}})
    assert answer["visitor_bound"] is True
    contact = workspace.contact(answer["contact_id"])
    assert contact["traits"]["email"] == "held\x00@example.com"
    assert contact["identifiers"]["email"] is None
