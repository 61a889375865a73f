"""SPEC §8 Errors: every 4xx in the envelope, never a 500 for bad input (a small fuzz)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import Workspace, basic, bearer, expect, expect_error, uid

INGEST_PATHS = [
    "/v1/track",
    "/v1/page",
    "/v1/identify",
    "/v1/group",
    "/v1/alias",
    "/v1/screen",
    "/v1/batch",
]

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        ["null", "undefined", "", " ", "2026-13-45T99:99:99Z", "\u0000", "\ud7ff", "💥" * 5]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "type",
    "userId",
    "anonymousId",
    "user_id",
    "anonymous_id",
    "external_id",
    "messageId",
    "timestamp",
    "sentAt",
    "context",
    "properties",
    "traits",
    "event",
    "name",
    "groupId",
    "previousId",
    "integrations",
    "batch",
]
messages = st.fixed_dictionaries({}, optional={field: json_values for field in FIELDS}).map(
    lambda fields: {"anonymousId": "fuzz-visitor", **fields}
)


def assert_handled(response, allowed=(200, 400, 413)) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    assert response.status_code in allowed, f"{response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        expect_error(response, response.status_code)


@pytest.mark.parametrize("path", INGEST_PATHS)
def test_fuzzed_messages_never_cause_a_500(shared_workspace: Workspace, path: str):
    @FUZZ
    @given(body=messages)
    def run(body: dict[str, Any]) -> None:
        response = shared_workspace.write(path, body)
        assert_handled(response)

    run()


def test_fuzzed_batches_never_cause_a_500(shared_workspace: Workspace):
    @FUZZ
    @given(
        batch=st.lists(messages | json_values, max_size=5), context=json_values, sent_at=json_values
    )
    def run(batch: list[Any], context: Any, sent_at: Any) -> None:
        response = shared_workspace.write(
            "/v1/batch", {"batch": batch, "context": context, "sentAt": sent_at}
        )
        assert_handled(response)
        if response.status_code == 200:
            body = response.json()
            assert body["accepted"] + len(body["rejected"]) == len(batch)

    run()


MESSAGE = b'{"anonymousId": "v", "event": "x", '
GARBAGE = {
    "non-utf8-body": b"\xff\xfe\xfd",
    "non-utf8-string": b'{"anonymousId": "\xff\xfe", "event": "x"}',
    "number-overflow": MESSAGE + b'"properties": {"n": 1e999}}',
    "big-integer": MESSAGE + b'"properties": {"n": 123456789012345678901234567890}}',
    "numeric-timestamp": MESSAGE + b'"timestamp": 1e300}',
    "negative-timestamp": MESSAGE + b'"timestamp": -99999999999999999999}',
    "skew-far-future": MESSAGE
    + b'"timestamp": "9999-12-31T23:59:59Z", "sentAt": "0001-01-01T00:00:00Z"}',
    "skew-below-year-1": MESSAGE
    + b'"timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T23:59:59Z"}',
    "nan-literal": MESSAGE + b'"properties": NaN}',
    "trailing-data": b'{"anonymousId": "v", "event": "x"} trailing',
    "duplicate-keys": MESSAGE + b'"anonymousId": "w"}',
    "deep-array": b"[" * 5000 + b"]" * 5000,
    "deep-object": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "deep-properties": MESSAGE + b'"properties": ' + b"[" * 2000 + b"]" * 2000 + b"}",
    "wrong-id-types": b'{"anonymousId": ["v"], "event": {"x": 1}}',
    "operator-injection": b'{"anonymousId": {"$gt": ""}, "event": "x"}',
    "boolean-id": b'{"anonymousId": true, "event": "x"}',
    "huge-float-id": b'{"anonymousId": 1.5e308, "event": "x"}',
    "context-string": MESSAGE + b'"context": "not an object"}',
    "context-junk": MESSAGE
    + b'"context": {"session_id": {"nested": []}, "external_contact_id": 7.5}}',
    "user-hash-list": MESSAGE + b'"context": {"user_hash": ["a"]}}',
    "long-event-name": b'{"anonymousId": "v", "event": "' + b"e" * 5000 + b'"}',
    "long-message-id": MESSAGE + b'"messageId": "' + b"m" * 1000 + b'"}',
    "nul-bytes": b"\x00\x00\x00",
    "json-null": b"null",
    "json-true": b"true",
    "json-string": b'"just a string"',
}


@pytest.mark.parametrize("raw", list(GARBAGE.values()), ids=list(GARBAGE))
@pytest.mark.parametrize("path", ["/v1/track", "/v1/batch", "/v1/identify"])
def test_garbage_bodies_get_a_4xx_envelope_or_success(
    shared_workspace: Workspace, path: str, raw: bytes
):
    headers = {**basic(shared_workspace.write_key), "Content-Type": "application/json"}
    response = shared_workspace.http.post(path, content=raw, headers=headers)
    assert_handled(response)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/xml"],
)
def test_odd_content_types_are_handled(shared_workspace: Workspace, content_type: str):
    body = json.dumps({"anonymousId": "v", "event": "x"})
    headers = {**basic(shared_workspace.write_key), "Content-Type": content_type}
    assert_handled(shared_workspace.http.post("/v1/track", content=body, headers=headers))


@pytest.mark.parametrize("encoding", ["br", "deflate-ish", "gzip, gzip"])
def test_unsupported_content_encoding_is_a_4xx_envelope(shared_workspace: Workspace, encoding: str):
    headers = {**basic(shared_workspace.write_key), "Content-Encoding": encoding}
    response = shared_workspace.http.post(
        "/v1/track", content=b'{"anonymousId":"v","event":"x"}', headers=headers
    )
    assert 400 <= response.status_code < 500
    expect_error(response, response.status_code)


def test_fuzzed_read_parameters_never_cause_a_500(shared_workspace: Workspace):
    @FUZZ
    @given(
        params=st.dictionaries(
            st.sampled_from(
                [
                    "contact_id",
                    "anonymous_id",
                    "session_id",
                    "identified_only",
                    "type",
                    "since",
                    "until",
                    "order",
                    "limit",
                    "cursor",
                ]
            ),
            st.text(max_size=30),
            max_size=5,
        )
    )
    def run(params: dict[str, str]) -> None:
        response = shared_workspace.http.get(
            "/v1/events", params=params, headers=bearer(shared_workspace.secret_key)
        )
        assert_handled(response, allowed=(200, 400))

    run()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nothing-here"),
        ("GET", "/v1/contacts/%00"),
        ("GET", "/v1/visitors/" + "x" * 300),
        ("DELETE", "/v1/track"),
        ("GET", "/v1/track"),
        ("PUT", "/v1/events"),
    ],
)
def test_unknown_routes_and_methods_use_the_envelope(
    shared_workspace: Workspace, method: str, path: str
):
    response = shared_workspace.http.request(
        method, path, headers=bearer(shared_workspace.secret_key)
    )
    assert 400 <= response.status_code < 500, response.text
    expect_error(response, response.status_code)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/contacts/import", {"DELETE", "GET", "HEAD", "POST"}),
        ("PUT", "/v1/contacts/some-contact", {"DELETE", "GET", "HEAD"}),
        ("GET", "/v1/track", {"POST"}),
        ("PATCH", "/v1/visitors/some-device/move", {"GET", "HEAD", "POST"}),
    ],
)
def test_a_wrong_method_is_told_every_method_the_path_takes(
    shared_workspace: Workspace, method: str, path: str, allowed: set[str]
):
    response = shared_workspace.http.request(
        method, path, headers=bearer(shared_workspace.secret_key)
    )
    expect_error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == allowed


def test_request_id_differs_per_request(shared_workspace: Workspace):
    ids = {
        expect_error(shared_workspace.http.post("/v1/track", json={"event": "x"}), 401)[
            "request_id"
        ]
        for _ in range(3)
    }
    assert len(ids) == 3


NUL_MESSAGES = {
    "nul-in-anonymous-id": {"anonymousId": "nul\u0000id", "event": "x"},
    "nul-in-event-name": {"anonymousId": "nul-visitor", "event": "x\u0000y"},
    "nul-in-properties": {
        "anonymousId": "nul-visitor",
        "event": "x",
        "properties": {"k": "\u0000"},
    },
    "nul-in-property-key": {
        "anonymousId": "nul-visitor",
        "event": "x",
        "properties": {"\u0000": 1},
    },
    "nul-in-trait": {"userId": "nul-user", "traits": {"firstname": "A\u0000"}},
    "nul-in-user-id": {"userId": "nul\u0000user", "event": "x"},
}


@pytest.mark.parametrize("body", list(NUL_MESSAGES.values()), ids=list(NUL_MESSAGES))
def test_nul_characters_are_stored_or_rejected_not_retried_forever(workspace: Workspace, body):
    """A NUL in a string is bad input: 200 (stored, readable) or 400; never 5xx (§8)."""
    kind = "identify" if "traits" in body else "track"
    response = workspace.write(f"/v1/{kind}", body)
    assert_handled(response, allowed=(200, 400))


def test_one_bad_message_does_not_fail_the_good_ones_of_its_batch(workspace: Workspace):
    vid = uid("vid_")
    batch = [
        {"type": "track", "anonymousId": vid, "event": "good"},
        {"type": "track", "anonymousId": vid, "event": "bad\u0000"},
    ]
    response = workspace.write("/v1/batch", {"batch": batch})
    assert_handled(response, allowed=(200,))
    body = response.json()
    stored = [e["event"] for e in workspace.events(anonymous_id=vid)]
    assert "good" in stored
    assert body["accepted"] == len(stored)


def test_values_longer_than_their_columns_never_fail_a_batch(workspace: Workspace):
    """PostgreSQL refuses a value longer than its column (SQLite stores it): whatever a message
    can carry must be checked or left out before it reaches one, or its whole batch fails."""
    vid, user = uid("vid_"), uid("usr_")
    batch = [
        {"type": "track", "anonymousId": vid, "event": "good"},
        {"type": "identify", "userId": user, "traits": {"company": {"id": "c1", "k" * 300: 1}}},
        {
            "type": "identify",
            "userId": user,
            "traits": {"linkedin_url": "linkedin.com/in/" + "a" * 400},
        },
        {"type": "identify", "userId": user, "traits": {"email": "e" * 400 + "@example.com"}},
    ]
    body = expect(workspace.secret("/v1/batch", {"batch": batch}))
    assert (body["accepted"], body["rejected"]) == (4, [])
    assert [e["event"] for e in workspace.events(anonymous_id=vid)] == ["good"]
    contact = workspace.contact_by_external_id(user)
    assert contact is not None and contact["identifiers"]["linkedin_url"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/v1/contacts/%00",
        "/v1/contacts/%00/export",
        "/v1/visitors/a%00b",
        "/v1/contacts?external_id=a%00b",
        "/v1/contacts?email=a%00b@example.com",
        "/v1/audit?contact_id=a%00b",
        "/v1/events?contact_id=a%00b",
        "/v1/events?session_id=a%00b",
    ],
)
def test_nul_in_read_parameters_is_not_a_500(shared_workspace: Workspace, path: str):
    response = shared_workspace.http.get(path, headers=bearer(shared_workspace.secret_key))
    assert_handled(response, allowed=(200, 400, 404))


IDENTIFIER_TRAITS = ["email", "phone", "linkedin_url", "company", "name", "createdAt"]


def test_fuzzed_identifier_traits_never_cause_a_500(shared_workspace: Workspace):
    """Authoritative identifies run resolution and normalization on whatever the traits hold."""

    @FUZZ
    @given(
        traits=st.dictionaries(
            st.sampled_from(IDENTIFIER_TRAITS),
            json_values
            | st.sampled_from(
                [
                    "+1",
                    "+999 123",
                    "a@b",
                    "@",
                    "linkedin.com/in/",
                    "https://linkedin.com/in/%00",
                    "00000000000000000000000000",
                    "mailto:x@y.z",
                    "X@Y.Z ",
                    "tel:+14155552671",
                ]
            ),
            max_size=4,
        ),
        with_user=st.booleans(),
    )
    def run(traits: dict[str, Any], with_user: bool) -> None:
        body: dict[str, Any] = {"anonymousId": uid("fz_"), "traits": traits}
        if with_user:
            body["userId"] = uid("fz_")
        response = shared_workspace.secret("/v1/identify", body)
        assert_handled(response, allowed=(200, 400))
        group = {"userId": uid("fz_"), "groupId": uid("g_"), "traits": traits}
        assert_handled(shared_workspace.secret("/v1/group", group), allowed=(200, 400))

    run()


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# Client-made cursors: numbers past what the databases store, non-ASCII digits, 5,000 digits.
CRAFTED_CURSORS = [
    ("/v1/events?anonymous_id=a", _cursor("1790812800000000|99999999999999999999999")),
    ("/v1/events?anonymous_id=a", _cursor("-99999999999999999999|1")),
    ("/v1/events?anonymous_id=a", _cursor("1790812800000000|²")),
    ("/v1/contacts", _cursor("99999999999999999999999|x")),
    ("/v1/contacts", _cursor("¹²|x")),
    ("/v1/audit", _cursor("99999999999999999999999")),
    ("/v1/audit", _cursor("9" * 5000)),
    ("/v1/quarantine", _cursor("99999999999999999999999")),
]


@pytest.mark.parametrize(("path", "cursor"), CRAFTED_CURSORS)
def test_crafted_cursors_are_refused_as_invalid(shared_workspace: Workspace, path: str, cursor):
    sep = "&" if "?" in path else "?"
    response = shared_workspace.http.get(
        f"{path}{sep}cursor={cursor}", headers=bearer(shared_workspace.secret_key)
    )
    expect_error(response, 400, "invalid_cursor")


@pytest.mark.parametrize("limit", ["²", "9" * 5000, "99999999999999999999999", "-1", "0"])
def test_odd_limits_are_refused_as_invalid(shared_workspace: Workspace, limit: str):
    response = shared_workspace.http.get(
        "/v1/audit", params={"limit": limit}, headers=bearer(shared_workspace.secret_key)
    )
    expect_error(response, 400, "invalid_parameter")
