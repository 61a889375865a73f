"""The unit of work of the write path: carry out the identity rules' decisions on the store.

One `Ingestion` lives for one transaction and may hold messages from many requests and
workspaces (group commit). It prefetches what the batch will look up, leaves event rows, audit
entries and the like to `PendingWrites` (one executemany at the end), and flushes them before a
new binding counts the device's events, so that events earlier in the same batch are linked
too. It remembers what it read or wrote (bindings, contacts by external id, traits) for the
rest of the transaction. Every identity decision writes its audit row in this transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from seam.identity.attribution import Claim, attribute_event
from seam.identity.binding import REFUSED_REASON, BindOutcome, bind_device
from seam.identity.ids import check_id
from seam.identity.normalize import identifiers_from_traits, normalize_email
from seam.identity.resolve import ContactRef, resolve_contact
from seam.identity.traits import merge_trait_maps, merge_traits
from seam.identity.trust import (
    Trust,
    claim_is_usable,
    claim_trust,
    cookie_trust,
    user_hash_is_valid,
)
from seam.ingest import decisions
from seam.ingest.message import Message, trait_name_problem
from seam.ingest.pending import PendingWrites
from seam.ingest.trait_cache import TraitCache
from seam.store import contacts, events, groups, visitors
from seam.store.audit import AuditEntry
from seam.store.workspaces import Workspace


@dataclass(frozen=True)
class Caller:
    """Who sent a message: the workspace and the key's standing (SPEC §2)."""

    workspace: Workspace
    key_id: str | None
    secret: bool
    can_write_contacts: bool
    # The caller proved the identity itself (an app JWT), so its claims are verified.
    verified: bool = False


@dataclass(frozen=True)
class IdentifyOutcome:
    contact_id: str | None
    created: bool
    events_linked: int
    visitor_bound: bool
    refused_reason: str | None = None


