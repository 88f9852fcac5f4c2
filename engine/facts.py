"""How facts become audit entries: on a case's chain, on the journal, and refusals."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.actors import Actor
from engine.errors import CommandRefused, ConcurrentModification, EngineError
from engine.log import CommandLog
from storage.audit import JOURNAL_CHAIN, Entry, make_entry
from storage.errors import StaleRecord
from storage.store import CaseRow, Store, Tx

REFUSAL_RETRIES = 20
"""How often recording a refusal is retried when other commands keep moving the case head."""


def case_entry(
    case: CaseRow,
    at: str,
    actor: Actor,
    kind: str,
    payload: dict[str, Any],
    to_state: str | None = None,
) -> Entry:
    """The next entry of ``case``'s chain; the state is unchanged unless ``to_state`` is given."""
    return make_entry(
        chain_id=case.id,
        seq=case.head_seq + 1,
        prev_hash=case.head_hash,
        recorded_at=at,
        actor=actor.user,
        kind=kind,
        reference=case.reference,
        from_state=case.state,
        to_state=to_state or case.state,
        payload=payload,
    )


def append_journal(tx: Tx, at: str, actor: Actor, kind: str, payload: dict[str, Any]) -> Entry:
    """Append a fact that belongs to no case to the journal chain (locked for the transaction)."""
    seq, head = tx.journal_head()
    entry = make_entry(
        chain_id=JOURNAL_CHAIN,
        seq=seq + 1,
        prev_hash=head,
        recorded_at=at,
        actor=actor.user,
        kind=kind,
        reference=None,
        payload=payload,
    )
    tx.append_entry(entry)
    return entry


def record_refusal(
    store: Store,
    now: Callable[[], str],
    log: CommandLog,
    command: str,
    actor: Actor,
    error: EngineError,
    context: Mapping[str, str],
) -> None:
    """Write a refused command's audit entry in a transaction of its own.

    The entry goes on the case's chain when the command named an existing case, else on the
    journal. Only the chain head moves: the case's version, state and data stay as they were.
    """
    payload: dict[str, Any] = {
        "command": command,
        "code": error.code,
        "message": error.message,
        "roles": sorted(actor.roles),
        **context,
    }
    if isinstance(error, CommandRefused):
        payload.update(error.details)
    log.info("command.refused", code=error.code, reason=error.message)
    reference = context.get("case")
    for _attempt in range(REFUSAL_RETRIES):
        try:
            with store.write() as tx:
                at = now()
                case = tx.case_by_reference(reference) if reference else None
                if case is None:
                    append_journal(tx, at, actor, "command.refused", payload)
                else:
                    entry = case_entry(case, at, actor, "command.refused", payload)
                    tx.append_entry(entry)
                    tx.move_case_head(case, entry)
            return
        except StaleRecord:
            continue
    raise ConcurrentModification("Trop de commandes concurrentes : refus non enregistré.")
