"""The SQL schema as SQLModel tables; the single source for migrations and compiled statements.

Timestamps are stored as ISO-8601 UTC text (``2026-11-23T14:22:41.123456Z``): the audit trail
hashes them exactly as stored, they sort as text, and both backends keep them byte for byte.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

TIMESTAMP_LENGTH = 32
HASH_LENGTH = 64


class WorkflowRecord(SQLModel, table=True):
    """A registered definition version: immutable once written (same id+version, same digest)."""

    __tablename__ = "workflow_definitions"

    workflow_id: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    digest: str = Field(max_length=HASH_LENGTH)
    title: str = Field(max_length=300)
    source: str = Field(sa_column=Column(Text, nullable=False))
    source_path: str = Field(max_length=1000)
    registered_at: str = Field(max_length=TIMESTAMP_LENGTH)
    registered_by: str = Field(max_length=200)


class CaseRecord(SQLModel, table=True):
    """A case (dossier): its state, data, optimistic-lock version and audit-chain head."""

    __tablename__ = "cases"
    # No index on state: every step changes it, and rewriting an index entry per commit cost
    # 9 % of the durable step rate (docs/decisions/0002). Lists by state scan the table.
    __table_args__ = (
        ForeignKeyConstraint(
            ["workflow_id", "workflow_version"],
            ["workflow_definitions.workflow_id", "workflow_definitions.version"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=64, unique=True)
    org: str = Field(max_length=16, index=True)
    workflow_id: str = Field(max_length=64)
    workflow_version: int
    state: str = Field(max_length=64)
    data: str = Field(sa_column=Column(Text, nullable=False))
    version: int = Field(default=1, description="Bumped by every change of state or data.")
    head_seq: int = Field(description="Sequence number of the last audit entry of the case.")
    head_hash: str = Field(max_length=HASH_LENGTH)
    opened_at: str = Field(max_length=TIMESTAMP_LENGTH)
    updated_at: str = Field(max_length=TIMESTAMP_LENGTH)
    closed_at: str | None = Field(default=None, max_length=TIMESTAMP_LENGTH)


class DocumentRecord(SQLModel, table=True):
    """A document attached to a case: its identity and fingerprint, not its bytes."""

    __tablename__ = "documents"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    doc_type: str = Field(max_length=64)
    name: str = Field(max_length=500)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(max_length=HASH_LENGTH)
    location: str = Field(max_length=2000)
    attached_at: str = Field(max_length=TIMESTAMP_LENGTH)
    attached_by: str = Field(max_length=200)
    signed_by: str | None = Field(
        default=None,
        max_length=200,
        description="Who signed the document, as declared by whoever attached it.",
    )


class NonconformityRecord(SQLModel, table=True):
    """Where a non-conformity comes from: the index that lists and groups them.

    The non-conformity itself is a case of the ``non_conformite`` workflow (``case_id``): its
    lifecycle, data and hash chain are a case's. This row repeats, for queries, the fields
    fixed when it was opened (its case data holds the same values and they never change).
    """

    __tablename__ = "nonconformities"

    case_id: int = Field(foreign_key="cases.id", primary_key=True)
    source_case_id: int = Field(foreign_key="cases.id", index=True)
    source_seq: int = Field(description="Seq of the entry of the source case that raised it.")
    workflow_id: str = Field(max_length=64)
    workflow_version: int
    trigger: str | None = Field(default=None, max_length=64)
    control: str | None = Field(default=None, max_length=64, index=True)
    clause: str | None = Field(default=None, max_length=16, index=True)
    severity: str = Field(max_length=16)
    origin: str = Field(max_length=32)
    nature: str = Field(max_length=16)
    raised_at: str = Field(max_length=TIMESTAMP_LENGTH)
    raised_by: str = Field(max_length=200)


class ClockRecord(SQLModel, table=True):
    """A clock of a case: a legal or internal time limit, its due time and what comes next.

    One row per (case, clock name); a clock started again is the same row, reset. The
    scheduler's work queue is ``next_fire_at`` (the next warning or the due time). Every
    change of a clock moves its case's audit chain head in the same transaction.
    """

    __tablename__ = "case_clocks"
    __table_args__ = (UniqueConstraint("case_id", "name", name="uq_case_clock_name"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id")
    name: str = Field(max_length=64)
    kind: str = Field(max_length=24)
    status: str = Field(max_length=16)
    started_on: str = Field(max_length=10)
    period: str = Field(max_length=16)
    due_on: str = Field(max_length=10, description="The period's last day.")
    due_at: str = Field(max_length=TIMESTAMP_LENGTH, description="The end of the last day.")
    earliest_after: str = Field(max_length=10)
    interruptions: int = 0
    interrupted_on: str | None = Field(default=None, max_length=10)
    remaining_days: int | None = None
    warnings_done: int = 0
    next_fire_at: str | None = Field(default=None, max_length=TIMESTAMP_LENGTH, index=True)
    ended_at: str | None = Field(default=None, max_length=TIMESTAMP_LENGTH)
    explanation: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: str = Field(max_length=TIMESTAMP_LENGTH)


class ReferenceCounter(SQLModel, table=True):
    """The last sequence number given to a case reference for (organisation, year, code)."""

    __tablename__ = "reference_counters"

    org: str = Field(primary_key=True, max_length=16)
    year: int = Field(primary_key=True)
    code: str = Field(primary_key=True, max_length=16)
    last: int


class AuditEntryRecord(SQLModel, table=True):
    """One fact of the append-only trail: its position, its body, and its links.

    ``chain_id`` is the case id, or 0 for the journal (facts about no case: registrations,
    refused openings). The body (canonical JSON) holds the whole fact — time, actor, kind,
    states, payload — and is hashed as stored: ``hash = sha256(prev_hash + body)``. No other
    column repeats what the body says, so nothing can disagree with it (docs/audit-trail.md).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("chain_id", "seq", name="uq_audit_chain_seq"),)

    id: int | None = Field(
        default=None,
        # BIGINT on PostgreSQL; INTEGER on SQLite, where only that type aliases the rowid.
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    chain_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    seq: int
    body: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=HASH_LENGTH)
    hash: str = Field(max_length=HASH_LENGTH)


class CheckpointRecord(SQLModel, table=True):
    """A checkpoint: a hash-chained commitment to every chain head at one instant."""

    __tablename__ = "audit_checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True)
    taken_at: str = Field(max_length=TIMESTAMP_LENGTH)
    chains: int
    heads_digest: str = Field(max_length=HASH_LENGTH)
    body: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=HASH_LENGTH)
    hash: str = Field(max_length=HASH_LENGTH)


class CheckpointHeadRecord(SQLModel, table=True):
    """The head (last seq and hash) of one chain as committed to by a checkpoint."""

    __tablename__ = "audit_checkpoint_heads"

    checkpoint_id: int = Field(foreign_key="audit_checkpoints.id", primary_key=True)
    chain_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    seq: int
    hash: str = Field(max_length=HASH_LENGTH)
