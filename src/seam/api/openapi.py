"""The OpenAPI 3.1 document, generated from `seam.api.schema`."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import msgspec

from seam import __version__
from seam.api import schema
from seam.api.collect import ANALYTICS_JS_PATHS, BROWSER_PATHS

_ERRORS = {
    "400": "invalid message or parameters",
    "401": "missing or invalid key",
    "403": "the key lacks the scope or the origin is not allowed",
    "404": "not found",
    "409": "conflict",
    "413": "payload too large",
    "429": "rate limited",
    "503": "temporarily unavailable",
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(*names: str) -> dict[str, Any]:
    schema_: dict[str, Any] = (
        _ref(names[0]) if len(names) == 1 else {"oneOf": [_ref(n) for n in names]}
    )
    return {"content": {"application/json": {"schema": schema_}}}


def _operation(
    summary: str,
    body: tuple[str, ...],
    result: tuple[str, ...],
    scope: str | None,
    path: str,
    query: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "success", **_json(*result)},
            **{code: {"description": text, **_json("Error")} for code, text in _ERRORS.items()},
        },
    }
    if scope:
        op["security"] = [{"basic": []}, {"bearer": []}]
        op["x-scope"] = scope
    if body:
        op["requestBody"] = {"required": True, **_json(*body)}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ] + [{"name": name, "in": "query", "schema": {"type": "string"}} for name in query]
    if parameters:
        op["parameters"] = parameters
    return op


_PAGE = ("limit", "cursor")
# Names a message may give each id under (SPEC §3: Segment's, and snake_case aliases).
_USER_ID = ("userId", "user_id", "external_id")
_ANONYMOUS_ID = ("anonymousId", "anonymous_id")
_STORING_KINDS = ("track", "page", "screen", "group")  # answered with Success
_IDENTIFYING_KINDS = ("identify", "alias")  # answered with IdentifyResult
_KINDS = _STORING_KINDS + _IDENTIFYING_KINDS


def _kind_schema(kind: str) -> str:
    return f"{kind.capitalize()}Message"


_GIVEN = {"not": {"type": "null"}}  # null is how a client says a field is absent


def _one_of_names(names: tuple[str, ...]) -> dict[str, Any]:
    return {"anyOf": [{"required": [name], "properties": {name: _GIVEN}} for name in names]}


def _message_rules(components: dict[str, Any]) -> None:
    """What `seam.ingest.message.validate` requires beyond the fields' shapes, added to the
    generated schemas: a message names someone; the endpoint of a kind takes only that kind
    (or no type), and a track its event, a group its groupId, an alias previousId and userId;
    a message in a batch, or sent alone to /v1/collect, says its type."""
    components["Message"].update(_one_of_names(_USER_ID + _ANONYMOUS_ID))
    typed = {"required": ["type"], "properties": {"type": _GIVEN}}
    components["TypedMessage"] = {"allOf": [_ref("Message"), typed]}
    components["Batch"]["properties"]["batch"]["items"] = _ref("TypedMessage")
    needs: dict[str, list[dict[str, Any]]] = {
        "track": [{"required": ["event"], "properties": {"event": {**_GIVEN, "minLength": 1}}}],
        "group": [_one_of_names(("groupId", "group_id"))],
        "alias": [_one_of_names(("previousId", "previous_id")), _one_of_names(_USER_ID)],
    }
    for kind in _KINDS:
        own = {"properties": {"type": {"enum": [kind, None]}}}
        components[_kind_schema(kind)] = {"allOf": [_ref("Message"), own, *needs.get(kind, [])]}


# (method, path, summary, request body, 200 body, scope, query parameters)
_OPERATIONS: list[
    tuple[str, str, str, tuple[str, ...], tuple[str, ...], str | None, tuple[str, ...]]
] = [
    *(
        (
            "post",
            f"/v1/{kind}",
            f"Ingest one {kind} message",
            (_kind_schema(kind),),
            ("Success",),
            "events:write",
            (),
        )
        for kind in _STORING_KINDS
    ),
    *(
        (
            "post",
            f"/v1/{kind}",
            "Identify: resolve the contact, bind the visitor, back-fill",
            (_kind_schema(kind),),
            ("IdentifyResult",),
            "events:write",
            (),
        )
        for kind in _IDENTIFYING_KINDS
    ),
    *(
        ("post", path, "Ingest a batch", ("Batch",), ("BatchResult",), "events:write", ())
        for path in ("/v1/batch", "/v1/import")
    ),
    (
        "post",
        "/v1/collect",
        "The tracker's endpoint: a batch, or one message (write key only)",
        ("Batch", "TypedMessage"),
        ("BatchResult", "Success", "IdentifyResult"),
        "events:write",
        ("key",),
    ),
    (
        "post",
        "/v1/b",
        "A batch from Segment's analytics.js (write key in the body)",
        ("Batch",),
        ("BatchResult",),
        "events:write",
        (),
    ),
    *(
        (
            "post",
            f"/v1/{letter}",
            f"One {kind} message from Segment's analytics.js (write key in the body)",
            (_kind_schema(kind),),
            ("IdentifyResult",) if kind in _IDENTIFYING_KINDS else ("Success",),
            "events:write",
            (),
        )
        for letter, kind in ANALYTICS_JS_PATHS.items()
    ),
    (
        "get",
        "/v1/events",
        "The timeline",
        (),
        ("EventPage",),
        "events:read",
        (
            "contact_id",
            "anonymous_id",
            "session_id",
            "identified_only",
            "type",
            "since",
            "until",
            "order",
            *_PAGE,
        ),
    ),
    (
        "get",
        "/v1/contacts",
        "Find contacts",
        (),
        ("ContactPage",),
        "contacts:read",
        ("external_id", "email", "phone", "q", *_PAGE),
    ),
    ("get", "/v1/contacts/{contact_id}", "A contact", (), ("ContactDoc",), "contacts:read", ()),
    (
        "get",
        "/v1/visitors/{anonymous_id}",
        "A visitor and its binding",
        (),
        ("VisitorDoc",),
        "contacts:read",
        (),
    ),
    (
        "get",
        "/v1/audit",
        "Identity decisions",
        (),
        ("AuditPage",),
        "contacts:read",
        ("contact_id", "anonymous_id", "action", *_PAGE),
    ),
    (
        "get",
        "/v1/quarantine",
        "Rejected messages",
        (),
        ("QuarantinePage",),
        "admin",
        ("since", *_PAGE),
    ),
    (
        "post",
        "/v1/contacts/import",
        "CRM import",
        ("ImportBody",),
        ("BatchResult",),
        "contacts:write",
        (),
    ),
    (
        "post",
        "/v1/visitors/{anonymous_id}/move",
        "Move a device to a contact",
        ("MoveBody",),
        ("AdminResult",),
        "admin",
        (),
    ),
    (
        "post",
        "/v1/contacts/{contact_id}/merge",
        "Merge a contact into this one",
        ("MergeBody",),
        ("AdminResult",),
        "admin",
        (),
    ),
    ("delete", "/v1/contacts/{contact_id}", "Erase a contact", (), ("AdminResult",), "admin", ()),
    (
        "get",
        "/v1/contacts/{contact_id}/export",
        "Everything stored of a contact",
        (),
        ("ContactExport",),
        "admin",
        (),
    ),
    (
        "patch",
        "/v1/sessions/{session_id}/identify",
        "Identify a session with the app's JWT",
        (),
        ("SessionIdentifyResult",),
        None,
        (),
    ),
    ("get", "/healthz", "Up, and how many processes serve the database", (), ("Health",), None, ()),
]


@cache
def document() -> dict[str, Any]:
    structs = [getattr(schema, name) for name in schema.DOCUMENTED]
    _, components = msgspec.json.schema_components(
        structs, ref_template="#/components/schemas/{name}"
    )
    _message_rules(components)
    paths: dict[str, Any] = {}
    for method, path, summary, body, result, scope, query in _OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(summary, body, result, scope, path, query)
    paths["/v1/sessions/{session_id}/identify"]["patch"]["security"] = [{"bearer": []}]
    for path, operations in paths.items():
        if path in BROWSER_PATHS:  # origin-checked, write keys only, answered with CORS
            operations["post"]["x-browser"] = True
    return {
        "openapi": "3.1.0",
        "info": {"title": "Seam", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
