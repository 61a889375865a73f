"""Messages through the write path's unit of work, one transaction, as the writer applies them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seam.clock import now_us
from seam.ingest.apply import Caller, IdentifyOutcome, Ingestion
from seam.ingest.message import Message, validate
from seam.store import workspaces
from seam.store.engine import Database
from seam.store.events import EventRow


def secret_key_caller(db: Database, name: str) -> Caller:
    """A new workspace `name`, written to as a server does: with a secret key."""
    with db.writer.begin() as conn:
        ws = workspaces.create_workspace(conn, name)
    return Caller(workspace=ws, key_id=None, secret=True, can_write_contacts=True)


def ingest(
    db: Database, caller: Caller, raw: Sequence[dict[str, Any]], *, now: int | None = None
) -> list[IdentifyOutcome | None]:
    """Validate and apply `raw` in one transaction received at `now` (default: the clock)."""
    at = now_us() if now is None else now
    with db.writer.begin() as conn:
        ingestion = Ingestion(conn, at)
        messages = [validate(r, received_at=at) for r in raw]
        assert all(isinstance(m, Message) for m in messages), messages
        valid = [m for m in messages if isinstance(m, Message)]
        ingestion.prefetch([(caller, valid)])
        outcomes = [ingestion.apply(caller, m) for m in valid]
        ingestion.finish()
    return outcomes


def stored_event_row(**columns: Any) -> EventRow:
    """A row for `events.insert_events`, bypassing the write path: a track event of November
    2023 with empty documents, every other column empty unless `columns` says otherwise
    (`workspace_id` and `message_id` must be given)."""
    defaults: dict[str, Any] = {
        "type": "track",
        "event": "Signed Up",
        "timestamp": 1_700_000_000_000_000,
        "received_at": 1_700_000_000_000_000,
        "properties": "{}",
        "traits": "{}",
        "context": "{}",
    }
    return EventRow(**{**defaults, **columns})
