"""SPEC §3 Ingestion: endpoints, ids, dedupe, clock skew, limits, batches, quarantine."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest

from .support import (
    ISO_RE,
    Workspace,
    ago,
    basic,
    expect,
    expect_error,
    gzipped,
    iso,
    now,
    parse_iso,
    uid,
)

PLACEHOLDERS = [
    "anonymous",
    "null",
    "undefined",
    "none",
    "nil",
    "0",
    "-1",
    "guest",
    "nan",
    "true",
    "false",
    "[object object]",
]


def variants(value: str) -> list[str]:
    return sorted({value, value.upper(), value.title(), f"  {value}\t", f" {value.upper()} "})


SINGLE = {
    "track": {"event": "Signed Up", "properties": {"plan": "pro"}},
    "page": {"name": "Home", "properties": {"url": "https://example.com/"}},
    "screen": {"name": "Dashboard"},
    "identify": {"traits": {"plan": "pro"}},
    "group": {"groupId": "grp_1", "traits": {"name": "Acme"}},
}


# -- endpoints ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SINGLE))
def test_single_endpoint_stores_event_of_its_type(workspace: Workspace, kind: str):
    vid, mid = uid("vid_"), uid("msg_")
    body = {"anonymousId": vid, "messageId": mid, "integrations": {"All": False}, **SINGLE[kind]}
    result = workspace.send(kind, body)
    assert result["status"] == "success"
    (event,) = workspace.events(anonymous_id=vid)
    assert event["type"] == kind
    assert event["message_id"] == mid
    assert event["anonymous_id"] == vid
    assert event["id"] not in (None, "")
    assert ISO_RE.match(event["timestamp"]) and ISO_RE.match(event["received_at"])
    for name in ("event", "name", "contact_id", "session_id", "properties", "traits", "context"):
        assert name in event
    assert set(event["attribution"]) >= {"via", "at"}


def test_event_fields_and_context_are_kept(workspace: Workspace):
    vid, sid = uid("vid_"), uid("sess_")
    context = {
        "ip": "203.0.113.9",
        "userAgent": "Mozilla/5.0 test",
        "locale": "fr-FR",
        "page": {
            "url": "https://example.com/pricing?x=1",
            "path": "/pricing",
            "referrer": "https://google.com/",
            "title": "Pricing",
            "search": "?x=1",
        },
        "campaign": {
            "name": "spring",
            "source": "news",
            "medium": "email",
            "term": "t",
            "content": "c",
        },
        "library": {"name": "seam.js", "version": "1.0.0"},
        "session_id": sid,
    }
    workspace.send(
        "track",
        {
            "anonymousId": vid,
            "event": "Clicked CTA",
            "properties": {"cta": "buy", "n": 2},
            "context": context,
        },
    )
    (event,) = workspace.events(anonymous_id=vid)
    assert event["event"] == "Clicked CTA"
    assert event["properties"] == {"cta": "buy", "n": 2}
    assert event["session_id"] == sid
    assert event["context"]["page"] == context["page"]
    assert event["context"]["campaign"] == context["campaign"]
    assert event["context"]["userAgent"] == "Mozilla/5.0 test"


def test_acknowledged_event_is_immediately_readable(workspace: Workspace):
    vid = uid("vid_")
    for i in range(10):
        workspace.send("track", {"anonymousId": vid, "event": f"e{i}"})
        assert len(workspace.events(anonymous_id=vid)) == i + 1


def test_snake_case_aliases_are_accepted(workspace: Workspace):
    vid, ext, mid = uid("vid_"), uid("usr_"), uid("msg_")
    workspace.send("track", {"anonymous_id": vid, "user_id": ext, "message_id": mid, "event": "x"})
    (event,) = workspace.events(anonymous_id=vid)
    assert event["message_id"] == mid
    contact = workspace.contact_by_external_id(ext)
    assert contact is not None and event["contact_id"] == contact["id"]


def test_message_without_any_id_is_rejected(workspace: Workspace):
    expect_error(workspace.write("/v1/track", {"event": "x"}), 400, "missing_id")


def test_track_without_event_name_is_rejected(workspace: Workspace):
    expect_error(workspace.write("/v1/track", {"anonymousId": uid("v_")}), 400)


def test_server_generates_message_id_when_missing(workspace: Workspace):
    vid = uid("vid_")
    workspace.send("track", {"anonymousId": vid, "event": "a"})
    workspace.send("track", {"anonymousId": vid, "event": "a"})
    events = workspace.events(anonymous_id=vid)
    assert len(events) == 2
    assert all(e["message_id"] for e in events)
    assert events[0]["message_id"] != events[1]["message_id"]


# -- dedupe ---------------------------------------------------------------------------------------


def test_repeated_message_id_is_stored_once(workspace: Workspace):
    vid, mid = uid("vid_"), uid("msg_")
    for _ in range(3):
        workspace.send("track", {"anonymousId": vid, "messageId": mid, "event": "Retry"})
    assert len(workspace.events(anonymous_id=vid)) == 1


@pytest.mark.parametrize("path", ["/v1/track/", "/v1/batch/"])
def test_a_trailing_slash_is_served_not_redirected(workspace: Workspace, path: str):
    vid = uid("vid_")
    message = {"type": "track", "anonymousId": vid, "event": "Slash"}
    body = {"batch": [message]} if "batch" in path else message
    expect(workspace.write(path, body))
    assert [e["event"] for e in workspace.events(anonymous_id=vid)] == ["Slash"]


def test_a_repeated_message_id_does_not_act_again(workspace: Workspace):
    """A retry is stored once and changes nothing, even if its content differs: the timeline
    and the contact never disagree about what happened."""
    user, vid, mid = uid("usr_"), uid("vid_"), uid("msg_")
    first = workspace.identify({"userId": user, "traits": {"plan": "free"}, "messageId": mid})
    again = workspace.identify(
        {"userId": user, "traits": {"plan": "pro", "email": f"{user}@x.com"}, "messageId": mid}
    )
    assert again["contact_id"] == first["contact_id"]
    assert (again["created"], again["events_linked"]) == (False, 0)
    contact = workspace.contact(first["contact_id"])
    assert contact["traits"].get("plan") == "free"
    assert contact["identifiers"].get("email") is None
    (stored,) = workspace.events(contact_id=first["contact_id"])
    assert stored["traits"] == {"plan": "free"}

    other = uid("usr_")
    workspace.send("track", {"userId": other, "anonymousId": vid, "event": "E", "messageId": mid})
    assert workspace.contact_by_external_id(other) is None
    assert workspace.get(f"/v1/visitors/{vid}").status_code == 404


def test_a_retried_identify_answers_like_the_first(workspace: Workspace):
    user, vid, mid = uid("usr_"), uid("vid_"), uid("msg_")
    workspace.send("page", {"anonymousId": vid})
    body = {"userId": user, "anonymousId": vid, "messageId": mid}
    first = workspace.identify(body)
    assert (first["created"], first["events_linked"], first["visitor_bound"]) == (True, 1, True)
    again = workspace.identify(body)
    assert again["contact_id"] == first["contact_id"]
    assert (again["created"], again["events_linked"], again["visitor_bound"]) == (False, 0, True)
    duplicate_in_batch = workspace.batch([{"type": "identify", **body}] * 2)
    assert duplicate_in_batch["accepted"] == 2
    assert len(workspace.events(anonymous_id=vid)) == 2


def test_message_id_dedupe_across_batch_and_single_endpoints(workspace: Workspace):
    vid, mid1, mid2 = uid("vid_"), uid("msg_"), uid("msg_")
    workspace.send("track", {"anonymousId": vid, "messageId": mid1, "event": "one"})
    workspace.batch(
        [
            {"type": "track", "anonymousId": vid, "messageId": mid1, "event": "one"},
            {"type": "track", "anonymousId": vid, "messageId": mid2, "event": "two"},
            {"type": "track", "anonymousId": vid, "messageId": mid2, "event": "two"},
        ]
    )
    workspace.send("track", {"anonymousId": vid, "messageId": mid2, "event": "two"})
    expect(
        workspace.request(
            "POST",
            "/v1/import",
            {"batch": [{"type": "track", "anonymousId": vid, "messageId": mid1, "event": "one"}]},
            key=workspace.write_key,
            auth="basic",
        )
    )
    events = workspace.events(anonymous_id=vid)
    assert sorted(e["message_id"] for e in events) == sorted([mid1, mid2])


def test_a_large_batch_sent_again_with_new_messages_stores_each_message_once(
    workspace: Workspace,
):
    """A batch retried with more messages added (an SDK's queue after a timeout): the messages
    stored before stay as they were, the new ones are stored. Large enough that PostgreSQL is
    sent the rows with COPY, which refuses the repeated ids (see `store.copying`)."""
    vid = uid("vid_")
    first = [
        {"type": "track", "anonymousId": vid, "messageId": uid("msg_"), "event": "First"}
        for _ in range(150)
    ]
    assert workspace.batch(first)["accepted"] == 150
    retried = [{**m, "event": "Again"} for m in first[:20]]
    new = [
        {"type": "track", "anonymousId": vid, "messageId": uid("msg_"), "event": "New"}
        for _ in range(150)
    ]
    assert workspace.batch(retried + new)["accepted"] == 170
    stored = workspace.events(anonymous_id=vid)
    assert len({e["message_id"] for e in stored}) == len(stored) == 300
    assert sorted(e["event"] for e in stored) == ["First"] * 150 + ["New"] * 150


def test_message_ids_are_scoped_to_workspace(workspace: Workspace, make_workspace):
    other = make_workspace()
    mid = uid("msg_")
    vid = uid("vid_")
    workspace.send("track", {"anonymousId": vid, "messageId": mid, "event": "x"})
    other.send("track", {"anonymousId": vid, "messageId": mid, "event": "x"})
    assert len(workspace.events(anonymous_id=vid)) == 1
    assert len(other.events(anonymous_id=vid)) == 1


# -- timestamps -----------------------------------------------------------------------------------


def test_missing_timestamp_means_received_at(workspace: Workspace):
    vid = uid("vid_")
    workspace.send("track", {"anonymousId": vid, "event": "x"})
    (event,) = workspace.events(anonymous_id=vid)
    assert event["timestamp"] == event["received_at"]


def test_timestamp_without_sent_at_is_kept(workspace: Workspace):
    vid, at = uid("vid_"), ago(days=3)
    workspace.send("track", {"anonymousId": vid, "event": "x", "timestamp": iso(at)})
    (event,) = workspace.events(anonymous_id=vid)
    assert parse_iso(event["timestamp"]) == parse_iso(iso(at))


def test_clock_skew_is_corrected_by_received_minus_sent(workspace: Workspace):
    # The device clock is one hour slow: it stamped the event 10 min before it sent the request.
    vid = uid("vid_")
    device_now = ago(hours=1)
    workspace.send(
        "track",
        {
            "anonymousId": vid,
            "event": "x",
            "timestamp": iso(device_now - timedelta(minutes=10)),
            "sentAt": iso(device_now),
        },
    )
    (event,) = workspace.events(anonymous_id=vid)
    offset = parse_iso(event["received_at"]) - parse_iso(event["timestamp"])
    assert abs(offset - timedelta(minutes=10)) <= timedelta(milliseconds=2), event


def test_batch_sent_at_corrects_every_message(workspace: Workspace):
    vid = uid("vid_")
    device_now = now() + timedelta(hours=2)  # device clock two hours fast
    workspace.batch(
        [
            {
                "type": "track",
                "anonymousId": vid,
                "event": "a",
                "timestamp": iso(device_now - timedelta(minutes=5)),
            },
            {
                "type": "track",
                "anonymousId": vid,
                "event": "b",
                "timestamp": iso(device_now - timedelta(minutes=1)),
            },
        ],
        sentAt=iso(device_now),
    )
    events = {e["event"]: e for e in workspace.events(anonymous_id=vid)}
    for name, minutes in (("a", 5), ("b", 1)):
        event = events[name]
        offset = parse_iso(event["received_at"]) - parse_iso(event["timestamp"])
        assert abs(offset - timedelta(minutes=minutes)) <= timedelta(milliseconds=2), event


def test_timestamp_more_than_a_day_ahead_is_clamped_to_received_at(workspace: Workspace):
    vid = uid("vid_")
    workspace.send(
        "track", {"anonymousId": vid, "event": "x", "timestamp": iso(now() + timedelta(days=3))}
    )
    (event,) = workspace.events(anonymous_id=vid)
    assert event["timestamp"] == event["received_at"]


def test_timestamp_less_than_a_day_ahead_is_kept(workspace: Workspace):
    vid, at = uid("vid_"), now() + timedelta(hours=20)
    workspace.send("track", {"anonymousId": vid, "event": "x", "timestamp": iso(at)})
    (event,) = workspace.events(anonymous_id=vid)
    assert parse_iso(event["timestamp"]) == parse_iso(iso(at))


@pytest.mark.parametrize(
    ("timestamp", "sent_at"),
    [
        ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
        ("0001-01-01T00:00:00Z", None),
        ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"),
    ],
    ids=["skew-below-year-1", "year-1", "skew-far-future"],
)
@pytest.mark.parametrize("kind", ["track", "identify"])
def test_extreme_timestamps_are_rejected_or_stored_readably(
    workspace: Workspace, kind, timestamp, sent_at
):
    vid = uid("vid_")
    body = {"anonymousId": vid, "event": "x", "timestamp": timestamp}
    if kind == "identify":
        body = {"userId": uid("usr_"), "anonymousId": vid, "timestamp": timestamp}
    if sent_at:
        body["sentAt"] = sent_at
    response = workspace.write(f"/v1/{kind}", body)
    if response.status_code == 400:
        expect_error(response, 400)
        return
    expect(response)
    events = workspace.events(anonymous_id=vid)
    assert len(events) == 1
    assert ISO_RE.match(events[0]["timestamp"]), events[0]["timestamp"]
    expect(workspace.get(f"/v1/visitors/{vid}"))


def test_unparseable_timestamp_is_rejected(workspace: Workspace):
    expect_error(
        workspace.write(
            "/v1/track", {"anonymousId": uid("v_"), "event": "x", "timestamp": "yesterday"}
        ),
        400,
    )


# -- ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_placeholder_ids_are_rejected_in_every_case_and_padding(
    shared_workspace: Workspace, placeholder: str
):
    ws = shared_workspace
    for value in variants(placeholder):
        for field in ("userId", "anonymousId", "user_id", "anonymous_id", "external_id"):
            response = ws.write("/v1/track", {field: value, "event": "x"})
            expect_error(response, 400, "invalid_id")
        response = ws.secret("/v1/identify", {"userId": value, "anonymousId": uid("vid_")})
        expect_error(response, 400, "invalid_id")


@pytest.mark.parametrize("placeholder", ["null", "Undefined", " [object Object] ", "0"])
def test_placeholder_ids_are_never_bound(workspace: Workspace, placeholder: str):
    vid = uid("vid_")
    workspace.send("page", {"anonymousId": vid})
    expect_error(
        workspace.secret("/v1/identify", {"userId": placeholder, "anonymousId": vid}),
        400,
        "invalid_id",
    )
    expect_error(
        workspace.secret("/v1/identify", {"userId": uid("u_"), "anonymousId": placeholder}),
        400,
        "invalid_id",
    )
    assert workspace.contacts(external_id=placeholder.strip()) == []
    assert workspace.visitor(vid)["contact_id"] is None
    # A cookie holding one is ignored, not the page view that carries it (a site's bug would
    # otherwise lose every page view of the browsers it reaches): kept anonymous, flagged.
    sent = workspace.write(
        "/v1/track",
        {
            "anonymousId": vid,
            "event": "x",
            "messageId": f"cookie-{vid}",
            "context": {"external_contact_id": placeholder},
        },
    )
    assert expect(sent) == {"status": "success"}
    (kept,) = workspace.events(anonymous_id=vid, type="track")
    assert kept["contact_id"] is None
    assert kept["flags"] == ["invalid_external_contact_id_ignored"]
    assert workspace.contacts(external_id=placeholder.strip()) == []
    assert workspace.visitor(vid)["contact_id"] is None


def test_id_length_limit_is_255_characters(workspace: Workspace):
    ok_id = "u" * 255
    result = workspace.identify({"userId": ok_id})
    assert workspace.contact(result["contact_id"])["external_id"] == ok_id
    expect_error(workspace.secret("/v1/identify", {"userId": "u" * 256}), 400, "invalid_id")
    expect_error(
        workspace.write("/v1/track", {"anonymousId": "a" * 256, "event": "x"}), 400, "invalid_id"
    )


def test_empty_id_is_rejected(workspace: Workspace):
    error = expect_error(workspace.write("/v1/track", {"anonymousId": "   ", "event": "x"}), 400)
    assert error["code"] in {"invalid_id", "missing_id"}


def test_numeric_user_id_is_accepted_as_its_text(workspace: Workspace):
    number = int(uid("")[:8], 16) + 10
    workspace.send("track", {"userId": number, "event": "x"})
    assert workspace.contact_by_external_id(str(number)) is not None


# -- batches --------------------------------------------------------------------------------------


def test_partial_batch_stores_valid_messages_and_reports_rejected_ones(workspace: Workspace):
    vid = uid("vid_")
    good = [uid("msg_"), uid("msg_"), uid("msg_")]
    bad_mids = [uid("bad_"), uid("bad_"), uid("bad_")]
    result = workspace.batch(
        [
            {"type": "track", "anonymousId": vid, "messageId": good[0], "event": "ok"},
            {"type": "track", "anonymousId": "undefined", "messageId": bad_mids[0], "event": "bad"},
            {"type": "page", "anonymousId": vid, "messageId": good[1]},
            {"type": "track", "messageId": bad_mids[1], "event": "no id"},
            {"type": "page", "anonymousId": vid, "messageId": good[2]},
            {"type": "teleport", "anonymousId": vid, "messageId": bad_mids[2]},
        ]
    )
    assert result["status"] == "success"
    assert result["accepted"] == 3
    rejected = {r["index"]: r for r in result["rejected"]}
    assert set(rejected) == {1, 3, 5}
    assert rejected[1]["code"] == "invalid_id"
    assert rejected[3]["code"] == "missing_id"
    assert all(isinstance(r["message"], str) and r["message"] for r in rejected.values())
    stored = workspace.events(anonymous_id=vid)
    assert sorted(e["message_id"] for e in stored) == sorted(good)

    quarantined = workspace.quarantine(since=iso(ago(minutes=5)))
    for mid in bad_mids:
        matches = [q for q in quarantined if mid in str(q["payload"])]
        assert len(matches) == 1, (mid, quarantined)
        entry = matches[0]
        assert set(entry) >= {"id", "received_at", "code", "message", "payload"}
        assert ISO_RE.match(entry["received_at"])
        assert entry["code"] and entry["message"]


def test_rejected_single_message_is_quarantined_too(workspace: Workspace):
    mid = uid("bad_")
    expect_error(
        workspace.write("/v1/track", {"userId": "null", "messageId": mid, "event": "x"}),
        400,
        "invalid_id",
    )
    entries = [q for q in workspace.quarantine() if mid in str(q["payload"])]
    assert len(entries) == 1
    assert entries[0]["code"] == "invalid_id"


def test_a_body_refused_as_a_whole_is_quarantined_when_its_sender_is_known(
    workspace: Workspace,
):
    mid = uid("bad_")
    unreadable = '{"type": "track", "messageId": "' + mid + '", "event": \x00\xff'
    expect_error(workspace.write("/v1/track", None, content=unreadable), 400, "invalid_json")
    oversized = {"messageId": mid + "-big", "event": "x", "properties": {"b": "x" * 33_000}}
    expect_error(workspace.write("/v1/track", oversized), 413, "payload_too_large")
    kept = {q["code"] for q in workspace.quarantine() if mid in q["payload"]}
    assert kept == {"invalid_json", "payload_too_large"}


def test_quarantine_never_keeps_api_keys_or_passwords(workspace: Workspace):
    """An SDK sends its key as `writeKey`; a hand-made form may send a password. Rejected
    messages keep neither, whether or not their body parses."""
    mid = uid("bad_")
    keyed = {"writeKey": workspace.secret_key, "messageId": mid, "event": "no id"}
    expect_error(workspace.write("/v1/track", keyed), 400, "missing_id")
    broken = '{"writeKey": "' + workspace.secret_key + '", "messageId": "' + mid + '-2", BROKEN'
    expect_error(workspace.write("/v1/track", None, content=broken), 400, "invalid_json")
    form = {"type": "form", "messageId": mid + "-3", "traits": {"Password": 'hun"ter2'}}
    result = workspace.batch([form])
    assert [r["code"] for r in result["rejected"]] == ["missing_id"]
    kept = [q["payload"] for q in workspace.quarantine() if mid in str(q["payload"])]
    assert len(kept) == 3
    text = " ".join(map(str, kept))
    assert workspace.secret_key not in text and workspace.secret_key[:12] not in text
    assert "hun" not in text and "sk_[redacted]" in text and "[redacted]" in text


def test_quarantine_keeps_only_first_4kb_of_payload(workspace: Workspace):
    mid = uid("bad_")
    big = {"type": "track", "messageId": mid, "event": "x", "properties": {"blob": "z" * 20_000}}
    result = workspace.batch([big])
    assert result["accepted"] == 0
    (entry,) = [q for q in workspace.quarantine() if mid in str(q["payload"])]
    payload = (
        entry["payload"] if isinstance(entry["payload"], str) else json.dumps(entry["payload"])
    )
    assert len(payload.encode()) <= 4096


def test_batch_top_level_context_is_merged_into_each_message(workspace: Workspace):
    vid = uid("vid_")
    workspace.batch(
        [
            {"type": "track", "anonymousId": vid, "event": "a"},
            {"type": "track", "anonymousId": vid, "event": "b", "context": {"locale": "de-DE"}},
        ],
        context={"library": {"name": "custom", "version": "9"}, "locale": "en-US"},
    )
    events = {e["event"]: e for e in workspace.events(anonymous_id=vid)}
    assert events["a"]["context"]["library"] == {"name": "custom", "version": "9"}
    assert events["a"]["context"]["locale"] == "en-US"
    assert events["b"]["context"]["library"] == {"name": "custom", "version": "9"}
    assert events["b"]["context"]["locale"] == "de-DE"


def test_import_endpoint_is_an_alias_of_batch(workspace: Workspace):
    vid = uid("vid_")
    body = {
        "batch": [
            {"type": "track", "anonymousId": vid, "event": "imported"},
            {"type": "track", "event": "x"},
        ]
    }
    result = expect(workspace.request("POST", "/v1/import", body, key=workspace.secret_key))
    assert result["accepted"] == 1
    assert [r["index"] for r in result["rejected"]] == [1]
    assert len(workspace.events(anonymous_id=vid)) == 1


@pytest.mark.parametrize(
    "body", [{"batch": "nope"}, {"batch": {"type": "track"}}, {"messages": []}, [1, 2]]
)
def test_malformed_batch_envelope_is_400(shared_workspace: Workspace, body):
    expect_error(shared_workspace.write("/v1/batch", body), 400)


def test_batch_message_that_is_not_an_object_is_rejected_by_index(workspace: Workspace):
    vid = uid("vid_")
    result = workspace.batch([1, "two", None, {"type": "track", "anonymousId": vid, "event": "ok"}])
    assert result["accepted"] == 1
    assert sorted(r["index"] for r in result["rejected"]) == [0, 1, 2]


# -- encodings and limits -------------------------------------------------------------------------


def test_gzip_body_is_accepted_on_batch_and_single_endpoints(workspace: Workspace):
    vid = uid("vid_")
    headers = {
        **basic(workspace.write_key),
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
    }
    batch = {"batch": [{"type": "track", "anonymousId": vid, "event": f"g{i}"} for i in range(20)]}
    expect(workspace.http.post("/v1/batch", content=gzipped(batch), headers=headers))
    expect(
        workspace.http.post(
            "/v1/track", content=gzipped({"anonymousId": vid, "event": "single"}), headers=headers
        )
    )
    assert len(workspace.events(anonymous_id=vid)) == 21


def test_invalid_gzip_body_is_400(shared_workspace: Workspace):
    headers = {**basic(shared_workspace.write_key), "Content-Encoding": "gzip"}
    expect_error(
        shared_workspace.http.post("/v1/batch", content=b"not gzip at all", headers=headers), 400
    )


def test_a_truncated_gzip_body_is_400_not_half_stored(workspace: Workspace):
    vid = uid("vid_")
    batch = {"batch": [{"type": "track", "anonymousId": vid, "event": str(i)} for i in range(50)]}
    whole = gzipped(batch)
    headers = {**basic(workspace.write_key), "Content-Encoding": "gzip"}
    for cut in (whole[:-8], whole[:-4]):  # without its CRC and length, or its length
        expect_error(
            workspace.http.post("/v1/batch", content=cut, headers=headers), 400, "invalid_gzip"
        )
    assert workspace.get(f"/v1/visitors/{vid}").status_code == 404


def test_a_json_body_with_a_byte_order_mark_is_accepted(workspace: Workspace):
    vid = uid("vid_")
    body = b"\xef\xbb\xbf" + json.dumps({"anonymousId": vid, "event": "bom"}).encode()
    expect(workspace.write("/v1/track", None, content=body))
    assert [e["event"] for e in workspace.events(anonymous_id=vid)] == ["bom"]


def test_ids_under_two_names_must_agree(shared_workspace: Workspace):
    same = {"userId": "usr-same", "user_id": "usr-same", "event": "x"}
    expect(shared_workspace.write("/v1/track", same))
    for body in (
        {"userId": "usr-a", "user_id": "usr-b", "event": "x"},
        {"user_id": "usr-a", "external_id": "usr-b", "event": "x"},
        {"anonymousId": "vid-a", "anonymous_id": "vid-b", "event": "x"},
    ):
        expect_error(shared_workspace.write("/v1/track", body), 400, "invalid_id")


@pytest.mark.parametrize("sent_at", [[], {}, "garbage"])
def test_a_sent_at_that_is_not_a_time_is_400(shared_workspace: Workspace, sent_at):
    body = {"anonymousId": uid("vid_"), "event": "x", "sentAt": sent_at}
    expect_error(shared_workspace.write("/v1/track", body), 400, "invalid_timestamp")


@pytest.mark.parametrize("context", ["a string", ["a", "list"], 3])
def test_a_batch_context_that_is_not_an_object_is_400(shared_workspace: Workspace, context):
    body = {
        "batch": [{"type": "track", "anonymousId": uid("vid_"), "event": "x"}],
        "context": context,
    }
    expect_error(shared_workspace.write("/v1/batch", body), 400, "invalid_message")


def test_message_over_32kb_is_413(shared_workspace: Workspace):
    body = {"anonymousId": uid("vid_"), "event": "big", "properties": {"blob": "x" * (33 * 1024)}}
    expect_error(shared_workspace.write("/v1/track", body), 413, "payload_too_large")


def test_message_just_under_32kb_is_accepted(workspace: Workspace):
    vid = uid("vid_")
    body = {"anonymousId": vid, "event": "big", "properties": {"blob": "x" * (30 * 1024)}}
    workspace.send("track", body)
    assert len(workspace.events(anonymous_id=vid)) == 1


def test_oversized_message_inside_batch_is_rejected_not_stored(workspace: Workspace):
    vid = uid("vid_")
    body = {
        "batch": [
            {
                "type": "track",
                "anonymousId": vid,
                "event": "big",
                "properties": {"blob": "x" * (33 * 1024)},
            },
            {"type": "track", "anonymousId": vid, "event": "small"},
        ]
    }
    response = workspace.write("/v1/batch", body)
    if response.status_code == 413:
        expect_error(response, 413, "payload_too_large")
        assert workspace.events(anonymous_id=vid) == []
        return
    result = expect(response)
    assert result["accepted"] == 1
    assert result["rejected"][0]["index"] == 0
    assert result["rejected"][0]["code"] == "payload_too_large"
    assert [e["event"] for e in workspace.events(anonymous_id=vid)] == ["small"]


def test_body_over_500kb_is_413_and_nothing_is_stored(workspace: Workspace):
    vid = uid("vid_")
    messages = [
        {"type": "track", "anonymousId": vid, "event": "e", "properties": {"blob": "y" * 20_000}}
        for _ in range(30)
    ]
    expect_error(workspace.write("/v1/batch", {"batch": messages}), 413, "payload_too_large")
    assert workspace.events(anonymous_id=vid) == []


def test_gzip_body_inflating_over_500kb_is_413(workspace: Workspace):
    vid = uid("vid_")
    messages = [
        {"type": "track", "anonymousId": vid, "event": "e", "properties": {"blob": "y" * 20_000}}
        for _ in range(30)
    ]
    compressed = gzip.compress(json.dumps({"batch": messages}).encode())
    assert len(compressed) < 50_000
    headers = {**basic(workspace.write_key), "Content-Encoding": "gzip"}
    expect_error(
        workspace.http.post("/v1/batch", content=compressed, headers=headers),
        413,
        "payload_too_large",
    )
    assert workspace.events(anonymous_id=vid) == []


def test_invalid_json_is_400_invalid_json(shared_workspace: Workspace):
    for raw in (b"{not json", b"", b'{"a": 1', b"\xff\xfe\x00garbage", b'{"a": "\x00'):
        response = shared_workspace.http.post(
            "/v1/track",
            content=raw,
            headers={**basic(shared_workspace.write_key), "Content-Type": "application/json"},
        )
        expect_error(response, 400, "invalid_json")


def test_non_object_message_is_400_invalid_message(shared_workspace: Workspace):
    for body in ([1, 2, 3], "text", 42, None):
        response = shared_workspace.http.post(
            "/v1/track", content=json.dumps(body), headers=basic(shared_workspace.write_key)
        )
        error = expect_error(response, 400)
        assert error["code"] in {"invalid_message", "invalid_json"}


# -- page views and page_leave --------------------------------------------------------------------


def test_page_leave_sets_duration_and_scroll_depth_on_its_page_view(workspace: Workspace):
    vid, page_mid = uid("vid_"), uid("msg_")
    workspace.send("page", {"anonymousId": vid, "messageId": page_mid, "name": "Pricing"})
    workspace.batch(
        [
            {
                "type": "page_leave",
                "anonymousId": vid,
                "properties": {
                    "page_message_id": page_mid,
                    "duration_ms": 12_345,
                    "scroll_depth": 80,
                },
            }
        ]
    )
    (page,) = workspace.events(anonymous_id=vid, type="page")
    assert page["duration_ms"] == 12_345
    assert page["scroll_depth"] == 80


@pytest.mark.parametrize(
    ("duration", "scroll", "expected_duration", "expected_scroll"),
    [(-5, -10, 0, 0), (99_999_999, 250, 3_600_000, 100)],
)
def test_page_leave_values_are_clamped(
    workspace: Workspace, duration, scroll, expected_duration, expected_scroll
):
    vid, page_mid = uid("vid_"), uid("msg_")
    workspace.send("page", {"anonymousId": vid, "messageId": page_mid})
    result = workspace.batch(
        [
            {
                "type": "page_leave",
                "anonymousId": vid,
                "properties": {
                    "page_message_id": page_mid,
                    "duration_ms": duration,
                    "scroll_depth": scroll,
                },
            }
        ]
    )
    assert result["accepted"] == 1, result
    (page,) = workspace.events(anonymous_id=vid, type="page")
    assert page["duration_ms"] == expected_duration
    assert page["scroll_depth"] == expected_scroll


def test_page_without_leave_gets_duration_from_next_page_of_session(workspace: Workspace):
    vid, sid, other_sid = uid("vid_"), uid("sess_"), uid("sess_")
    start = ago(hours=5)
    pages = [
        ("a", sid, start),
        ("b", sid, start + timedelta(seconds=42)),
        ("c", sid, start + timedelta(hours=3)),  # 3 h later: capped at 1 h
        ("other", other_sid, start + timedelta(seconds=1)),  # another session does not count
        ("last", sid, start + timedelta(hours=3, seconds=30)),
    ]
    workspace.batch(
        [
            {
                "type": "page",
                "anonymousId": vid,
                "name": name,
                "timestamp": iso(at),
                "context": {"session_id": s},
            }
            for name, s, at in pages
        ]
    )
    durations = {
        e["name"]: e["duration_ms"] for e in workspace.events(anonymous_id=vid, type="page")
    }
    assert durations["a"] == 42_000
    assert durations["b"] == 3_600_000
    assert durations["c"] == 30_000
    assert durations["last"] is None
    assert durations["other"] is None


def test_page_leave_beacon_on_collect_updates_its_page_view(workspace: Workspace):
    vid, page_mid = uid("vid_"), uid("msg_")
    headers = {"Content-Type": "text/plain", "Origin": "https://example.com"}
    page = {
        "type": "page",
        "anonymousId": vid,
        "messageId": page_mid,
        "writeKey": workspace.write_key,
    }
    expect(workspace.http.post("/v1/collect", content=json.dumps(page), headers=headers))
    leave = {
        "type": "page_leave",
        "anonymousId": vid,
        "properties": {"page_message_id": page_mid, "duration_ms": 5_000, "scroll_depth": 33.7},
    }
    expect(
        workspace.http.post(
            "/v1/collect",
            params={"key": workspace.write_key},
            content=json.dumps({"batch": [leave]}),
            headers=headers,
        )
    )
    (viewed,) = workspace.events(anonymous_id=vid, type="page")
    assert viewed["duration_ms"] == 5_000
    assert viewed["scroll_depth"] in (33, 34)


@pytest.mark.parametrize(
    "sent",
    [
        "2026-06-09T14:00:00.000+02:00",
        "2026-06-09T12:00:00Z",
        "2026-06-09T12:00:00.000000+00:00",
        "2026-06-09T07:00:00.000-05:00",
        "2026-06-09T12:00:00.000Z",
    ],
)
def test_timestamps_with_offsets_are_stored_in_utc(workspace: Workspace, sent: str):
    vid = uid("vid_")
    workspace.send("track", {"anonymousId": vid, "event": "x", "timestamp": sent})
    (event,) = workspace.events(anonymous_id=vid)
    assert event["timestamp"] == "2026-06-09T12:00:00.000Z"


def test_a_lone_surrogate_or_an_overflowing_number_costs_no_batch(workspace: Workspace):
    """JSON.stringify writes a string cut inside an emoji as a lone "\\ud83d" escape: the
    batch is stored, the broken character replaced; a number past a double becomes null."""
    vid = uid("vid_")
    body = (
        '{"batch": [{"type": "track", "anonymousId": "VID", "event": "cut \\ud83d",'
        ' "properties": {"n": 1e400, "\\udc00k": "v"}},'
        ' {"type": "track", "anonymousId": "VID", "event": "fine \\ud83d\\ude00"}]}'
    ).replace("VID", vid)
    result = expect(workspace.write("/v1/batch", None, content=body.encode()))
    assert result["accepted"] == 2
    events = {e["event"]: e for e in workspace.events(anonymous_id=vid)}
    assert set(events) == {"cut \ufffd", "fine \U0001f600"}
    assert events["cut \ufffd"]["properties"] == {"n": None, "\ufffdk": "v"}
