"""What one write transaction has decided to write, held back to go out together.

The identity decisions (`seam.ingest.apply`) run their lookups and conditional updates at once,
since later messages of the same transaction depend on them. The rest waits here: event rows
(one executemany), the windows in which visitors were seen, page closings, the contacts whose
`updated_at` moves, and audit entries. It also keeps what those rows rest on (contacts and
device bindings read from the store) to hold it before the commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import Connection

from seam.ingest.message import Message
from seam.store import audit, contacts, events, visitors
from seam.store.audit import AuditEntry
from seam.store.events import EventRow
from seam.store.jsonb import dumps
from seam.store.transactions import ConcurrentChange

Key = tuple[str, str]  # (workspace id, anonymous id or contact id)


class PendingWrites:
    def __init__(self, conn: Connection, now: int) -> None:
        self.conn = conn
        self.now = now
        self._rows: list[EventRow] = []
        self._seen: dict[Key, tuple[int, int]] = {}
        self._page_closings: list[tuple[str, Message]] = []
        self._touched: dict[str, set[str]] = defaultdict(set)
        # Contacts that rows name without touching them (bindings, memberships), and the
        # bindings read from the store that decisions rested on: see `_touch_and_hold`.
        self._named: dict[str, set[str]] = defaultdict(set)
        self._bindings_used: dict[str, dict[str, str]] = defaultdict(dict)
        self._created: set[Key] = set()
        self._audits: list[tuple[str, str | None, AuditEntry]] = []

    def event(self, ws: str, m: Message, contact_id: str | None, via: str | None) -> None:
        self._rows.append(
            EventRow(
                workspace_id=ws,
                message_id=m.message_id,
                type=m.type,
                event=m.event,
                name=m.name,
                anonymous_id=m.anonymous_id,
                user_id=m.user_id,
                contact_id=contact_id,
                session_id=m.session_id,
                timestamp=m.timestamp,
                received_at=m.received_at,
                properties=dumps(m.properties),
                traits=dumps(m.traits),
                context=dumps(m.context),
                via=via if contact_id else None,
                attributed_at=self.now if contact_id else None,
                duration_ms=m.duration_ms,
                scroll_depth=m.scroll_depth,
                flags=",".join(m.flags) or None,
            )
        )
        if contact_id:
            self.touch(ws, contact_id)

    def seen(self, ws: str, m: Message) -> None:
        """The message's visitor was seen at its timestamp."""
        assert m.anonymous_id is not None
        lo, hi = self._seen.get((ws, m.anonymous_id), (m.timestamp, m.timestamp))
        self._seen[(ws, m.anonymous_id)] = (min(lo, m.timestamp), max(hi, m.timestamp))

    def page_closing(self, ws: str, m: Message) -> None:
        self._page_closings.append((ws, m))

    def touch(self, ws: str, contact_id: str) -> None:
        """The contact changed (traits, events): its updated_at moves at the end."""
        self._touched[ws].add(contact_id)

    def name(self, ws: str, contact_id: str) -> None:
        """A row written names the contact (a binding, a membership)."""
        self._named[ws].add(contact_id)

    def rest_on_binding(self, ws: str, anonymous_id: str, contact_id: str) -> None:
        """A decision used the device's binding to this contact."""
        self._bindings_used[ws][anonymous_id] = contact_id

    def created(self, ws: str, contact_id: str) -> None:
        """This transaction created the contact: nobody else can have changed it."""
        self._created.add((ws, contact_id))

    def audit(self, ws: str, key_id: str | None, entry: AuditEntry) -> None:
        self._audits.append((ws, key_id, entry))

    def flush(self, known: Mapping[Key, visitors.Known]) -> None:
        """Write the queued events and seen windows now (a binding is about to count the
        device's events). `known`: the visitors as the transaction read them."""
        if self._seen:
            # Most events come from visitors whose row already covers them (last_seen is kept
            # to the minute): those need no statement at all.
            per_ws: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
            for (ws, a), window in self._seen.items():
                if visitors.needs_recording(window, known.get((ws, a))):
                    per_ws[ws][a] = window
            for ws, seen in per_ws.items():
                visitors.record_seen(self.conn, ws, seen)
            self._seen.clear()
        if self._rows:
            events.insert_events(self.conn, self._rows)
            self._rows = []

    def finish(self, known: Mapping[Key, visitors.Known]) -> None:
        """Write everything still pending; the transaction may then commit."""
        self.flush(known)
        for ws, m in self._page_closings:
            if m.page_message_id:
                events.close_page_view(
                    self.conn, ws, m.anonymous_id, m.page_message_id, m.duration_ms, m.scroll_depth
                )
        self._touch_and_hold()
        by_key: dict[tuple[str, str | None], list[AuditEntry]] = defaultdict(list)
        for ws, key_id, entry in self._audits:
            by_key[(ws, key_id)].append(entry)
        for (ws, key_id), entries in by_key.items():
            audit.record(self.conn, ws, entries, at=self.now, key_id=key_id)

    def _touch_and_hold(self) -> None:
        """Move the touched contacts' updated_at, and hold what the rows written here rest on.

        Those rows name contacts this transaction read earlier. On PostgreSQL another process
        may have merged, erased or moved since: hold the contacts (their merge, erasure or move
        now waits for this commit and sees its rows), then check that they exist and that the
        bindings read still stand. If not, the transaction starts over (`ConcurrentChange`)
        and reads again, rather than leave an event or a device with a contact that is gone.
        The touch itself holds the contacts it updates (a row lock), so only the others need
        `contacts.hold`: identified traffic, whose contacts are all touched, makes one
        statement fewer per commit."""
        for ws in self._touched.keys() | self._named.keys() | self._bindings_used.keys():
            # A contact created in this transaction was created with updated_at = now, and
            # nobody else can have changed it.
            created = {contact_id for (w, contact_id) in self._created if w == ws}
            touched = self._touched[ws] - created
            bindings = self._bindings_used[ws]
            others = (self._named[ws] | set(bindings.values())) - created - touched
            if touched - contacts.touch(self.conn, ws, touched, self.now):
                raise ConcurrentChange("a contact was merged or erased meanwhile")
            if others - contacts.hold(self.conn, ws, others):
                raise ConcurrentChange("a contact was merged or erased meanwhile")
            if not visitors.still_bound(self.conn, ws, bindings):
                raise ConcurrentChange("a device was moved meanwhile")
