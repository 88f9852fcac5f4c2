"""What controls see of a case: its snapshot, with documents and history read on first use.

The history (the case's audit entries, as ``HistoryEntry``) is kept per case in a small
process cache and extended with the entries appended since: a chain is append-only, so the
entries up to a given head never change, and a control that reads the history (four-eyes,
declarations, checklists) pays for the new entries only, not for the whole chain each time.
Commands extend a cached history with the entry they have just committed. The documents
controls see are those the attach facts of the history record (the same values as the
``documents`` rows, written in the same transaction), so a step does not query them either.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson

from engine.actors import Actor
from engine.controls import CaseSnapshot, ClockView, DocumentView, HistoryEntry
from engine.machine import CompiledWorkflow
from storage.audit import Entry
from storage.clock_store import clocks_of_case
from storage.store import CaseRow, DocumentRow, Tx

DOCUMENT_KIND = "case.document_attached"
"""The kind of the fact that attaches a document (``engine.case_records.attach``)."""

HISTORY_CASES = 512
"""How many cases' histories the process keeps (least recently used ones go first)."""


class CaseHistory(NamedTuple):
    """A case's audit entries up to a head, and the documents their attach facts record."""

    entries: tuple[HistoryEntry, ...]
    documents: tuple[DocumentView, ...]

    def extended(self, fresh: Sequence[HistoryEntry]) -> CaseHistory:
        """This history followed by ``fresh`` (later entries, in order)."""
        attached = tuple(_document(e.payload) for e in fresh if e.kind == DOCUMENT_KIND)
        return CaseHistory(self.entries + tuple(fresh), self.documents + attached)

    @property
    def last_seq(self) -> int:
        """The seq of the last entry known (0 when none)."""
        return self.entries[-1].seq if self.entries else 0


EMPTY = CaseHistory((), ())


class HistoryCache:
    """The parsed audit entries of recently used cases, extended incrementally (thread-safe)."""

    def __init__(self, capacity: int = HISTORY_CASES) -> None:
        self._capacity = capacity
        self._known: OrderedDict[int, CaseHistory] = OrderedDict()
        self._lock = threading.Lock()

    def history(self, tx: Tx, case_id: int, head_seq: int) -> CaseHistory:
        """The case's history with ``seq <= head_seq`` (the head read with the case)."""
        with self._lock:
            known = self._known.get(case_id, EMPTY)
        last = known.last_seq
        if last > head_seq or (known.entries and known.entries[0].seq != 1):
            known, last = EMPTY, 0  # another database, or a restore: read it all again
        if last != head_seq:
            rows = tx.entries_of_chain_range(case_id, last, head_seq)
            known = known.extended([_view(entry.seq, entry.body) for entry in rows])
        with self._lock:
            self._known[case_id] = known
            self._known.move_to_end(case_id)
            while len(self._known) > self._capacity:
                self._known.popitem(last=False)
        return known

    def entries(self, tx: Tx, case_id: int, head_seq: int) -> tuple[HistoryEntry, ...]:
        """The case's entries with ``seq <= head_seq``, in order."""
        return self.history(tx, case_id, head_seq).entries

    def committed(self, entry: Entry, actor: str, kind: str, payload: dict[str, Any]) -> None:
        """Extend a cached history with the entry a command has just committed (write-through).

        ``actor``, ``kind`` and ``payload`` are what ``entry``'s body was written from. Only a
        cached history that ends right before ``entry`` is extended; otherwise the next read
        fetches what is missing. Call it after the commit, never inside the transaction.
        """
        view = HistoryEntry(entry.seq, actor, kind, payload)
        with self._lock:
            known = self._known.get(entry.chain_id)
            if known is not None and known.last_seq == entry.seq - 1:
                self._known[entry.chain_id] = known.extended([view])


def _document(payload: Mapping[str, Any]) -> DocumentView:
    """The document an attach fact records (the same as its row, written in the same tx)."""
    return DocumentView(
        str(payload["type"]),
        str(payload["name"]),
        str(payload["sha256"]),
        payload.get("signed_by"),
    )


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

    def case_history() -> tuple[HistoryEntry, ...]:
        return history.entries(tx, case.id, case.head_seq)

    def clock_views() -> dict[str, ClockView]:
        return {
            row.name: ClockView(
                row.name,
                row.kind,
                row.status,
                date.fromisoformat(row.due_on),
                date.fromisoformat(row.earliest_after),
            )
            for row in clocks_of_case(tx, case.id)
        }

    def document_views() -> Sequence[DocumentView]:
        if documents is not None:
            return [DocumentView(d.doc_type, d.name, d.sha256, d.signed_by) for d in documents]
        return history.history(tx, case.id, case.head_seq).documents

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
        _load_clocks=clock_views,
    )
