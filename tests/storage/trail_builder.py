"""Builds audit trails through storage alone and tampers with them as an attacker would."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from storage.audit import JOURNAL_CHAIN, Entry, make_entry
from storage.canonical import ZERO_HASH
from storage.database import Database
from storage.store import CaseRow, Store, WorkflowRow

AT = "2026-03-02T09:00:00.000000Z"


@dataclass
class Trail:
    """A database holding ``cases`` chains of ``length`` entries each, plus a journal entry."""

    database: Database
    store: Store
    case_ids: list[int]
    references: list[str]


def build_trail(url: str, cases: int = 3, length: int = 5) -> Trail:
    """Create ``cases`` cases with ``length`` chained entries each, and one journal entry."""
    database = Database(url)
    store = Store(database)
    ids: list[int] = []
    refs: list[str] = []
    with store.write() as tx:
        tx.insert_workflow(
            WorkflowRow("demo", 1, "d" * 64, "Démo", "id: demo", "demo.yaml", AT, "t")
        )
        seq, head = tx.journal_head()
        tx.append_entry(
            make_entry(
                chain_id=JOURNAL_CHAIN,
                seq=seq + 1,
                prev_hash=head,
                recorded_at=AT,
                actor="t",
                kind="workflow.registered",
                reference=None,
            )
        )
        for number in range(1, cases + 1):
            reference = f"TST-2026-DEM-{number:04d}"
            row = CaseRow(0, reference, "TST", "demo", 1, "a", "{}", 1, 0, ZERO_HASH, AT, AT, None)
            case_id = tx.insert_case(row)
            row = CaseRow(
                case_id, reference, "TST", "demo", 1, "a", "{}", 1, 0, ZERO_HASH, AT, AT, None
            )
            prev = ZERO_HASH
            entry: Entry | None = None
            for seq in range(1, length + 1):
                entry = make_entry(
                    chain_id=case_id,
                    seq=seq,
                    prev_hash=prev,
                    recorded_at=AT,
                    actor="agent",
                    kind="case.transition",
                    reference=reference,
                    from_state="a",
                    to_state="b",
                    payload={"n": seq},
                )
                tx.append_entry(entry)
                prev = entry.hash
            assert entry is not None
            tx.move_case_head(row, entry)
            ids.append(case_id)
            refs.append(reference)
    return Trail(database, store, ids, refs)


def unprotect(database: Database) -> None:
    """Remove the append-only protection, as someone with direct database access could."""
    with database.engine.begin() as connection:
        if database.is_sqlite:
            for table in ("audit_entries", "audit_checkpoints", "audit_checkpoint_heads"):
                for operation in ("update", "delete"):
                    connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{operation}"))
        else:
            for table in ("audit_entries", "audit_checkpoints", "audit_checkpoint_heads"):
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))


def tamper(database: Database, sql: str, **params: object) -> None:
    """Run one statement behind the engine's back (protection removed first)."""
    unprotect(database)
    with database.engine.begin() as connection:
        connection.execute(text(sql), params)
