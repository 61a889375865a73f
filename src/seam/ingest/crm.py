"""CRM / integration sync (SPEC §8): records upserted with trust `import`, their traits
observed at the record's `updated_at`, so an older sync never clobbers newer values."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from seam.clock import now_us, parse_iso
from seam.identity.ids import InvalidId, check_id
from seam.identity.normalize import normalize_email
from seam.ingest.apply import Caller, Ingestion
from seam.ingest.message import FUTURE_LIMIT_US, trait_name_problem

MAX_IMPORT_RECORDS = 5000


def validate_record(raw: Any, received_at: int) -> tuple[str | None, dict[str, Any], int] | str:
    """(external_id, traits, updated_at) of a CRM record, or why it is refused."""
    if not isinstance(raw, dict):
        return "a record must be an object"
    external_id = check_id(raw.get("external_id") or raw.get("userId") or raw.get("user_id"))
    if isinstance(external_id, InvalidId):
        return f"external_id {external_id.reason}"
    traits = raw.get("traits") or {}
    if not isinstance(traits, dict):
        return "traits must be an object"
    for name in traits:
        problem = trait_name_problem(name)
        if problem:
            return problem
    traits = dict(traits)
    if raw.get("email") is not None:
        traits.setdefault("email", raw["email"])
    if external_id is None and normalize_email(traits.get("email")) is None:
        return "a record needs an external_id or a valid email"
    updated_at = parse_iso(raw.get("updated_at")) if raw.get("updated_at") else received_at
    if updated_at is None:
        return "updated_at must be an ISO-8601 date-time"
    if updated_at > received_at + FUTURE_LIMIT_US:
        # As for message timestamps (SPEC §3): most-recent-wins would otherwise let a far-future
        # updated_at pin its traits against every later observation.
        updated_at = received_at
    return external_id, traits, updated_at


def source_label(source: object) -> str:
    """The trait source an import records: `import`, or `import:NAME` (within its column)."""
    name = str(source).replace("\x00", "")
    return "import" if name in ("", "import") else f"import:{name}"[:64]


def import_records(
    conn: Connection, caller: Caller, records: list[Any], source: str
) -> dict[str, Any]:
    received_at = now_us()
    ingestion = Ingestion(conn, received_at)
    created = updated = 0
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(records):
        checked = validate_record(raw, received_at)
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
