"""Operating: CRM import and the admin identity operations (SPEC §8)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seam import operations
from seam.clock import now_us, parse_iso
from seam.errors import BadRequest, NotFound
from seam.identity.ids import InvalidId, check_id
from seam.identity.normalize import normalize_email
from seam.ingest.apply import Caller, Ingestion
from seam.ingest.body import decode_json
from seam.store import events as events_repo
from seam.store import reads

from . import render
from .auth import require
from .envelope import JSON
from .ingest import read_body
from .state import app_state

MAX_IMPORT_RECORDS = 5000


def validate_record(raw: Any) -> tuple[str | None, dict[str, Any], int] | str:
    """(external_id, traits, updated_at) of a CRM record, or why it is refused."""
    if not isinstance(raw, dict):
        return "a record must be an object"
    external_id = check_id(raw.get("external_id") or raw.get("userId") or raw.get("user_id"))
    if isinstance(external_id, InvalidId):
        return f"external_id {external_id.reason}"
    traits = raw.get("traits") or {}
    if not isinstance(traits, dict):
        return "traits must be an object"
    traits = dict(traits)
    if raw.get("email") is not None:
        traits.setdefault("email", raw["email"])
    if external_id is None and normalize_email(traits.get("email")) is None:
        return "a record needs an external_id or a valid email"
    updated_at = parse_iso(raw.get("updated_at")) if raw.get("updated_at") else now_us()
    if updated_at is None:
        return "updated_at must be an ISO-8601 date-time"
    return external_id, traits, updated_at


def import_records(
    conn: Connection, caller: Caller, records: list[Any], source: str
) -> dict[str, Any]:
    ingestion = Ingestion(conn, now_us())
    created = updated = 0
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(records):
        checked = validate_record(raw)
        if isinstance(checked, str):
            rejected.append({"index": index, "code": "invalid_record", "message": checked})
            continue
        external_id, traits, updated_at = checked
        _, was_created = ingestion.import_contact(
            caller, external_id=external_id, traits=traits, updated_at=updated_at, source=source
        )
        created += was_created
        updated += not was_created
    ingestion.finish()
    return {"status": "success", "created": created, "updated": updated, "rejected": rejected}


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
    source = payload.get("source", "import") if isinstance(payload, dict) else "import"
    source = f"import:{source}" if source != "import" else source
    caller = principal.caller
    result = await app_state(request).writer.run(
        lambda conn: import_records(conn, caller, records, str(source)[:64])
    )
    return JSON(result)


async def _json_object(request: Request) -> dict[str, Any]:
    payload = decode_json(await read_body(request))
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_message")
    return payload


async def move_visitor(request: Request) -> Response:
    principal = await require(request, "admin")
    payload = await _json_object(request)
    contact_id = payload.get("contact_id")
    if not isinstance(contact_id, str) or not contact_id:
        raise BadRequest("contact_id is required", code="invalid_message")
    anonymous_id = request.path_params["anonymous_id"]
    result = await app_state(request).writer.run(
        lambda conn: operations.move_visitor(
            conn, principal.workspace.id, anonymous_id, contact_id, principal.key.id
        )
    )
    return JSON({"status": "success", **result})


async def merge_contacts(request: Request) -> Response:
    principal = await require(request, "admin")
    payload = await _json_object(request)
    from_id = payload.get("from_contact_id")
    if not isinstance(from_id, str) or not from_id:
        raise BadRequest("from_contact_id is required", code="invalid_message")
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

    def work() -> Any:
        with app_state(request).db.reader.connect() as conn:
            view = reads.contact_view(conn, ws, contact_id)
            if view is None:
                return None
            rows = events_repo.find(
                conn,
                ws,
                events_repo.EventQuery(contact_id=contact_id, descending=False, limit=1_000_000),
            )
            return {**render.contact(view), "events": [render.event(r) for r in rows]}

    document = await run_in_threadpool(work)
    if document is None:
        raise NotFound("no such contact")
    return JSON(
        {"data": document},
        headers={"Content-Disposition": f'attachment; filename="contact-{contact_id}.json"'},
    )


routes = [
    Route("/v1/contacts/import", import_contacts, methods=["POST"]),
    Route("/v1/visitors/{anonymous_id}/move", move_visitor, methods=["POST"]),
    Route("/v1/contacts/{contact_id}/merge", merge_contacts, methods=["POST"]),
    Route("/v1/contacts/{contact_id}", erase_contact, methods=["DELETE"]),
    Route("/v1/contacts/{contact_id}/export", export_contact, methods=["GET"]),
]
