"""SPEC §7 Reading: /v1/events filters and pagination, contacts, visitors, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .support import ISO_RE, Workspace, ago, expect, expect_error, iso, parse_iso, uid

EVENT_FIELDS = {
    "id",
    "message_id",
    "type",
    "event",
    "name",
    "anonymous_id",
    "contact_id",
    "session_id",
    "timestamp",
    "received_at",
    "properties",
    "traits",
    "context",
    "attribution",
}


def seed_timeline(ws: Workspace) -> dict[str, object]:
    """An anonymous visitor, an identified visitor and a user-id event, at known times."""
    base = ago(hours=10)
    anon, known, sess = uid("anon_"), uid("known_"), uid("sess_")
    ext = uid("usr_")
    messages = []
    for i in range(6):
        messages.append(
            {
                "type": "page" if i % 2 == 0 else "track",
                "event": None if i % 2 == 0 else f"t{i}",
                "anonymousId": anon,
                "messageId": f"anon-{i}",
                "timestamp": iso(base + timedelta(minutes=i)),
                "context": {"session_id": sess if i < 3 else uid("sess_")},
            }
        )
    for i in range(4):
        messages.append(
            {
                "type": "page",
                "anonymousId": known,
                "messageId": f"known-{i}",
                "timestamp": iso(base + timedelta(minutes=10 + i)),
            }
        )
    messages = [{k: v for k, v in m.items() if v is not None} for m in messages]
    result = ws.batch(messages)
    assert result["accepted"] == len(messages), result
    contact_id = ws.identify(
        {"userId": ext, "anonymousId": known, "timestamp": iso(base + timedelta(minutes=20))}
    )["contact_id"]
    ws.send(
        "track",
        {
            "userId": ext,
            "event": "Paid",
            "messageId": "paid",
            "timestamp": iso(base + timedelta(minutes=30)),
        },
    )
    return {"anon": anon, "known": known, "sess": sess, "contact_id": contact_id, "base": base}


def mids(events: list[dict]) -> list[str]:
    return [e["message_id"] for e in events]


def test_event_shape(workspace: Workspace):
    seeded = seed_timeline(workspace)
    events = workspace.events(contact_id=seeded["contact_id"])
    for event in events:
        assert set(event) >= EVENT_FIELDS
        assert ISO_RE.match(event["timestamp"]) and ISO_RE.match(event["received_at"])
        assert set(event["attribution"]) == {"via", "at"}
        if event["type"] == "page":
            assert "duration_ms" in event and "scroll_depth" in event


def test_events_require_an_anchor_filter(shared_workspace: Workspace):
    for params in ({}, {"type": "page"}, {"identified_only": "true"}, {"order": "asc", "limit": 5}):
        expect_error(shared_workspace.get("/v1/events", **params), 400)


def test_events_by_contact_anonymous_and_session(workspace: Workspace):
    s = seed_timeline(workspace)
    assert mids(workspace.events(anonymous_id=s["anon"])) == [f"anon-{i}" for i in range(6)]
    assert mids(workspace.events(session_id=s["sess"])) == ["anon-0", "anon-1", "anon-2"]
    timeline = workspace.events(contact_id=s["contact_id"])
    assert [m for m in mids(timeline) if m.startswith("known-") or m == "paid"] == [
        "known-0",
        "known-1",
        "known-2",
        "known-3",
        "paid",
    ]
    assert [e["type"] for e in timeline].count("identify") == 1
    assert all(e["contact_id"] == s["contact_id"] for e in timeline)


def test_events_order_asc_and_desc(workspace: Workspace):
    s = seed_timeline(workspace)
    asc = mids(workspace.events(anonymous_id=s["anon"], order="asc"))
    desc = mids(workspace.events(anonymous_id=s["anon"], order="desc"))
    assert desc == list(reversed(asc))
    times = [
        parse_iso(e["timestamp"]) for e in workspace.events(anonymous_id=s["anon"], order="desc")
    ]
    assert times == sorted(times, reverse=True)


def test_events_type_filter(workspace: Workspace):
    s = seed_timeline(workspace)
    pages = workspace.events(anonymous_id=s["anon"], type="page")
    assert mids(pages) == ["anon-0", "anon-2", "anon-4"]
    tracks = workspace.events(anonymous_id=s["anon"], type="track")
    assert mids(tracks) == ["anon-1", "anon-3", "anon-5"]
    both = workspace.events(anonymous_id=s["anon"], type="track, page,track")
    assert mids(both) == [f"anon-{i}" for i in range(6)]


def test_events_type_filter_takes_at_most_twenty_types(workspace: Workspace):
    many = ",".join(f"t{i}" for i in range(21))
    expect_error(workspace.get("/v1/events", anonymous_id="x", type=many), 400, "invalid_parameter")


def test_events_since_until_window(workspace: Workspace):
    s = seed_timeline(workspace)
    base = s["base"]
    window = workspace.events(
        since=iso(base + timedelta(minutes=1, seconds=30)),
        until=iso(base + timedelta(minutes=11, seconds=30)),
    )
    assert mids(window) == ["anon-2", "anon-3", "anon-4", "anon-5", "known-0", "known-1"]
    since_only = workspace.events(since=iso(base + timedelta(minutes=25)))
    assert "paid" in mids(since_only)
    assert not any(m.startswith(("anon-", "known-")) for m in mids(since_only))


def test_identified_only_returns_attributed_events(workspace: Workspace):
    s = seed_timeline(workspace)
    since = iso(s["base"] - timedelta(minutes=1))
    everything = workspace.events(since=since)
    identified = workspace.events(since=since, identified_only=True)
    assert {e["contact_id"] for e in identified} == {s["contact_id"]}
    assert set(mids(identified)) == {m for m in mids(everything) if not m.startswith("anon-")}
    unfiltered = workspace.events(since=since, identified_only=False)
    assert mids(unfiltered) == mids(everything)
    assert workspace.events(anonymous_id=s["anon"], identified_only=True) == []


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("same_time", [False, True], ids=["distinct-times", "tied-times"])
def test_cursor_pagination_has_no_duplicates_or_gaps(
    workspace: Workspace, order: str, same_time: bool
):
    vid = uid("vid_")
    base = ago(hours=1)
    messages = [
        {
            "type": "track",
            "anonymousId": vid,
            "event": "p",
            "messageId": f"m{i:02d}",
            "timestamp": iso(base if same_time else base + timedelta(seconds=i)),
        }
        for i in range(23)
    ]
    workspace.batch(messages)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = workspace.events_page(anonymous_id=vid, order=order, limit=5, cursor=cursor)
        assert len(page["data"]) <= 5
        seen += mids(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen)), seen
    assert sorted(seen) == sorted(m["messageId"] for m in messages)
    if not same_time:
        expected = sorted(seen)
        assert seen == (expected if order == "asc" else list(reversed(expected)))


def test_limit_caps_page_size(workspace: Workspace):
    vid = uid("vid_")
    workspace.batch([{"type": "track", "anonymousId": vid, "event": "x"} for _ in range(4)])
    page = workspace.events_page(anonymous_id=vid, limit=3)
    assert len(page["data"]) == 3
    assert page["next_cursor"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "lots"},
        {"limit": "-1"},
        {"order": "sideways"},
        {"since": "last tuesday"},
        {"cursor": "%%%not-a-cursor"},
        {"identified_only": "maybe"},
    ],
)
def test_bad_event_query_parameters_are_400(shared_workspace: Workspace, params: dict[str, str]):
    expect_error(shared_workspace.get("/v1/events", anonymous_id="x", **params), 400)


# -- contacts -------------------------------------------------------------------------------------


def test_contact_shape(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    workspace.send("page", {"anonymousId": vid})
    result = workspace.identify(
        {
            "userId": ext,
            "anonymousId": vid,
            "traits": {"email": f"{ext}@example.com", "phone": "+14155552671", "firstname": "Ada"},
        }
    )
    body = expect(workspace.get(f"/v1/contacts/{result['contact_id']}"))
    contact = body["data"]
    assert set(contact) >= {
        "id",
        "external_id",
        "identified",
        "identified_at",
        "created_at",
        "updated_at",
        "traits",
        "trait_meta",
        "identifiers",
        "anonymous_ids",
        "event_count",
    }
    assert contact["id"] == result["contact_id"]
    assert contact["external_id"] == ext
    assert contact["identified"] is True
    for name in ("identified_at", "created_at", "updated_at"):
        assert ISO_RE.match(contact[name]), name
    assert contact["traits"]["firstname"] == "Ada"
    for key in ("email", "phone", "firstname"):
        assert ISO_RE.match(contact["trait_meta"][key]["updated_at"])
        assert contact["trait_meta"][key]["source"]
    assert contact["identifiers"] == {
        "email": f"{ext}@example.com",
        "phone": "+14155552671",
        "linkedin_url": None,
    }
    assert contact["anonymous_ids"] == [vid]
    assert contact["event_count"] == 2  # the page and the identify


def test_unknown_contact_is_404(shared_workspace: Workspace):
    expect_error(shared_workspace.get("/v1/contacts/does-not-exist"), 404, "not_found")


def test_contact_lookup_by_external_id_email_phone(workspace: Workspace):
    ext = uid("usr_")
    email = f"{ext}@example.com"
    contact_id = workspace.identify(
        {"userId": ext, "traits": {"email": email, "phone": "+33 6 12 34 56 78"}}
    )["contact_id"]
    workspace.identify({"userId": uid("other_"), "traits": {"email": f"{uid('o')}@example.com"}})
    body = expect(workspace.get("/v1/contacts", external_id=ext))
    assert "next_cursor" in body
    assert [c["id"] for c in body["data"]] == [contact_id]
    assert [c["id"] for c in workspace.contacts(email=email)] == [contact_id]
    assert [c["id"] for c in workspace.contacts(phone="+33612345678")] == [contact_id]
    assert workspace.contacts(external_id=uid("nobody_")) == []
    assert workspace.contacts(email="nobody@example.com") == []


def test_contact_search_q(workspace: Workspace):
    token = uid("zq")
    target = workspace.identify(
        {"userId": f"usr_{token}", "traits": {"email": f"{token}@example.com", "name": token}}
    )["contact_id"]
    workspace.identify(
        {"userId": uid("usr_"), "traits": {"email": f"{uid('x')}@example.com", "name": "Other"}}
    )
    assert [c["id"] for c in workspace.contacts(q=token)] == [target]


def test_contact_list_paginates(workspace: Workspace):
    created = {workspace.identify({"userId": uid(f"page{i}_")})["contact_id"] for i in range(7)}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        body = expect(workspace.get("/v1/contacts", limit=3, cursor=cursor))
        assert len(body["data"]) <= 3
        seen += [c["id"] for c in body["data"]]
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) == created


# -- visitors -------------------------------------------------------------------------------------


def test_contact_search_takes_like_wildcards_literally(workspace: Workspace):
    ext = uid("plain")
    workspace.identify({"userId": ext})
    for q in ("%", "_", "\\"):
        assert workspace.contacts(q=q) == [], q
    assert [c["external_id"] for c in workspace.contacts(q=ext[2:])] == [ext]


def test_contact_search_folds_every_letter_and_reads_quotes_in_names(workspace: Workspace):
    """Names are matched on their text, not their stored JSON, whatever the alphabet."""
    elodie = workspace.identify({"userId": uid("e"), "traits": {"name": "Élodie Ünïcode"}})
    rock = workspace.identify({"userId": uid("r"), "traits": {"name": 'Dwayne "The Rock" J'}})
    umlaut = workspace.identify({"userId": "Ärger-" + uid("")})
    for q, found in (
        ("élodie", elodie),
        ("ÉLODIE", elodie),
        ("ünïcode", elodie),
        ('"the rock"', rock),
        ("ärger", umlaut),
    ):
        assert [c["id"] for c in workspace.contacts(q=q)] == [found["contact_id"]], q
    assert [c["id"] for c in workspace.contacts(q='"')] == [rock["contact_id"]]


def test_visitor_never_seen_is_404(shared_workspace: Workspace):
    expect_error(shared_workspace.get(f"/v1/visitors/{uid('ghost_')}"), 404, "not_found")


def test_visitor_shape_before_and_after_binding(workspace: Workspace):
    vid = uid("vid_")
    workspace.send("page", {"anonymousId": vid, "timestamp": iso(ago(hours=2))})
    workspace.send("page", {"anonymousId": vid})
    visitor = workspace.visitor(vid)
    assert set(visitor) >= {
        "anonymous_id",
        "contact_id",
        "contact",
        "first_seen",
        "last_seen",
        "event_count",
        "bound_at",
        "bound_via",
    }
    assert visitor["anonymous_id"] == vid
    assert visitor["contact_id"] is None and visitor["contact"] is None
    assert visitor["bound_at"] is None and visitor["bound_via"] is None
    assert visitor["event_count"] == 2
    assert parse_iso(visitor["first_seen"]) <= parse_iso(visitor["last_seen"])

    ext = uid("usr_")
    contact_id = workspace.identify({"userId": ext, "anonymousId": vid})["contact_id"]
    visitor = workspace.visitor(vid)
    assert visitor["contact_id"] == contact_id
    assert visitor["contact"]["id"] == contact_id
    assert visitor["contact"]["external_id"] == ext
    assert ISO_RE.match(visitor["bound_at"])
    assert visitor["bound_via"] == "identify"
    assert visitor["event_count"] == 3


def test_visitor_seen_window_widens_with_each_request_and_keeps_last_seen_to_the_minute(
    workspace: Workspace,
):
    vid, base = uid("vid_"), ago(hours=3)
    window = []
    for offset_s in (0, -3600, 1800, 1810, 1900):  # earlier, later, within a minute, beyond
        workspace.send(
            "page", {"anonymousId": vid, "timestamp": iso(base + timedelta(seconds=offset_s))}
        )
        visitor = workspace.visitor(vid)
        window.append(
            (
                round((parse_iso(visitor["first_seen"]) - base).total_seconds()),
                round((parse_iso(visitor["last_seen"]) - base).total_seconds()),
            )
        )
    assert window == [(0, 0), (-3600, 0), (-3600, 1800), (-3600, 1800), (-3600, 1900)]
    assert workspace.visitor(vid)["event_count"] == 5


# -- audit ----------------------------------------------------------------------------------------


def test_identify_writes_audit_trail_with_trust_and_key(workspace: Workspace):
    vid, ext = uid("vid_"), uid("usr_")
    contact_id = workspace.identify({"userId": ext, "anonymousId": vid})["contact_id"]
    entries = workspace.audit(contact_id=contact_id)
    actions = {e["action"] for e in entries}
    assert {"contact_created", "external_id_bound", "visitor_bound"} <= actions
    for entry in entries:
        assert ISO_RE.match(entry["at"])
        assert entry["contact_id"] == contact_id
        assert entry["trust"] == "authoritative"
        assert entry["key_id"]
    bound = [e for e in entries if e["action"] == "visitor_bound"]
    assert bound[0]["anonymous_id"] == vid


def test_audit_filters_by_action_anonymous_id_and_contact(workspace: Workspace):
    vid1, vid2 = uid("vid_"), uid("vid_")
    c1 = workspace.identify({"userId": uid("a_"), "anonymousId": vid1})["contact_id"]
    c2 = workspace.identify({"userId": uid("b_"), "anonymousId": vid2}, secret=False)["contact_id"]
    created = workspace.audit(action="contact_created")
    assert {e["contact_id"] for e in created} == {c1, c2}
    assert {e["action"] for e in created} == {"contact_created"}
    by_visitor = workspace.audit(anonymous_id=vid2)
    assert by_visitor and {e["anonymous_id"] for e in by_visitor} == {vid2}
    assert {e["contact_id"] for e in by_visitor} == {c2}
    soft = [e for e in workspace.audit(contact_id=c2) if e["action"] == "visitor_bound"]
    assert soft[0]["trust"] == "soft"
    assert workspace.audit(contact_id=c1, action="visitor_bind_refused") == []
