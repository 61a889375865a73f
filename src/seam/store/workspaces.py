"""Workspaces and their API keys (keys are stored only as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import secrets
from collections import namedtuple
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from seam.clock import now_us
from seam.ids import new_id
from seam.store.dialect import Statement, insert
from seam.store.jsonb import dumps, loads
from seam.store.tables import api_keys, workspaces

ALL_SCOPES = ("events:write", "contacts:write", "events:read", "contacts:read", "admin")
WRITE_KEY_SCOPES = ("events:write",)


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    domains: tuple[str, ...]
    cookieless: bool
    identity_verification: str
    identity_secret: str
    jwt_secret: str | None
    jwt_public_key: str | None
    jwt_issuer: str | None
    jwt_audience: str | None
    default_region: str | None
    rate_limit: int | None
    created_at: int

    @property
    def verification_required(self) -> bool:
        return self.identity_verification == "required"


@dataclass(frozen=True)
class ApiKey:
    id: str
    workspace_id: str
    kind: str  # "write" | "secret"
    key_hash: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: int
    revoked_at: int | None

    @property
    def is_secret(self) -> bool:
        return self.kind == "secret"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _workspace(row: Any) -> Workspace:
    return Workspace(
        id=row.id,
        name=row.name,
        domains=tuple(loads(row.domains) or ()),
        cookieless=bool(row.cookieless),
        identity_verification=row.identity_verification,
        identity_secret=row.identity_secret,
        jwt_secret=row.jwt_secret,
        jwt_public_key=row.jwt_public_key,
        jwt_issuer=row.jwt_issuer,
        jwt_audience=row.jwt_audience,
        default_region=row.default_region,
        rate_limit=row.rate_limit,
        created_at=row.created_at,
    )


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        workspace_id=row.workspace_id,
        kind=row.kind,
        key_hash=row.key_hash,
        prefix=row.prefix,
        scopes=tuple(loads(row.scopes)),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def create_workspace(
    conn: Connection, name: str, *, domains: Iterable[str] = (), cookieless: bool = False
) -> Workspace:
    workspace_id = new_id()
    conn.execute(
        workspaces.insert().values(
            id=workspace_id,
            name=name,
            domains=dumps(sorted({d.strip().lower() for d in domains if d.strip()})),
            cookieless=cookieless,
            identity_verification="off",
            identity_secret=secrets.token_hex(32),
            created_at=now_us(),
        )
    )
    found = get_workspace(conn, workspace_id)
    assert found is not None
    return found


# Every request's key is looked up again once its cache entry expires: compiled once.
_WorkspaceRow = namedtuple("_WorkspaceRow", [c.name for c in workspaces.columns])  # type: ignore[misc]
_KeyRow = namedtuple("_KeyRow", [c.name for c in api_keys.columns])  # type: ignore[misc]
_workspace_by_id = Statement(
    lambda conn: select(workspaces).where(workspaces.c.id == bindparam("id"))
)
_key_by_hash = Statement(
    lambda conn: select(api_keys).where(api_keys.c.key_hash == bindparam("key_hash"))
)


def get_workspace(conn: Connection, workspace_id: str) -> Workspace | None:
    row = _workspace_by_id.first(conn, id=workspace_id)
    return _workspace(_WorkspaceRow(*row)) if row else None


def find_workspace(conn: Connection, id_or_name: str) -> Workspace | None:
    row = conn.execute(
        select(workspaces).where(
            (workspaces.c.id == id_or_name) | (workspaces.c.name == id_or_name)
        )
    ).first()
    return _workspace(row) if row else None


def list_workspaces(conn: Connection) -> list[Workspace]:
    return [_workspace(r) for r in conn.execute(select(workspaces).order_by(workspaces.c.name))]


def update_workspace(conn: Connection, workspace_id: str, **changes: Any) -> Workspace | None:
    if "domains" in changes:
        changes["domains"] = dumps(sorted({d.strip().lower() for d in changes["domains"]}))
    if changes:
        conn.execute(update(workspaces).where(workspaces.c.id == workspace_id).values(**changes))
    return get_workspace(conn, workspace_id)


def create_key(
    conn: Connection, workspace_id: str, *, kind: str, scopes: Iterable[str]
) -> tuple[ApiKey, str]:
    """A new key and its plain text, which is never stored and shown only this once."""
    values, plain = _new_key(workspace_id, kind, scopes)
    conn.execute(api_keys.insert().values(values))
    return _stored_key(conn, values["id"]), plain


def create_key_once(
    conn: Connection, workspace_id: str, *, form_id: str, kind: str, scopes: Iterable[str]
) -> tuple[ApiKey, str] | None:
    """`create_key` for a dashboard form; None if that form already made a key."""
    values, plain = _new_key(workspace_id, kind, scopes)
    made = conn.execute(
        insert(conn, api_keys)
        .values({**values, "form_id": form_id})
        .on_conflict_do_nothing(index_elements=["workspace_id", "form_id"])
        .returning(api_keys.c.id)
    ).first()
    return (_stored_key(conn, values["id"]), plain) if made else None


def _new_key(workspace_id: str, kind: str, scopes: Iterable[str]) -> tuple[dict[str, Any], str]:
    plain = ("wk_" if kind == "write" else "sk_") + secrets.token_urlsafe(24)
    values = {
        "id": new_id(),
        "workspace_id": workspace_id,
        "kind": kind,
        "key_hash": hash_key(plain),
        "prefix": plain[:7],
        "scopes": dumps(list(dict.fromkeys(scopes))),
        "created_at": now_us(),
    }
    return values, plain


def _stored_key(conn: Connection, key_id: str) -> ApiKey:
    return _key(conn.execute(select(api_keys).where(api_keys.c.id == key_id)).one())


def find_key(conn: Connection, plain: str) -> ApiKey | None:
    row = _key_by_hash.first(conn, key_hash=hash_key(plain))
    return _key(_KeyRow(*row)) if row else None


def list_keys(conn: Connection, workspace_id: str) -> list[ApiKey]:
    rows = conn.execute(
        select(api_keys)
        .where(api_keys.c.workspace_id == workspace_id)
        .order_by(api_keys.c.created_at)
    )
    return [_key(r) for r in rows]


def revoke_key(conn: Connection, key_id: str, *, workspace_id: str | None = None) -> bool:
    stmt = update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
    if workspace_id is not None:
        stmt = stmt.where(api_keys.c.workspace_id == workspace_id)
    return conn.execute(stmt.values(revoked_at=now_us())).rowcount > 0
