"""PATCH /v1/sessions/{id}/identify: a session identified by the customer app's JWT (SPEC §6)."""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seam.app_tokens import verify_app_token
from seam.clock import now_us
from seam.errors import Conflict, NotFound, Unauthorized
from seam.identity.ids import InvalidId, check_id
from seam.identity.trust import Trust
from seam.ids import new_id
from seam.ingest import decisions
from seam.ingest.apply import Caller, IdentifyOutcome, Ingestion
from seam.ingest.message import Message
from seam.store import audit, contacts, timelines, visitors
from seam.store.workspaces import Workspace

from .envelope import JSON
from .state import app_state


async def identify_session(request: Request) -> Response:
    state = app_state(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a Bearer token from your app is required", code="missing_token")
    session_id = request.path_params["session_id"]

    workspaces = await state.all_workspaces()

    def find() -> list[tuple[Workspace, str, str | None]]:
        """(workspace, sub, the session's visitor there) for every workspace whose app key
        verifies the token."""

        def visitor_in(ws: Workspace) -> str | None:
            return state.db.read(lambda conn: timelines.visitor_of_session(conn, ws.id, session_id))

        found = []
        for workspace in workspaces:
            sub = verify_app_token(token.strip(), workspace)
            if sub is not None:
                found.append((workspace, sub, visitor_in(workspace)))
        return found

    verified = await run_in_threadpool(find)
    if not verified:
        raise Unauthorized(
            "the token is invalid, expired or not signed by a known app", code="invalid_token"
        )
    # Workspaces may share an app's key (an RS256/ES256 public key is public): the session
    # names the workspace, and one that more than one of them saw is refused, not guessed.
    with_session = [(ws, sub, visitor) for ws, sub, visitor in verified if visitor is not None]
    if not with_session:
        raise NotFound("no events were seen for this session")
    if len(with_session) > 1:
        raise Conflict(
            "this session was seen in several workspaces that accept this token",
            code="ambiguous_session",
        )
    ((workspace, sub, anonymous_id),) = with_session
    external_id = check_id(sub)
    if external_id is None or isinstance(external_id, InvalidId):
        raise Unauthorized("the token's sub is not a usable external id", code="invalid_token")
    now = now_us()
    message = Message(
        type="identify",
        message_id=new_id(),
        anonymous_id=anonymous_id,
        user_id=external_id,
        timestamp=now,
        received_at=now,
        session_id=session_id,
        context={"session_id": session_id, "identified_by": "app_jwt"},
    )
    caller = Caller(
        workspace=workspace, key_id=None, secret=False, can_write_contacts=False, verified=True
    )
    try:
        outcome = await state.writer.run(lambda conn: _identify(conn, caller, message))
    except Conflict:
        await state.writer.run(lambda conn: _audit_refusal(conn, caller, message))
        raise
    return JSON(
        {
            "status": "success",
            "contact_id": outcome.contact_id,
            "events_linked": outcome.events_linked,
        }
    )


def _identify(conn: Connection, caller: Caller, message: Message) -> IdentifyOutcome:
    """The identify in a transaction of its own: refused (409), it is rolled back, so the
    refusal leaves no contact and no identify event (unlike /v1/identify, where the contact
    part of a refused binding succeeds)."""
    ingestion = Ingestion(conn, message.received_at)
    ingestion.prefetch([(caller, [message])])
    outcome = ingestion.apply(caller, message)
    assert isinstance(outcome, IdentifyOutcome)
    if not outcome.visitor_bound:
        raise Conflict(
            "this session's visitor belongs to another contact",
            code="visitor_bound_to_other_contact",
        )
    ingestion.finish()
    return outcome


def _audit_refusal(conn: Connection, caller: Caller, message: Message) -> None:
    """The refusal is audited like any other (the rolled-back identify wrote nothing); the
    contact is named if it existed before."""
    ws = caller.workspace.id
    assert message.anonymous_id is not None and message.user_id is not None
    bound = visitors.get(conn, ws, message.anonymous_id)
    contact = contacts.by_external_ids(conn, ws, [message.user_id]).get(message.user_id)
    entry = decisions.visitor_bind_refused(
        message.anonymous_id,
        contact.id if contact else None,
        bound.contact_id if bound else None,
        Trust.VERIFIED,
    )
    audit.record(conn, ws, [entry], at=now_us(), key_id=None)


routes = [Route("/v1/sessions/{session_id}/identify", identify_session, methods=["PATCH"])]