class Ingestion:
    def __init__(self, conn: Connection, now: int) -> None:
        self.conn = conn
        self.now = now
        self._bindings: dict[tuple[str, str], str | None] = {}
        self._known: dict[tuple[str, str], visitors.Known] = {}
        self._by_external: dict[tuple[str, str], ContactRef] = {}
        # External ids the prefetch looked up: one missing from _by_external does not exist.
        self._looked_up: set[tuple[str, str]] = set()
        self._traits = TraitCache(conn)
        self._pending = PendingWrites(conn, now)
        # Message ids stored before or earlier in this transaction: a repeat is a retry, and
        # a retry must not act again (nor, with different content, act differently).
        self._stored: set[tuple[str, str]] = set()

    # -- batch plumbing -------------------------------------------------------------------

    def prefetch(self, work: Iterable[tuple[Caller, list[Message]]]) -> None:
        """Read the bindings and contacts the batch will need in two queries per workspace."""
        anon: dict[str, set[str]] = defaultdict(set)
        ext: dict[str, set[str]] = defaultdict(set)
        acting: dict[str, list[str]] = defaultdict(list)
        for caller, messages in work:
            ws = caller.workspace.id
            for m in messages:
                if _acts_on_identity(m):
                    acting[ws].append(m.message_id)
                if m.anonymous_id:
                    anon[ws].add(m.anonymous_id)
                for external_id in (m.user_id, m.external_contact_id):
                    if external_id:
                        ext[ws].add(external_id)
        for ws, ids in anon.items():
            found = visitors.known(self.conn, ws, ids)
            for a in ids:
                known = found.get(a)
                self._bindings[(ws, a)] = known.contact_id if known else None
                if known:
                    self._known[(ws, a)] = known
        for ws, ids in ext.items():
            for e, ref in contacts.by_external_ids(self.conn, ws, ids).items():
                self._by_external[(ws, e)] = ref
            self._looked_up.update((ws, e) for e in ids)
        # Only messages that could change contacts or bindings are looked up: a repeated
        # anonymous page view or track changes nothing but its own (ignored) row.
        for ws, message_ids in acting.items():
            stored = events.stored_message_ids(self.conn, ws, message_ids)
            self._stored.update((ws, message_id) for message_id in stored)

    def finish(self) -> None:
        self._pending.finish(self._known)

    def _audit(self, caller: Caller, entry: AuditEntry) -> None:
        self._pending.audit(caller.workspace.id, caller.key_id, entry)

    # -- one message ----------------------------------------------------------------------

    def apply(self, caller: Caller, m: Message) -> IdentifyOutcome | None:
        ws = caller.workspace.id
        if (ws, m.message_id) in self._stored:
            return self._repeated(caller, m)
        self._stored.add((ws, m.message_id))
        if m.anonymous_id:
            self._pending.seen(ws, m)
            self._bindings.setdefault((ws, m.anonymous_id), None)
        if m.type in ("identify", "alias"):
            return self.identify(caller, m)
        if m.type == "form":
            return self._form(caller, m)
        contact_id, via = self._attribute(caller, m)
        if m.type == "group" and m.group_id:
            self._join_group(caller, m.group_id, m.traits, contact_id, m, source="group")
        if m.type == "page_leave":
            self._pending.page_closing(ws, m)
        self._pending.event(ws, m, contact_id, via)
        return None

    def _repeated(self, caller: Caller, m: Message) -> IdentifyOutcome | None:
        """A message id stored before: nothing is done again. An identify is answered with
        where things stand, as a repeated identical call would be."""
        if m.type not in ("identify", "alias", "form"):
            return None
        ws = caller.workspace.id
        bound = self._binding(ws, m.anonymous_id)
        contact_id = bound
        if m.user_id and m.type != "form":
            contact = self._known_contact(ws, m.user_id)
            contact_id = contact.id if contact else None
        bound_here = contact_id is not None and bound == contact_id
        refused = None if bound_here or not m.anonymous_id or bound is None else REFUSED_REASON
        return IdentifyOutcome(contact_id, False, 0, bound_here, refused)

    def _attribute(self, caller: Caller, m: Message) -> tuple[str | None, str | None]:
        ws = caller.workspace
        claims: list[Claim] = []
        if m.user_id:
            claims.append(Claim("user_id", m.user_id, self._trust(caller, m, m.user_id)))
        if m.external_contact_id:
            cookie = m.external_contact_id
            claims.append(Claim("cookie", cookie, self._cookie_trust(caller, m, cookie)))
        decision = attribute_event(
            claims,
            visitor_contact_id=self._binding(ws.id, m.anonymous_id),
            verification_required=ws.verification_required,
        )
        if decision.via == "visitor":
            self._binding_rested_on(ws.id, m.anonymous_id)
        for claim in decision.unverified:
            self._audit(caller, decisions.identity_unverified(m, claim.via))
        if decision.claim is not None:
            contact = self._contact_by_external_id(
                caller, decision.claim.external_id, decision.claim.trust
            )
            if m.anonymous_id:
                self._bind(
                    caller,
                    m.anonymous_id,
                    contact.id,
                    via=decision.claim.via,
                    trust=decision.claim.trust,
                )
            return contact.id, decision.via
        return decision.contact_id, decision.via

    def identify(self, caller: Caller, m: Message) -> IdentifyOutcome:
        ws = caller.workspace
        # Without a userId, the cookie names the contact, as it does for every other event.
        external_id = m.user_id or m.external_contact_id
        if external_id is None:
            return self._identify_anonymous(caller, m)
        via = "user_id" if m.user_id else "cookie"
        trust = (
            self._trust(caller, m, external_id)
            if m.user_id
            else self._cookie_trust(caller, m, external_id)
        )
        if not self._usable(caller, trust):
            self._audit(caller, decisions.identity_unverified(m, "identify" if m.user_id else via))
            self._queue_through_visitor(ws.id, m)
            return IdentifyOutcome(None, False, 0, False, "identity_unverified")
        contact, created = self._resolve(
            caller, external_id, m.traits, trust, observed_at=m.timestamp
        )
        self._merge_contact_traits(caller, contact.id, m.traits, m.timestamp, trust, m.type)
        outcome, linked = BindOutcome.ALREADY_BOUND, 0
        if m.anonymous_id:
            outcome, linked = self._bind(
                caller,
                m.anonymous_id,
                contact.id,
                via="identify" if m.user_id else via,
                trust=trust,
            )
        self._pending.event(ws.id, m, contact.id, via)
        return IdentifyOutcome(
            contact.id,
            created,
            linked,
            outcome.visitor_bound if m.anonymous_id else False,
            None if outcome.visitor_bound else REFUSED_REASON,
        )

    def _identify_anonymous(self, caller: Caller, m: Message) -> IdentifyOutcome:
        ws = caller.workspace.id
        assert m.anonymous_id is not None
        trust = self._trust(caller, m, None)
        bound = self._binding_rested_on(ws, m.anonymous_id)
        if bound is not None:
            self._merge_contact_traits(caller, bound, m.traits, m.timestamp, trust, m.type)
        else:
            stored = self._traits.load(ws, "visitor", m.anonymous_id)
            winners = merge_traits(
                stored, m.traits, observed_at=m.timestamp, trust=trust, source=m.type
            )
            self._traits.write(ws, "visitor", m.anonymous_id, winners)
        self._queue_through_visitor(ws, m)
        return IdentifyOutcome(bound, False, 0, bound is not None)

    def _form(self, caller: Caller, m: Message) -> IdentifyOutcome:
        """A submitted form: the contact is found or created by email, and the device bound."""
        ws = caller.workspace
        email = normalize_email(m.traits.get("email"))
        trust = self._trust(caller, m, None)
        if email is None or not m.anonymous_id or not self._usable(caller, trust):
            if email is not None and m.anonymous_id:
                self._audit(caller, decisions.identity_unverified(m, "form"))
            bound = self._queue_through_visitor(ws.id, m)
            return IdentifyOutcome(bound, False, 0, bound is not None)
        traits = {**m.traits, "email": email}
        holder = contacts.identifier_holders(self.conn, ws.id, {"email": email}).get("email")
        created = False
        if holder is None:
            holder, created = self._create_contact_with_email(caller, email)
        self._merge_contact_traits(caller, holder.id, traits, m.timestamp, trust, "form")
        outcome, linked = self._bind(caller, m.anonymous_id, holder.id, via="form", trust=trust)
        if outcome.visitor_bound:
            self._pending.event(ws.id, m, holder.id, "form")
        else:  # the form was sent from someone else's device: it is that person's event
            self._queue_through_visitor(ws.id, m)
        return IdentifyOutcome(
            holder.id,
            created,
            linked,
            outcome.visitor_bound,
            None if outcome.visitor_bound else REFUSED_REASON,
        )

    # -- the decisions, carried out -------------------------------------------------------

    def _trust(self, caller: Caller, m: Message, external_id: str | None) -> Trust:
        return claim_trust(
            secret_key=caller.secret,
            can_write_contacts=caller.can_write_contacts,
            verified=self._verified(caller, m, external_id),
        )

    def _cookie_trust(self, caller: Caller, m: Message, cookie: str) -> Trust:
        return cookie_trust(verified=self._verified(caller, m, cookie))

    def _verified(self, caller: Caller, m: Message, external_id: str | None) -> bool:
        return caller.verified or (
            external_id is not None
            and user_hash_is_valid(caller.workspace.identity_secret, external_id, m.user_hash)
        )

    def _usable(self, caller: Caller, trust: Trust) -> bool:
        return claim_is_usable(trust, verification_required=caller.workspace.verification_required)

    def _binding(self, ws: str, anonymous_id: str | None) -> str | None:
        """Whom the device is bound to, as this transaction knows it."""
        return self._bindings.get((ws, anonymous_id)) if anonymous_id else None

    def _binding_rested_on(self, ws: str, anonymous_id: str | None) -> str | None:
        """`_binding`, for a decision that writes what it says (an event stored as the
        contact's, traits, an audit naming the contact): on PostgreSQL the commit checks that
        the binding still stands. A decision that writes nothing from it (the device is
        already bound to the event's own user) does not ask for the check."""
        contact_id = self._binding(ws, anonymous_id)
        if contact_id is not None and anonymous_id:
            self._pending.rest_on_binding(ws, anonymous_id, contact_id)
        return contact_id

    def _known_contact(self, ws: str, external_id: str) -> ContactRef | None:
        """The contact holding `external_id`: from this transaction or its prefetch, else read."""
        known = self._by_external.get((ws, external_id))
        if known is None and (ws, external_id) not in self._looked_up:
            known = contacts.by_external_ids(self.conn, ws, [external_id]).get(external_id)
        return known

    def _contact_by_external_id(self, caller: Caller, external_id: str, trust: Trust) -> ContactRef:
        ws = caller.workspace.id
        cached = self._by_external.get((ws, external_id))
        if cached is not None:
            return cached
        contact, created = contacts.create_contact(self.conn, ws, external_id, self.now)
        if created:
            self._contact_created(caller, contact, trust, matched_by=None)
        self._by_external[(ws, external_id)] = contact
        return contact

    def _resolve(
        self,
        caller: Caller,
        external_id: str,
        traits: Mapping[str, Any],
        trust: Trust,
        *,
        match_identifiers: bool | None = None,
        observed_at: int | None = None,
    ) -> tuple[ContactRef, bool]:
        ws = caller.workspace
        found = identifiers_from_traits(traits, ws.default_region)
        holders = contacts.identifier_holders(self.conn, ws.id, found)
        by_external = self._known_contact(ws.id, external_id)
        resolution = resolve_contact(
            external_id,
            by_external_id=by_external,
            identifiers=found,
            holders=holders,
            match_identifiers=(
                trust is Trust.AUTHORITATIVE if match_identifiers is None else match_identifiers
            ),
        )
        contact, created = resolution.contact, False
        if contact is not None and resolution.adopt_external_id:
            if contacts.adopt_external_id(self.conn, ws.id, contact.id, external_id, self.now):
                contact = ContactRef(contact.id, external_id)
                self._audit(
                    caller, decisions.external_id_bound(contact, trust, resolution.matched_by)
                )
            else:
                contact = None
        if contact is None:
            contact, created = contacts.create_contact(self.conn, ws.id, external_id, self.now)
            if created:
                self._contact_created(caller, contact, trust, matched_by=None)
        self._by_external[(ws.id, external_id)] = contact
        # Audited once the contact that holds the external id is known (it may be new).
        for conflict in resolution.conflicts:
            self._audit(
                caller,
                decisions.identifier_conflict(
                    contact.id, conflict.holder_id, conflict.kind, external_id, trust
                ),
            )
        if company := company_of(traits):
            company_id, company_traits = company
            self._join_group(
                caller,
                company_id,
                company_traits,
                contact.id,
                None,
                source="identify",
                trust=trust,
                observed_at=observed_at,
            )
        return contact, created

    def _create_contact_with_email(
        self, caller: Caller, email: str, trust: Trust = Trust.SOFT
    ) -> tuple[ContactRef, bool]:
        ws = caller.workspace.id
        contact, _ = contacts.create_contact(self.conn, ws, None, self.now)
        contacts.claim_identifiers(self.conn, ws, contact.id, {"email": email}, self.now)
        holder = contacts.identifier_holders(self.conn, ws, {"email": email})["email"]
        if holder.id != contact.id:  # another writer claimed the email first: use theirs
            contacts.delete_contact_row(self.conn, ws, contact.id)
            return holder, False
        self._contact_created(caller, contact, trust, matched_by="email")
        return contact, True

    def _contact_created(
        self, caller: Caller, contact: ContactRef, trust: Trust, matched_by: str | None
    ) -> None:
        """This transaction created the contact: audit it (and its external id)."""
        ws = caller.workspace.id
        self._pending.created(ws, contact.id)
        self._traits.start_empty(ws, "contact", contact.id)
        self._audit(caller, decisions.contact_created(contact, trust, matched_by))
        if contact.external_id:
            self._audit(caller, decisions.external_id_bound(contact, trust, None))

    def _merge_contact_traits(
        self,
        caller: Caller,
        contact_id: str,
        incoming: Mapping[str, Any],
        observed_at: int,
        trust: Trust,
        source: str,
    ) -> None:
        if not incoming:
            return
        ws = caller.workspace.id
        stored = self._traits.load(ws, "contact", contact_id)
        winners = merge_traits(
            stored, incoming, observed_at=observed_at, trust=trust, source=source
        )
        self._traits.write(ws, "contact", contact_id, winners)
        if self._usable(caller, trust):
            self._claim_identifiers(caller, contact_id, incoming)
        self._pending.touch(ws, contact_id)

    def _claim_identifiers(
        self, caller: Caller, contact_id: str, traits: Mapping[str, Any]
    ) -> None:
        """Identifier traits become the contact's lookup keys while nobody else holds them
        (insert-or-ignore: a taken identifier stays with its holder). Callers pass only the
        traits of claims usable for identity (`_usable`): under `identity_verification:
        required` a soft call's email is a trait of the contact, never a key that later finds
        the contact (a form, an import)."""
        found = identifiers_from_traits(traits, caller.workspace.default_region)
        contacts.claim_identifiers(self.conn, caller.workspace.id, contact_id, found, self.now)

    def _bind(
        self,
        caller: Caller,
        anonymous_id: str,
        contact_id: str,
        *,
        via: str,
        trust: Trust,
    ) -> tuple[BindOutcome, int]:
        """Bind under one-device-one-contact; returns the outcome and how many stored events
        of the visitor the binding attributed (back-filled)."""
        ws = caller.workspace.id
        outcome = bind_device(self._binding(ws, anonymous_id), contact_id)
        linked = 0
        if outcome is BindOutcome.BOUND:
            # Events queued earlier in this batch are back-filled too.
            self._pending.flush(self._known)
            bound = visitors.bind(
                self.conn, ws, anonymous_id, contact_id, now=self.now, via=via, trust=int(trust)
            )
            self._bindings[(ws, anonymous_id)] = bound.contact_id
            if not bound.bound_here:
                # Another transaction bound the device first: decide against its choice.
                outcome = bind_device(bound.contact_id, contact_id)
            else:
                linked = bound.events_linked
                self._pending.name(ws, contact_id)
                self._audit(caller, decisions.visitor_bound(anonymous_id, contact_id, trust, via))
                if bound.holds_traits:
                    self._adopt_held_traits(caller, anonymous_id, contact_id)
                # Companies the visitor joined while anonymous are the contact's now.
                groups.reassign_member(self.conn, ws, "visitor", anonymous_id, contact_id, self.now)
        if outcome is BindOutcome.REFUSED:
            bound_to = self._binding_rested_on(ws, anonymous_id)
            self._audit(
                caller, decisions.visitor_bind_refused(anonymous_id, contact_id, bound_to, trust)
            )
            return outcome, 0
        return outcome, linked

    def _adopt_held_traits(self, caller: Caller, anonymous_id: str, contact_id: str) -> None:
        """Traits an anonymous identify held on the visitor join the contact by their age."""
        ws = caller.workspace.id
        held = self._traits.load(ws, "visitor", anonymous_id)
        if not held:
            return
        stored = self._traits.load(ws, "contact", contact_id)
        self._traits.write(ws, "contact", contact_id, merge_trait_maps(stored, held))
        self._traits.delete(ws, "visitor", anonymous_id)
        usable = {k: tv.value for k, tv in held.items() if self._usable(caller, tv.trust)}
        self._claim_identifiers(caller, contact_id, usable)
        self._pending.touch(ws, contact_id)

    def _join_group(
        self,
        caller: Caller,
        group_id: str,
        traits: Mapping[str, Any],
        contact_id: str | None,
        m: Message | None,
        *,
        source: str,
        trust: Trust | None = None,
        observed_at: int | None = None,
    ) -> None:
        ws = caller.workspace.id
        if observed_at is None:
            observed_at = m.timestamp if m else self.now
        trust = trust or (self._trust(caller, m, None) if m else Trust.SOFT)
        groups.ensure_company(self.conn, ws, group_id, self.now)
        member = (
            ("contact", contact_id)
            if contact_id
            else (("visitor", m.anonymous_id) if m and m.anonymous_id else None)
        )
        if contact_id:
            self._pending.name(ws, contact_id)
        if member is not None:
            groups.add_member(self.conn, ws, group_id, member[0], member[1], self.now)
        if traits:
            stored = self._traits.load(ws, "company", group_id)
            self._traits.write(
                ws,
                "company",
                group_id,
                merge_traits(stored, traits, observed_at=observed_at, trust=trust, source=source),
            )

    def _queue_through_visitor(self, ws: str, m: Message) -> str | None:
        """Store a message whose own identity claim was not used: it belongs to whoever its
        device is bound to, if anyone. Returns that contact."""
        bound = self._binding_rested_on(ws, m.anonymous_id)
        self._pending.event(ws, m, bound, "visitor" if bound else None)
        return bound

    # -- CRM / integration sync (SPEC §8) -------------------------------------------------

    def import_contact(
        self,
        caller: Caller,
        *,
        external_id: str | None,
        traits: Mapping[str, Any],
        updated_at: int,
        source: str,
    ) -> tuple[str, bool]:
        """Upsert one CRM record with trust `import`, its traits observed at `updated_at`."""
        ws = caller.workspace
        if external_id is not None:
            contact, created = self._resolve(
                caller, external_id, traits, Trust.IMPORT, match_identifiers=True
            )
        else:
            email = normalize_email(traits.get("email"))
            assert email is not None, "validated by the caller"
            holder = contacts.identifier_holders(self.conn, ws.id, {"email": email}).get("email")
            created = holder is None
            if holder is None:
                holder, created = self._create_contact_with_email(caller, email, Trust.IMPORT)
            contact = holder
        self._merge_contact_traits(caller, contact.id, traits, updated_at, Trust.IMPORT, source)
        return contact.id, created


def company_of(traits: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The company a `company` trait object names (SPEC §4): its id, checked like a groupId
    (a placeholder or over-long id associates nothing; the trait is still kept), and its
    other fields as the company's traits."""
    company = traits.get("company")
    if not isinstance(company, dict):
        return None
    company_id = check_id(company.get("id"))
    if not isinstance(company_id, str):
        return None
    # Trait names are checked for the message's own traits, not inside this object.
    return company_id, {
        k: v for k, v in company.items() if k != "id" and trait_name_problem(k) is None
    }


def _acts_on_identity(m: Message) -> bool:
    """Whether a message can create contacts, bind devices or change traits or groups."""
    return bool(
        m.type in ("identify", "alias", "form", "group") or m.user_id or m.external_contact_id
    )
