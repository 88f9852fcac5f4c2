"""What controls see of a case: its snapshot, with documents and history read on first use.

The history (the case's audit entries, as ``HistoryEntry``) is kept per case in a small
process cache and extended with the entries appended since: a chain is append-only, so the
entries up to a given head never change, and a control that reads the history (four-eyes,
declarations, checklists) pays for the new entries only, not for the whole chain each time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

import orjson

from engine.actors import Actor
from engine.controls import CaseSnapshot, DocumentView, HistoryEntry
from engine.machine import CompiledWorkflow
from storage.store import CaseRow, DocumentRow, Tx

HISTORY_CASES = 512
"""How many cases' histories the process keeps (least recently used ones go first)."""


class HistoryCache:
    """The parsed audit entries of recently used cases, extended incrementally (thread-safe)."""

    def __init__(self, capacity: int = HISTORY_CASES) -> None:
        self._capacity = capacity
        self._known: OrderedDict[int, tuple[HistoryEntry, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def entries(self, tx: Tx, case_id: int, head_seq: int) -> tuple[HistoryEntry, ...]:
        """The case's entries with ``seq <= head_seq`` (the head read with the case), in order."""
        with self._lock:
            known = self._known.get(case_id, ())
        last = known[-1].seq if known else 0
        if last > head_seq or (known and known[0].seq != 1):
            known, last = (), 0  # another database, or a restore: read it all again
        if last == head_seq:
            history = known
        else:
            fresh = tuple(
                _view(entry.seq, entry.body)
                for entry in tx.entries_of_chain_range(case_id, last, head_seq)
            )
            history = known + fresh
        with self._lock:
            self._known[case_id] = history
            self._known.move_to_end(case_id)
            while len(self._known) > self._capacity:
                self._known.popitem(last=False)
        return history


def _view(seq: int, body: str) -> HistoryEntry:
    fact = orjson.loads(body)
    return HistoryEntry(seq, str(fact["actor"]), str(fact["kind"]), fact["payload"])


def build_snapshot(
    tx: Tx,
    case: CaseRow,
    compiled: CompiledWorkflow,
    actor: Actor,
    now: datetime,
    history: HistoryCache,
    documents: Sequence[DocumentRow] | None = None,
) -> CaseSnapshot:
    """The snapshot of ``case`` before a step; documents and history are read only if asked."""

    def document_views() -> list[DocumentView]:
        rows = documents if documents is not None else tx.documents_of_case(case.id)
        return [DocumentView(d.doc_type, d.name, d.sha256, d.signed_by) for d in rows]

    def case_history() -> tuple[HistoryEntry, ...]:
        return history.entries(tx, case.id, case.head_seq)

    return CaseSnapshot(
        case.reference,
        case.state,
        orjson.loads(case.data),
        actor,
        now,
        document_views,
        fields=compiled.definition.fields,
        _opened_at_text=case.opened_at,
        _load_history=case_history,
    )
