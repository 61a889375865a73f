"""Every table, keyed by workspace first (tenants never mix; ready for sharding by workspace).

Times are integer microseconds since the epoch: one type that sorts and compares the same on
SQLite and PostgreSQL. JSON documents are stored as text encoded by msgspec.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

ID = String(64)
ExtId = String(255)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("domains", Text, nullable=False, server_default="[]"),
    Column("cookieless", Boolean, nullable=False, server_default=text("false")),
    Column("identity_verification", String(16), nullable=False, server_default="off"),
    Column("identity_secret", String(128), nullable=False),
    Column("jwt_secret", Text),
    Column("jwt_public_key", Text),
    Column("jwt_issuer", String(500)),
    Column("jwt_audience", String(500)),
    Column("default_region", String(8)),
    Column("rate_limit", Integer),
    Column("created_at", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, nullable=False),
    Column("kind", String(8), nullable=False),  # "write" | "secret"
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
    # The one-time id of the dashboard form that created the key: a re-sent form (a reload of
    # the page that showed the key) finds it taken, on whichever process it lands.
    Column("form_id", String(64)),
    Index("ix_api_keys_workspace", "workspace_id"),
    Index("uq_api_keys_form", "workspace_id", "form_id", unique=True),
)

contacts = Table(
    "contacts",
    metadata,
    Column("workspace_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("external_id", ExtId),
    Column("identified", Boolean, nullable=False, server_default=text("false")),
    Column("identified_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("workspace_id", "external_id", name="uq_contacts_external_id"),
    Index("ix_contacts_created", "workspace_id", "created_at"),
)

identifiers = Table(
    "identifiers",
    metadata,
    Column("workspace_id", ID, primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", String(320), primary_key=True),
    Column("contact_id", ID, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_identifiers_contact", "workspace_id", "contact_id"),
)

# Traits of contacts, of visitors not yet bound (held until binding) and of companies.
traits = Table(
    "traits",
    metadata,
    Column("workspace_id", ID, primary_key=True),
    Column("owner_kind", String(8), primary_key=True),  # "contact" | "visitor" | "company"
    Column("owner_id", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("observed_at", BigInteger, nullable=False),
    Column("trust", Integer, nullable=False),
    Column("source", String(64), nullable=False, server_default=""),
)

visitors = Table(
    "visitors",
    metadata,
    Column("workspace_id", ID, primary_key=True),
    Column("anonymous_id", ExtId, primary_key=True),
    Column("contact_id", ID),
    Column("first_seen", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("bound_at", BigInteger),
    Column("bound_via", String(32)),
    Column("bound_trust", Integer),
    Index("ix_visitors_contact", "workspace_id", "contact_id"),
    Index("ix_visitors_bound_at", "workspace_id", "bound_at"),
    Index("ix_visitors_last_seen", "workspace_id", "last_seen"),
)

events = Table(
    "events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("workspace_id", ID, nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("type", String(16), nullable=False),
    Column("event", String(255)),
    Column("name", String(255)),
    Column("anonymous_id", ExtId),
    Column("user_id", ExtId),
    Column("contact_id", ID),
    Column("session_id", String(128)),
    Column("timestamp", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("properties", Text, nullable=False, server_default="{}"),
    Column("traits", Text, nullable=False, server_default="{}"),
    Column("context", Text, nullable=False, server_default="{}"),
    Column("via", String(16)),
    Column("attributed_at", BigInteger),
    Column("duration_ms", Integer),
    Column("scroll_depth", Integer),
    Column("flags", String(64)),
    UniqueConstraint("workspace_id", "message_id", name="uq_events_message_id"),
    # Timelines page by (timestamp, id): the id closes each index so no page needs a sort.
    # A device's events are in two indexes that never overlap: its attributed events here, its
    # events stored without a contact in ix_events_unattributed. Storing an event adds one
    # entry keyed by its device, not two: each lands on a random leaf page, which on SQLite is
    # a WAL frame written at the commit (~4% more single-event requests a second on both
    # backends). Readers of all of a device's events read both (store/timelines.py).
    Index(
        "ix_events_device_attributed",
        "workspace_id",
        "anonymous_id",
        "timestamp",
        "id",
        "contact_id",
        sqlite_where=text("contact_id IS NOT NULL"),
        postgresql_where=text("contact_id IS NOT NULL"),
    ),
    # Only attributed events: an anonymous event is not in it, so a back-fill adds the entries
    # of one contact's timeline instead of also removing 1,000 entries scattered among every
    # other anonymous event (each on its own page).
    Index(
        "ix_events_contact_ts",
        "workspace_id",
        "contact_id",
        "timestamp",
        "id",
        sqlite_where=text("contact_id IS NOT NULL"),
        postgresql_where=text("contact_id IS NOT NULL"),
    ),
    # Events stored without a contact, by device and time: they belong to whoever the device
    # is bound to (see store/events.py). A binding counts them, a device's and a contact's
    # timelines read them, and the enrichment pass finds the ones that arrived after the
    # binding, all from this index alone (contact_id is in both device indexes because SQLite
    # reads a partial index without the table only if it holds every column a query names).
    # By time, not arrival: a page after a cursor needs a range of time within the device, and
    # without it SQLite read the workspace's events through ix_events_ts instead (32 ms a page
    # instead of 0.4 with 200,000 stored; tests/integration/test_timeline_plans.py). The
    # enrichment pass then reads all of a recently bound device's entries, not just those after
    # its binding: 20 ms instead of 0.2 for 200 bindings of 1,000 events, every 30 s.
    Index(
        "ix_events_unattributed",
        "workspace_id",
        "anonymous_id",
        "timestamp",
        "id",
        "received_at",
        "contact_id",
        sqlite_where=text("contact_id IS NULL"),
        postgresql_where=text("contact_id IS NULL"),
    ),
    # Only events with a session: server-side SDKs send none, and an entry for each of their
    # events was one index insertion in five, for lookups that always name a session.
    Index(
        "ix_events_session",
        "workspace_id",
        "session_id",
        "timestamp",
        "id",
        sqlite_where=text("session_id IS NOT NULL"),
        postgresql_where=text("session_id IS NOT NULL"),
    ),
    Index("ix_events_ts", "workspace_id", "timestamp", "id"),
)

companies = Table(
    "companies",
    metadata,
    Column("workspace_id", ID, primary_key=True),
    Column("group_id", ExtId, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("workspace_id", ID, primary_key=True),
    Column("group_id", ExtId, primary_key=True),
    Column("member_kind", String(8), primary_key=True),  # "contact" | "visitor"
    Column("member_id", String(255), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_memberships_member", "workspace_id", "member_kind", "member_id"),
)

audit = Table(
    "audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("workspace_id", ID, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("action", String(32), nullable=False),
    Column("contact_id", ID),
    Column("anonymous_id", ExtId),
    Column("other_contact_id", ID),
    Column("reason", String(255)),
    Column("trust", String(16)),
    Column("key_id", ID),
    Column("details", Text, nullable=False, server_default="{}"),
    Index("ix_audit_ws_at", "workspace_id", "at"),
    Index("ix_audit_contact", "workspace_id", "contact_id"),
    Index("ix_audit_anonymous", "workspace_id", "anonymous_id"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("workspace_id", ID, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("code", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("key_id", ID),
    Index("ix_quarantine_ws_received", "workspace_id", "received_at"),
)

# The Seam processes serving this database, each seen at its last heartbeat: per-process
# budgets (rate limits) are the workspace's limit shared among the live ones, by what each
# let through lately (seam/api/rate_limits.py).
processes = Table(
    "processes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("seen_at", BigInteger, nullable=False),
    # JSON: requests a second the process let through per key id since its previous heartbeat.
    Column("key_rates", Text, nullable=False, server_default="{}"),
)

# Daily salts of cookieless workspaces; rows older than a day are deleted, so yesterday's
# fingerprints can no longer be recomputed from an IP and a user agent.
salts = Table(
    "salts",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("secret", String(128), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

workspace_members = Table(
    "workspace_members",
    metadata,
    Column("workspace_id", ID, primary_key=True),
    Column("user_id", ID, primary_key=True),
    Column("role", String(16), nullable=False, server_default="admin"),
)

dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

# Failed dashboard sign-ins by the SHA-256 of the email tried (known or not, so a lockout
# tells nothing about which accounts exist); in the database, so every process counts them.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("email_hash", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", BigInteger, nullable=False),
)

schema_version = Table(
    "seam_schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", BigInteger, nullable=False),
)
