"""The OpenAPI 3.1 document, generated from `seam.api.schema`."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from seam import __version__
from seam.api import schema

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


def _json(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(name)}}}


def _operation(
    summary: str,
    body: str | None,
    result: str,
    scope: str,
    params: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"basic": []}, {"bearer": []}],
        "x-scope": scope,
        "responses": {
            "200": {"description": "success", **_json(result)},
            **{code: {"description": text, **_json("Error")} for code, text in _ERRORS.items()},
        },
    }
    if body:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = [
            {"name": p, "in": "query", "schema": {"type": "string"}} for p in params
        ]
    return op


@cache
def document() -> dict[str, Any]:
    structs = [
        schema.Message,
        schema.Batch,
        schema.BatchResult,
        schema.IdentifyResult,
        schema.Error,
        schema.EventPage,
        schema.ContactDoc,
        schema.ImportBody,
    ]
    _, components = msgspec.json.schema_components(
        structs, ref_template="#/components/schemas/{name}"
    )
    paths: dict[str, Any] = {}
    for kind in ("track", "page", "screen", "group", "alias"):
        paths[f"/v1/{kind}"] = {
            "post": _operation(
                f"Ingest one {kind} message", "Message", "BatchResult", "events:write"
            )
        }
    paths["/v1/identify"] = {
        "post": _operation(
            "Identify: resolve the contact, bind the visitor, back-fill",
            "Message",
            "IdentifyResult",
            "events:write",
        )
    }
    for path in ("/v1/batch", "/v1/import", "/v1/collect"):
        paths[path] = {"post": _operation("Ingest a batch", "Batch", "BatchResult", "events:write")}
    paths["/v1/events"] = {
        "get": _operation(
            "The timeline",
            None,
            "EventPage",
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
                "limit",
                "cursor",
            ),
        )
    }
    paths["/v1/contacts/{id}"] = {
        "get": _operation("A contact", None, "ContactDoc", "contacts:read")
    }
    paths["/v1/contacts/import"] = {
        "post": _operation("CRM import", "ImportBody", "BatchResult", "contacts:write")
    }
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
