"""Traits as one transaction leaves them: each owner's stored traits are read at most once,
and every write updates the copy, so later messages of a group commit merge against the
traits earlier ones wrote."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection

from seam.identity.traits import TraitValue
from seam.store import contacts


class TraitCache:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        # Per (workspace, owner kind, owner id).
        self._traits: dict[tuple[str, str, str], dict[str, TraitValue]] = {}

    def start_empty(self, ws: str, kind: str, owner: str) -> None:
        """The owner was created in this transaction: it has no stored traits to read."""
        self._traits[(ws, kind, owner)] = {}

    def load(self, ws: str, kind: str, owner: str) -> dict[str, TraitValue]:
        key = (ws, kind, owner)
        if key not in self._traits:
            self._traits[key] = contacts.load_traits(self.conn, ws, kind, owner)
        return self._traits[key]

    def write(self, ws: str, kind: str, owner: str, winners: Mapping[str, TraitValue]) -> None:
        contacts.write_traits(self.conn, ws, kind, owner, winners)
        self._traits[(ws, kind, owner)] = {**self.load(ws, kind, owner), **winners}

    def delete(self, ws: str, kind: str, owner: str) -> None:
        contacts.delete_traits(self.conn, ws, kind, owner)
        self._traits[(ws, kind, owner)] = {}
