"""The hot-path SQL, compiled once per dialect from the SQLModel tables into driver text.

Going through SQLAlchemy's execution layer costs about half of SQLite's durable commit rate
(docs/decisions/0002-hot-path-on-the-driver.md); compiling the same Core statements once and
running the text on the driver connection keeps the tables as the single source of the schema
while the per-command overhead stays near the raw driver's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Text,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from storage.tables import (
    AuditEntryRecord,
    CaseRecord,
    DocumentRecord,
    ReferenceCounter,
    WorkflowRecord,
)

cases = CaseRecord.__table__  # type: ignore[attr-defined]
entries = AuditEntryRecord.__table__  # type: ignore[attr-defined]
documents = DocumentRecord.__table__  # type: ignore[attr-defined]
counters = ReferenceCounter.__table__  # type: ignore[attr-defined]
workflows = WorkflowRecord.__table__  # type: ignore[attr-defined]

CASE_COLUMNS = (
    "id",
    "reference",
    "org",
    "workflow_id",
    "workflow_version",
    "state",
    "data",
    "version",
    "head_seq",
    "head_hash",
    "opened_at",
    "updated_at",
    "closed_at",
)
ENTRY_COLUMNS = ("chain_id", "seq", "body", "prev_hash", "hash")
DOCUMENT_COLUMNS = (
    "doc_type",
    "name",
    "size",
    "sha256",
    "location",
    "attached_at",
    "attached_by",
    "signed_by",
)
WORKFLOW_COLUMNS = (
    "workflow_id",
    "version",
    "digest",
    "title",
    "source",
    "source_path",
    "registered_at",
    "registered_by",
)


@dataclass(frozen=True, slots=True)
class Statements:
    """Driver-ready SQL text for one dialect; parameters are passed by name in a dict."""

    case_by_reference: str
    case_by_id: str
    insert_case: str
    update_case: str
    update_case_head: str
    insert_entry: str
    entries_of_chain: str
    entries_of_chain_range: str
    """Entries of a chain with ``after < seq <= upto``, in order (incremental history reads)."""
    journal_head: str
    next_reference_number: str
    insert_document: str
    documents_of_case: str
    workflow: str
    insert_workflow: str
    journal_lock: str | None
    write_step: str | None
    """PostgreSQL only: the case UPDATE and the entry INSERT as one statement (one round trip)."""


def _text(statement: ClauseElement, dialect: Dialect) -> str:
    return str(statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True}))


@cache
def dialect_for(dialect_name: str) -> Dialect:
    """The SQLAlchemy dialect Jalon compiles to: named parameters on SQLite, psycopg's own."""
    dialect: Dialect
    if dialect_name == "sqlite":
        dialect = sqlite.dialect(paramstyle="named")
    else:
        dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return dialect


def compile_for(statement: ClauseElement, dialect_name: str) -> str:
    """Compile a Core statement into driver text for ``sqlite`` or ``postgresql``."""
    return _text(statement, dialect_for(dialect_name))


def _params(columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: bindparam(name) for name in columns}


def _upsert_counter(dialect_name: str) -> ClauseElement:
    module: Any = sqlite if dialect_name == "sqlite" else postgresql
    statement = module.insert(counters).values(
        org=bindparam("org"),
        year=bindparam("year"),
        code=bindparam("code"),
        last=literal_column("1"),
    )
    upsert: ClauseElement = statement.on_conflict_do_update(
        index_elements=["org", "year", "code"],
        set_={"last": counters.c.last + literal_column("1")},
    ).returning(counters.c.last)
    return upsert


