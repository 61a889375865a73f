"""Dashboard accounts, their workspace memberships and their sign-in sessions.

Session tokens and passwords are never stored in the clear: a session row is keyed by the
SHA-256 of its token (the token has 256 bits of entropy, so a fast hash is enough), and the
password hash is computed by the caller with argon2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, delete, select, update

from seam.ids import new_id
from seam.store.dialect import insert
from seam.store.tables import dashboard_sessions, sign_in_failures, users, workspace_members
from seam.store.workspaces import Workspace, list_workspaces


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password_hash: str


@dataclass(frozen=True)
class SessionRow:
    user: User
    csrf_token: str
    expires_at: int


def _user(row: Any) -> User:
    return User(id=row.id, email=row.email, password_hash=row.password_hash)


def create_user(conn: Connection, email: str, password_hash: str, *, now: int) -> User | None:
    """The new user, or None when the email is taken."""
    user_id = new_id()
    stmt = insert(conn, users).values(
        id=user_id, email=email, password_hash=password_hash, created_at=now
    )
    created = conn.execute(stmt.on_conflict_do_nothing().returning(users.c.id)).first()
    return User(user_id, email, password_hash) if created else None


def by_email(conn: Connection, email: str) -> User | None:
    row = conn.execute(select(users).where(users.c.email == email)).first()
    return _user(row) if row else None


def set_password(conn: Connection, email: str, password_hash: str) -> bool:
    """Replace the user's password and end their sessions (whoever signed in with the old
    one is signed out); False when no user has that email."""
    user_id = conn.execute(
        update(users)
        .where(users.c.email == email)
        .values(password_hash=password_hash)
        .returning(users.c.id)
    ).scalar()
    if user_id is None:
        return False
    conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.user_id == user_id))
    return True


# What a member may do in a workspace's dashboard: an admin everything; a viewer reads people,
# visitors and the identity log, and changes nothing (nor sees the settings and their secrets).
ADMIN = "admin"
VIEWER = "viewer"
ROLES = (ADMIN, VIEWER)
# What `set_role` did: the change, nothing as it would leave no admin, nothing as the user
# is not (or no longer) a member and the change was not to add them.
RoleChange = Literal["done", "last_admin", "not_a_member"]


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    role: str


def takes_the_last_admin(roles: Mapping[str, str], user_id: str, role: str | None) -> bool:
    """Whether giving the member `role` (None: removing them) leaves the workspace, which has
    these members (user id -> role), without an admin: nobody could change its settings,
    keys or members from the dashboard any more."""
    if roles.get(user_id) != ADMIN or role == ADMIN:
        return False
    return not any(r == ADMIN for other, r in roles.items() if other != user_id)


def members(conn: Connection, workspace_id: str, *, lock: bool = False) -> list[Member]:
    """The workspace's members by email. `lock`: hold their rows until the transaction ends
    (PostgreSQL), so two admins demoting each other at once cannot both pass the last-admin
    check."""
    stmt = (
        select(users.c.id, users.c.email, workspace_members.c.role)
        .join(users, users.c.id == workspace_members.c.user_id)
        .where(workspace_members.c.workspace_id == workspace_id)
        .order_by(users.c.email)
    )
    if lock:
        stmt = stmt.with_for_update(of=workspace_members)
    return [Member(row.id, row.email, row.role) for row in conn.execute(stmt)]


def set_role(
    conn: Connection, workspace_id: str, user_id: str, role: str | None, *, add: bool = False
) -> RoleChange:
    """Change a member's role in the workspace, or (None) remove them; `add`: a user who is
    not a member becomes one. Without `add`, a change that comes after the member's removal
    (two admins at once) leaves them removed rather than bringing them back."""
    roles = {m.user_id: m.role for m in members(conn, workspace_id, lock=True)}
    if user_id not in roles and not (add and role is not None):
        return "not_a_member"
    if takes_the_last_admin(roles, user_id, role):
        return "last_admin"
    if role is None:
        conn.execute(
            delete(workspace_members).where(
                workspace_members.c.workspace_id == workspace_id,
                workspace_members.c.user_id == user_id,
            )
        )
        return "done"
    stmt = insert(conn, workspace_members).values(
        workspace_id=workspace_id, user_id=user_id, role=role
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["workspace_id", "user_id"], set_={"role": stmt.excluded.role}
        )
    )
    return "done"


def memberships(conn: Connection, user_id: str) -> list[tuple[Workspace, str]]:
    """The workspaces the user is a member of, by name (the only ones the dashboard shows),
    with the user's role in each."""
    stmt = select(workspace_members.c.workspace_id, workspace_members.c.role).where(
        workspace_members.c.user_id == user_id
    )
    roles = {ws_id: role for ws_id, role in conn.execute(stmt)}
    return [(ws, roles[ws.id]) for ws in list_workspaces(conn) if ws.id in roles]


def create_session(
    conn: Connection, token_hash: str, user_id: str, csrf_token: str, *, now: int, expires_at: int
) -> None:
    # Signing in is also when expired sessions are swept: no background job needed.
    conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.expires_at < now))
    conn.execute(
        dashboard_sessions.insert().values(
            token_hash=token_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=expires_at,
        )
    )


def session(conn: Connection, token_hash: str, *, now: int) -> SessionRow | None:
    row = conn.execute(
        select(
            users.c.id,
            users.c.email,
            users.c.password_hash,
            dashboard_sessions.c.csrf_token,
            dashboard_sessions.c.expires_at,
        )
        .join(users, users.c.id == dashboard_sessions.c.user_id)
        .where(dashboard_sessions.c.token_hash == token_hash, dashboard_sessions.c.expires_at > now)
    ).first()
    if row is None:
        return None
    return SessionRow(_user(row), row.csrf_token, row.expires_at)


def delete_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.token_hash == token_hash))


# Free attempts, then a lock that doubles with each further failure, up to 15 minutes.
FREE_SIGN_IN_FAILURES = 5
MAX_SIGN_IN_LOCK_SECONDS = 900


def sign_in_lock_seconds(failures: int) -> int:
    """How long sign-in stays closed after `failures` failures in a row."""
    if failures < FREE_SIGN_IN_FAILURES:
        return 0
    return min(MAX_SIGN_IN_LOCK_SECONDS, 1 << (failures - FREE_SIGN_IN_FAILURES))


def sign_in_locked_until(conn: Connection, email_hash: str) -> int:
    row = conn.execute(
        select(sign_in_failures.c.locked_until).where(sign_in_failures.c.email_hash == email_hash)
    ).first()
    return int(row.locked_until) if row else 0


def record_sign_in_failure(conn: Connection, email_hash: str, *, now: int) -> None:
    # Counted in the upsert itself: two processes failing at once both count.
    stmt = insert(conn, sign_in_failures).values(email_hash=email_hash, failures=1, locked_until=0)
    failures = conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["email_hash"], set_={"failures": sign_in_failures.c.failures + 1}
        ).returning(sign_in_failures.c.failures)
    ).scalar_one()
    conn.execute(
        update(sign_in_failures)
        .where(sign_in_failures.c.email_hash == email_hash)
        .values(locked_until=now + sign_in_lock_seconds(failures) * 10**6)
    )


def clear_sign_in_failures(conn: Connection, email_hash: str) -> None:
    conn.execute(delete(sign_in_failures).where(sign_in_failures.c.email_hash == email_hash))
