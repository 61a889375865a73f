"""Operating: CRM import and the admin identity operations (SPEC §8)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seam import operations
from seam.errors import BadRequest, NotFound
from seam.ingest.body import decode_json
from seam.ingest.crm import MAX_IMPORT_RECORDS, import_records, source_label
from seam.store import reads, timelines

from . import render
from .auth import require
from .envelope import JSON
from .ingest import read_body
from .state import app_state


async def import_contacts(request: Request) -> Response:
    principal = await require(request, "contacts:write")
    payload = decode_json(await read_body(request))
    records = payload.get("records") if isinstance(payload, dict) else payload
    if not isinstance(records, list):
        raise BadRequest(
            'the body must be {"records": [...]} or an array of records', code="invalid_message"
        )
    if len(records) > MAX_IMPORT_RECORDS:
        raise BadRequest(
            f"at most {MAX_IMPORT_RECORDS} records per request", code="too_many_records"
        )
    source = source_label(payload.get("source", "import") if isinstance(payload, dict) else "")
    caller = principal.caller
    result = await app_state(request).writer.run(
        lambda conn: import_records(conn, caller, records, source)
    )
    return JSON(result)


async def _required_text(request: Request, name: str) -> str:
    """The one string field an admin operation's JSON body must carry."""
    payload = decode_json(await read_body(request))
    value = payload.get(name) if isinstance(payload, dict) else None
    if not isinstance(value, str) or not value:
        raise BadRequest(f"the body must be a JSON object with {name}", code="invalid_message")
    return value


async def move_visitor(request: Request) -> Response:
    principal = await require(request, "admin")
    contact_id = await _required_text(request, "contact_id")
    anonymous_id = request.path_params["anonymous_id"]
    result = await app_state(request).writer.run(
        lambda conn: operations.move_visitor(
            conn, principal.workspace.id, anonymous_id, contact_id, principal.key.id
        )
    )
    return JSON({"status": "success", **result})


async def merge_contacts(request: Request) -> Response:
    principal = await require(request, "admin")
    from_id = await _required_text(request, "from_contact_id")
    into_id = request.path_params["contact_id"]
    result = await app_state(request).writer.run(
        lambda conn: operations.merge_contacts(
            conn, principal.workspace.id, into_id, from_id, principal.key.id
        )
    )
    return JSON({"status": "success", **result})


async def erase_contact(request: Request) -> Response:
    principal = await require(request, "admin")
    contact_id = request.path_params["contact_id"]
    await app_state(request).writer.run(
        lambda conn: operations.erase_contact(
            conn, principal.workspace.id, contact_id, principal.key.id
        )
    )
    return JSON({"status": "success", "contact_id": contact_id, "erased": True})


async def export_contact(request: Request) -> Response:
    principal = await require(request, "admin")
    ws = principal.workspace.id
    contact_id = request.path_params["contact_id"]

    def work(conn: Connection) -> Any:
        view = reads.contact_view(conn, ws, contact_id)
        if view is None:
            return None
        rows = timelines.find(
            conn,
            ws,
            timelines.EventQuery(contact_id=contact_id, descending=False, limit=1_000_000),
        )
        durations = timelines.missing_durations(conn, ws, rows)
        return {**render.contact(view), "events": [render.event(r, durations) for r in rows]}

    document = await app_state(request).read(work)
    if document is None:
        raise NotFound("no such contact")
    return JSON(
        {"data": document},
        headers={"Content-Disposition": f'attachment; filename="contact-{contact_id}.json"'},
    )


routes = [
    Route("/v1/contacts/import", import_contacts, methods=["POST"]),
    Route("/v1/visitors/{anonymous_id:path}/move", move_visitor, methods=["POST"]),
    Route("/v1/contacts/{contact_id}/merge", merge_contacts, methods=["POST"]),
    Route("/v1/contacts/{contact_id}", erase_contact, methods=["DELETE"]),
    Route("/v1/contacts/{contact_id}/export", export_contact, methods=["GET"]),
]
