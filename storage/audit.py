"""The audit entry format: how a fact becomes a hash-chained row (see docs/audit-trail.md).

``body`` is the canonical JSON of the whole fact; ``hash = sha256(prev_hash + body)`` over the
UTF-8 bytes, hex-encoded. The row's other columns (chain, seq, time, actor, kind, states) are
indexes that mirror the body; verification checks that they still agree with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from storage.canonical import ZERO_HASH, canonical_json

JOURNAL_CHAIN = 0
"""The chain of facts that belong to no case (registrations, refused openings)."""

BODY_FIELDS = ("actor", "at", "case", "chain", "from", "kind", "payload", "seq", "to")


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit entry, as stored."""

    chain_id: int
    seq: int
    recorded_at: str
    actor: str
    kind: str
    from_state: str | None
    to_state: str | None
    body: str
    prev_hash: str
    hash: str

    def as_params(self) -> dict[str, Any]:
        """The entry as named parameters for ``Statements.insert_entry``."""
        return {
            "chain_id": self.chain_id,
            "seq": self.seq,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
            "kind": self.kind,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "body": self.body,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    def payload(self) -> dict[str, Any]:
        """The fact's payload, read back from the body."""
        payload: dict[str, Any] = orjson.loads(self.body)["payload"]
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
    return Entry(
        chain_id=chain_id,
        seq=seq,
        recorded_at=recorded_at,
        actor=actor,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        body=body,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, body),
    )


def mirrors_body(entry: Entry) -> str | None:
    """Return the name of the first column that disagrees with the body, or None."""
    try:
        body = orjson.loads(entry.body)
    except orjson.JSONDecodeError:
        return "body"
    if not isinstance(body, dict) or tuple(sorted(body)) != BODY_FIELDS:
        return "body"
    for column, key in (
        ("chain_id", "chain"),
        ("seq", "seq"),
        ("recorded_at", "at"),
        ("actor", "actor"),
        ("kind", "kind"),
        ("from_state", "from"),
        ("to_state", "to"),
    ):
        if getattr(entry, column) != body[key]:
            return column
    return None
