"""The audit entry format: how a fact becomes a hash-chained row (see docs/audit-trail.md).

``body`` is the canonical JSON of the whole fact (time, actor, kind, states, payload);
``hash = sha256(prev_hash + body)`` over the UTF-8 bytes, hex-encoded. The row stores only the
fact's position (chain, seq), its body and its links; everything else is read from the body.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import orjson

from storage.canonical import ZERO_HASH, canonical_json

JOURNAL_CHAIN = 0
"""The chain of facts that belong to no case (registrations, refused openings)."""

BODY_FIELDS = ("actor", "at", "case", "chain", "from", "kind", "payload", "seq", "to")
"""The keys of every body, in canonical (sorted) order."""


class Entry(NamedTuple):
    """One audit entry, as stored: (chain_id, seq, body, prev_hash, hash).

    A plain tuple, so that a row read from the database is an entry as it is. The fact's
    fields are read from the body on demand (each call parses it: use ``fact()`` once when
    several fields are needed).
    """

    chain_id: int
    seq: int
    body: str
    prev_hash: str
    hash: str

    def as_params(self) -> dict[str, Any]:
        """The entry as named parameters for ``Statements.insert_entry``."""
        return self._asdict()

    def fact(self) -> dict[str, Any]:
        """The parsed body."""
        fact: dict[str, Any] = orjson.loads(self.body)
        return fact

    @property
    def recorded_at(self) -> str:
        """When the fact was recorded (ISO-8601 UTC text)."""
        return str(self.fact()["at"])

    @property
    def actor(self) -> str:
        """Who caused the fact."""
        return str(self.fact()["actor"])

    @property
    def kind(self) -> str:
        """What kind of fact it is (``case.transition``, ``command.refused``...)."""
        return str(self.fact()["kind"])

    @property
    def from_state(self) -> str | None:
        """The case's state before the fact, if it concerns a case."""
        value = self.fact()["from"]
        return None if value is None else str(value)

    @property
    def to_state(self) -> str | None:
        """The case's state after the fact, if it concerns a case."""
        value = self.fact()["to"]
        return None if value is None else str(value)

    def payload(self) -> dict[str, Any]:
        """The fact's payload."""
        payload: dict[str, Any] = self.fact()["payload"]
        return payload


def chain_hash(prev_hash: str, body: str) -> str:
    """The hash of an entry: SHA-256 of ``prev_hash`` followed by ``body``, UTF-8, hex."""
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def make_entry(
    *,
    chain_id: int,
    seq: int,
    prev_hash: str,
    recorded_at: str,
    actor: str,
    kind: str,
    reference: str | None,
    from_state: str | None = None,
    to_state: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Entry:
    """Build the next entry of a chain whose head is (``seq - 1``, ``prev_hash``)."""
    if seq < 1:
        raise ValueError("sequence numbers start at 1")
    if seq == 1 and prev_hash != ZERO_HASH:
        raise ValueError("the first entry of a chain links to the zero hash")
    body = canonical_json(
        {
            "actor": actor,
            "at": recorded_at,
            "case": reference,
            "chain": chain_id,
            "from": from_state,
            "kind": kind,
            "payload": payload or {},
            "seq": seq,
            "to": to_state,
        }
    )
    return Entry(chain_id, seq, body, prev_hash, chain_hash(prev_hash, body))