@cache
def statements_for(dialect_name: str) -> Statements:
    """Compile the hot-path statements for ``sqlite`` or ``postgresql`` (cached)."""
    dialect = dialect_for(dialect_name)
    case_select = select(*(cases.c[name] for name in CASE_COLUMNS))
    return Statements(
        case_by_reference=_text(
            case_select.where(cases.c.reference == bindparam("reference")), dialect
        ),
        case_by_id=_text(case_select.where(cases.c.id == bindparam("id")), dialect),
        insert_case=_text(
            insert(cases).values(**_params(CASE_COLUMNS[1:])).returning(cases.c.id), dialect
        ),
        update_case=_text(_update_case(), dialect),
        update_case_head=_text(
            update(cases)
            .where(
                cases.c.id == bindparam("case_id"),
                cases.c.head_seq == bindparam("expected_head_seq"),
            )
            .values(head_seq=bindparam("head_seq"), head_hash=bindparam("head_hash")),
            dialect,
        ),
        insert_entry=_text(insert(entries).values(**_params(ENTRY_COLUMNS)), dialect),
        entries_of_chain=_text(
            select(*(entries.c[name] for name in ENTRY_COLUMNS))
            .where(entries.c.chain_id == bindparam("chain_id"))
            .order_by(entries.c.seq),
            dialect,
        ),
        entries_of_chain_range=_text(
            select(*(entries.c[name] for name in ENTRY_COLUMNS))
            .where(
                entries.c.chain_id == bindparam("chain_id"),
                entries.c.seq > bindparam("after"),
                entries.c.seq <= bindparam("upto"),
            )
            .order_by(entries.c.seq),
            dialect,
        ),
        journal_head=_text(
            select(entries.c.seq, entries.c.hash).where(
                entries.c.chain_id == literal_column("0"),
                entries.c.seq
                == select(func.max(entries.c.seq))
                .where(entries.c.chain_id == literal_column("0"))
                .scalar_subquery(),
            ),
            dialect,
        ),
        next_reference_number=_text(_upsert_counter(dialect_name), dialect),
        insert_document=_text(
            insert(documents).values(case_id=bindparam("case_id"), **_params(DOCUMENT_COLUMNS)),
            dialect,
        ),
        documents_of_case=_text(
            select(*(documents.c[name] for name in DOCUMENT_COLUMNS))
            .where(documents.c.case_id == bindparam("case_id"))
            .order_by(documents.c.id),
            dialect,
        ),
        workflow=_text(
            select(*(workflows.c[name] for name in WORKFLOW_COLUMNS)).where(
                workflows.c.workflow_id == bindparam("workflow_id"),
                workflows.c.version == bindparam("version"),
            ),
            dialect,
        ),
        insert_workflow=_text(insert(workflows).values(**_params(WORKFLOW_COLUMNS)), dialect),
        journal_lock=(
            None
            if dialect_name == "sqlite"
            else _text(select(func.pg_advisory_xact_lock(bindparam("key"))), dialect)
        ),
        write_step=None if dialect_name == "sqlite" else _text(_write_step(), dialect),
    )


def _update_case() -> Any:
    return (
        update(cases)
        .where(
            cases.c.id == bindparam("case_id"),
            cases.c.version == bindparam("expected_version"),
            cases.c.head_seq == bindparam("expected_head_seq"),
        )
        .values(
            state=bindparam("state"),
            data=bindparam("data"),
            version=bindparam("new_version"),
            head_seq=bindparam("head_seq"),
            head_hash=bindparam("head_hash"),
            updated_at=bindparam("updated_at"),
            closed_at=bindparam("closed_at"),
        )
    )


def _write_step() -> ClauseElement:
    """``WITH moved AS (UPDATE cases ... RETURNING id) INSERT INTO audit_entries SELECT ...``.

    The entry is inserted only if the guarded UPDATE moved the case, so a lost race inserts
    nothing and reports zero rows, exactly like the two statements it replaces.
    """
    moved = _update_case().returning(cases.c.id).cte("moved")
    values = select(
        moved.c.id,
        bindparam("seq", type_=Integer),
        bindparam("body", type_=Text),
        bindparam("prev_hash", type_=String),
        bindparam("hash", type_=String),
    )
    insert_entry: ClauseElement = insert(entries).from_select(
        ["chain_id", "seq", "body", "prev_hash", "hash"], values
    )
    return insert_entry


@cache
def cases_query(dialect_name: str, filters: tuple[str, ...]) -> str:
    """``SELECT`` of cases filtered on equality of ``filters`` columns, newest first."""
    query = select(*(cases.c[name] for name in CASE_COLUMNS))
    for name in filters:
        query = query.where(cases.c[name] == bindparam(name))
    return compile_for(query.order_by(cases.c.updated_at.desc(), cases.c.id.desc()), dialect_name)
