"""The `seam` command (SPEC §9)."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from sqlalchemy import Connection

from seam.app_tokens import public_key_problem, secret_too_short
from seam.settings import DEFAULT_DATABASE_URL, Settings
from seam.store import transactions
from seam.store import workspaces as ws_store
from seam.store.engine import Database, open_database
from seam.store.migrations import migrate as apply_migrations
from seam.store.users import ADMIN, ROLES
from seam.store.workspaces import ALL_SCOPES, WRITE_KEY_SCOPES, Workspace

db_option = click.option(
    "--db",
    "db_url",
    envvar="SEAM_DATABASE_URL",
    default=DEFAULT_DATABASE_URL,
    show_default=True,
    help="Database URL: sqlite:///FILE or postgresql://…",
)


def _open(db_url: str) -> Database:
    db = open_database(db_url)
    apply_migrations(db)
    return db


def workspace_document(ws: Workspace) -> dict[str, Any]:
    return {
        "id": ws.id,
        "name": ws.name,
        "domains": list(ws.domains),
        "cookieless": ws.cookieless,
        "identity_verification": ws.identity_verification,
        "identity_secret": ws.identity_secret,
        "jwt_issuer": ws.jwt_issuer,
        "jwt_audience": ws.jwt_audience,
        "jwt_configured": bool(ws.jwt_secret or ws.jwt_public_key),
        "default_region": ws.default_region,
        "rate_limit": ws.rate_limit,
    }


def create_workspace_with_keys(
    db: Database, name: str, domains: tuple[str, ...] = (), cookieless: bool = False
) -> dict[str, Any]:
    with db.writer.begin() as conn:
        ws = ws_store.create_workspace(conn, name, domains=domains, cookieless=cookieless)
        _, write_key = ws_store.create_key(conn, ws.id, kind="write", scopes=WRITE_KEY_SCOPES)
        _, secret_key = ws_store.create_key(conn, ws.id, kind="secret", scopes=ALL_SCOPES)
    return {"id": ws.id, "name": ws.name, "write_key": write_key, "secret_key": secret_key}


def demo_write_key(db: Database) -> str:
    """A fresh write key of the first workspace for the demo pages (keys are stored hashed, so
    an existing one cannot be read back)."""
    with db.writer.begin() as conn:
        first = ws_store.list_workspaces(conn)[0]
        default = ws_store.find_workspace(conn, "default") or first
        _, plain = ws_store.create_key(conn, default.id, kind="write", scopes=WRITE_KEY_SCOPES)
    return plain


@click.group()
def main() -> None:
    """Seam: Segment-compatible event collection that turns visitors into contacts."""


@main.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=int,
    help="Server processes (use PostgreSQL for more than one in production).",
)
@click.option("--demo", is_flag=True, help="Also serve the demo site at /demo/.")
@click.option(
    "--forwarded-allow-ips",
    envvar="SEAM_FORWARDED_ALLOW_IPS",
    default="127.0.0.1",
    show_default=True,
    help="Proxies (comma-separated IPs or networks, * for any) whose X-Forwarded-For names "
    "the client; a request from anyone else is its own client.",
)
def serve(
    db_url: str, host: str, port: int, workers: int, demo: bool, forwarded_allow_ips: str
) -> None:
    """Migrate the database and serve the API."""
    import uvicorn

    try:
        Settings.from_env()  # a bad SEAM_* value stops here, not in every server process
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    db = _open(db_url)
    with db.reader.connect() as conn:
        empty = not ws_store.list_workspaces(conn)
    if empty:
        created = create_workspace_with_keys(db, "default", ("localhost", "127.0.0.1"))
        click.echo("Created workspace 'default'. Its keys are shown only this once:")
        click.echo(f"  workspace id: {created['id']}")
        click.echo(f"  write key:    {created['write_key']}   (browsers, Segment client SDKs)")
        click.echo(f"  secret key:   {created['secret_key']}   (servers only)")
    if demo:
        os.environ["SEAM_DEMO"] = "1"
        os.environ["SEAM_DEMO_WRITE_KEY"] = demo_write_key(db)
        click.echo(f"Demo site: http://{host}:{port}/demo/")
    db.dispose()
    os.environ["SEAM_DATABASE_URL"] = db_url
    click.echo(f"Seam listening on http://{host}:{port}")
    sys.stdout.flush()
    uvicorn.run(
        "seam.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="seam.http_protocol:SeamHttpProtocol",
        forwarded_allow_ips=forwarded_allow_ips,
    )


@main.command()
@db_option
def migrate(db_url: str) -> None:
    """Apply the schema migrations the database lacks."""
    db = open_database(db_url)
    applied = apply_migrations(db)
    click.echo(f"applied migrations: {applied}" if applied else "the schema is up to date")


@main.group()
def workspace() -> None:
    """Create and configure workspaces."""


def _domains(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    from seam.api.browser import domain_problem

    for domain in value:
        problem = domain_problem(domain)
        if problem:
            raise click.BadParameter(problem)
    return tuple(d.lower() for d in value)


def _bounded(limit: int) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A text option no longer than its column (PostgreSQL refuses a longer value)."""

    def check(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value is not None and len(value) > limit:
            raise click.BadParameter(f"at most {limit} characters")
        return value

    return check


def _region(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    import phonenumbers

    if value is not None and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise click.BadParameter(f"{value!r} is not a region code such as US, GB or DE")
    return value.upper() if value is not None else None


@workspace.command("create")
@click.argument("name", callback=_bounded(200))
@click.option(
    "--domain",
    "domains",
    multiple=True,
    callback=_domains,
    help="A domain the tracker may send from.",
)
@click.option("--cookieless", is_flag=True, help="Store nothing in browsers; fingerprint.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
def workspace_create(
    name: str, domains: tuple[str, ...], cookieless: bool, as_json: bool, db_url: str
) -> None:
    """Create a workspace and print its write and secret keys (shown only once)."""
    created = create_workspace_with_keys(_open(db_url), name, domains, cookieless)
    if as_json:
        click.echo(json.dumps(created))
    else:
        for label, value in created.items():
            click.echo(f"{label}: {value}")


@workspace.command("update")
@click.argument("workspace_id")
@click.option(
    "--domain",
    "domains",
    multiple=True,
    callback=_domains,
    help="Replace the domains with these.",
)
@click.option("--cookieless/--no-cookieless", default=None)
@click.option("--identity-verification", type=click.Choice(["off", "required"]))
@click.option("--jwt-secret", help="HS256 secret of your app's JWTs.")
@click.option("--jwt-public-key", type=click.File("r"), help="RS256/ES256 public key (PEM).")
@click.option("--jwt-issuer", callback=_bounded(500))
@click.option("--jwt-audience", callback=_bounded(500))
@click.option(
    "--default-region",
    callback=_region,
    help="Phone region for numbers without a country code.",
)
@click.option(
    "--rate-limit",
    type=click.IntRange(min=1, max=2**31 - 1),
    help="Requests per second per key (at least 1).",
)
@click.option("--json", "as_json", is_flag=True)
@db_option
def workspace_update(
    workspace_id: str,
    domains: tuple[str, ...],
    cookieless: bool | None,
    identity_verification: str | None,
    jwt_secret: str | None,
    jwt_public_key: Any,
    jwt_issuer: str | None,
    jwt_audience: str | None,
    default_region: str | None,
    rate_limit: int | None,
    as_json: bool,
    db_url: str,
) -> None:
    """Change a workspace's settings; prints it, with the identity secret for user_hash."""
    changes: dict[str, Any] = {}
    if domains:
        changes["domains"] = domains
    if cookieless is not None:
        changes["cookieless"] = cookieless
    if identity_verification:
        changes["identity_verification"] = identity_verification
    if jwt_secret:
        problem = secret_too_short(jwt_secret)
        if problem:
            raise click.BadParameter(problem, param_hint="--jwt-secret")
        changes.update(jwt_secret=jwt_secret, jwt_public_key=None)
    if jwt_public_key is not None:
        pem = jwt_public_key.read()
        problem = public_key_problem(pem)
        if problem:
            raise click.BadParameter(problem, param_hint="--jwt-public-key")
        changes.update(jwt_public_key=pem, jwt_secret=None)
    for name, value in (
        ("jwt_issuer", jwt_issuer),
        ("jwt_audience", jwt_audience),
        ("default_region", default_region),
        ("rate_limit", rate_limit),
    ):
        if value is not None:
            changes[name] = value
    db = _open(db_url)
    with db.writer.begin() as conn:
        ws = ws_store.find_workspace(conn, workspace_id)
        if ws is None:
            raise click.ClickException(f"no workspace {workspace_id!r}")
        updated = ws_store.update_workspace(conn, ws.id, **changes)
    assert updated is not None
    doc = workspace_document(updated)
    click.echo(json.dumps(doc) if as_json else "\n".join(f"{k}: {v}" for k, v in doc.items()))


@workspace.command("list")
@db_option
def workspace_list(db_url: str) -> None:
    """List workspaces."""
    with _open(db_url).reader.connect() as conn:
        for ws in ws_store.list_workspaces(conn):
            click.echo(f"{ws.id}  {ws.name}  {','.join(ws.domains)}")


@main.group()
def key() -> None:
    """Create and revoke API keys."""


@key.command("create")
@click.option("--workspace", "workspace_id", required=True)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(ALL_SCOPES),
    help="Repeatable; default: all scopes.",
)
@click.option("--write-key", is_flag=True, help="A public wk_ key (events:write only).")
@click.option("--json", "as_json", is_flag=True)
@db_option
def key_create(
    workspace_id: str, scopes: tuple[str, ...], write_key: bool, as_json: bool, db_url: str
) -> None:
    """Create a key (a secret sk_ key unless --write-key); the key is shown only once."""
    db = _open(db_url)
    with db.writer.begin() as conn:
        ws = ws_store.find_workspace(conn, workspace_id)
        if ws is None:
            raise click.ClickException(f"no workspace {workspace_id!r}")
        kind = "write" if write_key else "secret"
        record, plain = ws_store.create_key(
            conn, ws.id, kind=kind, scopes=WRITE_KEY_SCOPES if write_key else (scopes or ALL_SCOPES)
        )
    doc = {"id": record.id, "key": plain, "scopes": list(record.scopes)}
    click.echo(json.dumps(doc) if as_json else f"{doc['id']}  {plain}  {' '.join(doc['scopes'])}")


@key.command("revoke")
@click.argument("key_id")
@db_option
def key_revoke(key_id: str, db_url: str) -> None:
    """Revoke a key by its id."""
    with _open(db_url).writer.begin() as conn:
        if not ws_store.revoke_key(conn, key_id):
            raise click.ClickException(f"no active key {key_id!r}")
    click.echo(f"revoked {key_id}")


role_option = click.option(
    "--role",
    type=click.Choice(ROLES),
    default=ADMIN,
    show_default=True,
    help="In those workspaces: admin (everything) or viewer (reads; changes nothing).",
)


workspaces_option = click.option(
    "--workspace",
    "workspace_ids",
    multiple=True,
    required=True,
    help="Workspace id or name (repeatable).",
)


@main.group()
def user() -> None:
    """Dashboard accounts."""


@user.command("create")
@click.argument("email")
@click.option(
    "--workspace",
    "workspace_ids",
    multiple=True,
    help="Workspace id or name the user may see (repeatable; default: every workspace).",
)
@role_option
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--generate-password", is_flag=True, help="Generate a password and print it once.")
@db_option
def user_create(
    email: str,
    workspace_ids: tuple[str, ...],
    role: str,
    password_stdin: bool,
    generate_password: bool,
    db_url: str,
) -> None:
    """Create a dashboard user (the password is prompted, read or generated; stored as an
    argon2 hash) and make it a member of workspaces."""
    from seam.clock import now_us
    from seam.store import users
    from seam.web.auth import hash_password

    email = email.strip().lower()
    if "@" not in email:
        raise click.ClickException("give an email address")
    password, generated = _new_password(password_stdin, generate_password)
    password_hash = hash_password(password)
    db = _open(db_url)
    with db.writer.begin() as conn:
        if workspace_ids:
            members = _workspaces_named(conn, workspace_ids)
        else:
            members = ws_store.list_workspaces(conn)
        created = users.create_user(conn, email, password_hash, now=now_us())
        if created is None:
            raise click.ClickException(f"a user {email!r} already exists")
        for ws in members:
            users.set_role(conn, ws.id, created.id, role, add=True)
    names = ", ".join(ws.name for ws in members) or "no workspace"
    click.echo(f"created user {email} ({role} of: {names})")
    if generated:
        click.echo(f"password (shown only this once): {generated}")


@user.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--generate-password", is_flag=True, help="Generate a password and print it once.")
@db_option
def user_password(email: str, password_stdin: bool, generate_password: bool, db_url: str) -> None:
    """Give a dashboard user a new password (one who forgot theirs): their open sessions end
    and failed sign-ins no longer hold their account closed."""
    from seam.store import users
    from seam.web.auth import hash_password, token_hash

    email = email.strip().lower()
    password, generated = _new_password(password_stdin, generate_password)
    password_hash = hash_password(password)
    db = _open(db_url)
    with db.writer.begin() as conn:
        if not users.set_password(conn, email, password_hash):
            raise click.ClickException(f"no user {email!r}")
        users.clear_sign_in_failures(conn, token_hash(email))  # as sign-in keys its failures
    click.echo(f"new password set for {email}; their sessions are signed out")
    if generated:
        click.echo(f"password (shown only this once): {generated}")


def _new_password(from_stdin: bool, generate: bool) -> tuple[str, str | None]:
    """The password read from standard input, generated, or prompted twice; and the generated
    one again, to print once."""
    import secrets

    generated = None
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif generate:
        password = generated = secrets.token_urlsafe(15)
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.ClickException("the password needs at least 8 characters")
    return password, generated


@user.command("grant")
@click.argument("email")
@workspaces_option
@role_option
@db_option
def user_grant(email: str, workspace_ids: tuple[str, ...], role: str, db_url: str) -> None:
    """Make an existing dashboard user a member of workspaces, or change their role there."""
    names = _set_role(db_url, email, workspace_ids, role)
    click.echo(f"{email.strip().lower()} is now {role} of: {names}")


@user.command("revoke")
@click.argument("email")
@workspaces_option
@db_option
def user_revoke(email: str, workspace_ids: tuple[str, ...], db_url: str) -> None:
    """Remove a dashboard user from workspaces (their open sessions lose them at once)."""
    names = _set_role(db_url, email, workspace_ids, None)
    click.echo(f"{email.strip().lower()} is no longer a member of: {names}")


@user.command("list")
@click.option("--workspace", "workspace_ids", multiple=True, help="Only these (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per membership.")
@db_option
def user_list(workspace_ids: tuple[str, ...], as_json: bool, db_url: str) -> None:
    """The members of each workspace, with their roles."""
    from seam.store import users

    db = _open(db_url)
    with db.reader.connect() as conn:
        chosen = (
            _workspaces_named(conn, workspace_ids)
            if workspace_ids
            else ws_store.list_workspaces(conn)
        )
        listed = [(ws, users.members(conn, ws.id)) for ws in chosen]
    for ws, members in listed:
        for m in members:
            if as_json:
                row = {"workspace_id": ws.id, "workspace": ws.name, "email": m.email}
                click.echo(json.dumps({**row, "role": m.role}))
            else:
                click.echo(f"{ws.name}\t{m.email}\t{m.role}")


def _set_role(db_url: str, email: str, workspace_ids: tuple[str, ...], role: str | None) -> str:
    """Give the user `role` (None: remove them) in each workspace, all or none; the names of
    the workspaces, or a usage error."""
    from seam.store import users

    email = email.strip().lower()
    db = _open(db_url)
    with db.writer.begin() as conn:
        user = users.by_email(conn, email)
        if user is None:
            raise click.ClickException(f"no user {email!r}")
        chosen = _workspaces_named(conn, workspace_ids)
        for ws in chosen:
            # Removing a non-member is already done; granting adds.
            if users.set_role(conn, ws.id, user.id, role, add=True) == "last_admin":
                raise click.ClickException(
                    f"{email} is the last admin of {ws.name!r}; make another member admin first"
                )
    return ", ".join(ws.name for ws in chosen)


def _workspaces_named(conn: Connection, names: tuple[str, ...]) -> list[Workspace]:
    """The workspaces these ids or names give, or a usage error naming the first unknown."""
    found = [ws_store.find_workspace(conn, w) for w in names]
    missing = [w for w, ws in zip(names, found, strict=True) if ws is None]
    if missing:
        raise click.ClickException(f"no workspace {missing[0]!r}")
    return [ws for ws in found if ws is not None]


IMPORT_FORMATS = (".csv", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class Unreadable:
    """A line of an import file that is not JSON: refused like an invalid record, in its place."""

    reason: str


def _json_record(line: str, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return Unreadable(f"line {number} is not JSON ({exc.msg} at column {exc.colno})")
    except (ValueError, RecursionError) as exc:  # too deep, or an integer of 4,300+ digits
        return Unreadable(f"line {number} is not usable JSON ({exc})")


def read_records(path: str) -> list[Any]:
    """CRM records from a CSV (columns external_id, email, updated_at, and any trait) or a
    JSON-lines file (objects shaped like POST /v1/contacts/import records; blank lines are
    skipped, a line that is not JSON is an `Unreadable`). Both are UTF-8, with or without a BOM
    (spreadsheets write one)."""
    import codecs
    import csv
    import io

    extension = os.path.splitext(path)[1].lower()
    if extension not in IMPORT_FORMATS:
        raise click.BadParameter(
            f"{path!r} is not a {', '.join(IMPORT_FORMATS[:-1])} or {IMPORT_FORMATS[-1]} file",
            param_hint="PATH",
        )
    with open(path, "rb") as handle:
        data = handle.read().removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise click.ClickException(f"{path}: line {line} is not UTF-8 text") from None
    if extension != ".csv":
        # Split on newlines only: str.splitlines would also cut at U+2028 inside a JSON string.
        lines = enumerate(text.split("\n"), start=1)
        return [_json_record(line, number) for number, line in lines if line.strip()]
    records: list[Any] = []
    try:
        for row in csv.DictReader(io.StringIO(text, newline="")):
            fields = {k: v for k, v in row.items() if k and v not in (None, "")}
            record: dict[str, Any] = {
                name: fields.pop(name)
                for name in ("external_id", "email", "updated_at")
                if name in fields
            }
            record["traits"] = fields
            records.append(record)
    except csv.Error as exc:
        raise click.ClickException(f"{path}: record {len(records) + 1}: {exc}") from None
    return records


@main.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--workspace", "workspace_id", required=True)
@click.option("--source", default="import", show_default=True, help="Recorded as trait source.")
@db_option
def import_file(path: str, workspace_id: str, source: str, db_url: str) -> None:
    """Upsert contacts from a CSV or JSONL file with trust `import` (a CRM sync)."""
    from rich.progress import Progress

    from seam.ingest.apply import Caller
    from seam.ingest.crm import import_records, source_label

    records = read_records(path)
    db = _open(db_url)
    with db.reader.connect() as conn:
        ws = ws_store.find_workspace(conn, workspace_id)
    if ws is None:
        raise click.ClickException(f"no workspace {workspace_id!r}")
    caller = Caller(workspace=ws, key_id=None, secret=True, can_write_contacts=True)
    label = source_label(source)
    totals = {"created": 0, "updated": 0, "rejected": 0}
    with Progress() as progress:
        task = progress.add_task(f"importing {len(records)} records", total=len(records))
        for start in range(0, len(records), 500):
            chunk = records[start : start + 500]
            readable = [i for i, record in enumerate(chunk) if not isinstance(record, Unreadable)]
            wanted = [chunk[i] for i in readable]
            result = transactions.run(
                db.writer,
                functools.partial(import_records, caller=caller, records=wanted, source=label),
            )
            totals["created"] += result["created"]
            totals["updated"] += result["updated"]
            # Rejections are by position among the records imported: map them back to the file's.
            refused = [(i, r.reason) for i, r in enumerate(chunk) if isinstance(r, Unreadable)]
            refused += [(readable[r["index"]], r["message"]) for r in result["rejected"]]
            totals["rejected"] += len(refused)
            for index, message in sorted(refused):
                progress.console.print(f"record {start + index + 1}: {message}")
            progress.advance(task, len(chunk))
    click.echo(
        f"created {totals['created']}, updated {totals['updated']}, rejected {totals['rejected']}"
    )


@main.command()
@db_option
def enrich(db_url: str) -> None:
    """Attribute every still-anonymous event of a bound visitor (a full enrichment pass)."""
    from seam.enrichment import enrich as run_enrichment

    with _open(db_url).writer.begin() as conn:
        linked = run_enrichment(conn, since=None)
    click.echo(f"attributed {linked} events")


if __name__ == "__main__":
    main()
