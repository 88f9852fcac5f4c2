"""Units of work on one driver connection: short transactions that read and write cases.

A ``Store`` owns one connection (one per thread); ``store.write()`` opens a transaction that
commits when the block ends and rolls back on any exception, so a refused or failed command
never leaves half its writes behind. Every method of ``Tx`` runs compiled statements from
``storage.statements`` on the driver cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, NamedTuple

from storage.audit import JOURNAL_CHAIN, Entry
from storage.canonical import ZERO_HASH
from storage.database import Database
from storage.errors import StaleRecord
from storage.statements import Statements, cases_query, statements_for

JOURNAL_LOCK_KEY = 0x4A414C4F4E  # "JALON": serialises appends to the journal chain


class CaseRow(NamedTuple):
    """A case as stored (``data`` is canonical JSON text)."""

    id: int
    reference: str
    org: str
    workflow_id: str
    workflow_version: int
    state: str
    data: str
    version: int
    head_seq: int
    head_hash: str
    opened_at: str
    updated_at: str
    closed_at: str | None


class DocumentRow(NamedTuple):
    """A document attached to a case."""

    doc_type: str
    name: str
    size: int
    sha256: str
    location: str
    attached_at: str
    attached_by: str
    signed_by: str | None = None


class WorkflowRow(NamedTuple):
    """A registered definition version."""

    workflow_id: str
    version: int
    digest: str
    title: str
    source: str
    source_path: str
    registered_at: str
    registered_by: str


class Tx:
    """The statements one transaction can run; obtained from ``Store.write()``/``read()``."""

    def __init__(
        self,
        cursor: Any,
        sql: Statements,
        dialect: str,
        integrity_error: type[Exception],
        connection: Any = None,
    ) -> None:
        self._connection = connection
        self._cursor = cursor
        self._sql = sql
        self._dialect = dialect
        self._integrity_error = integrity_error

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``: which compiled SQL this transaction runs."""
        return self._dialect

    def _one(self, statement: str, params: dict[str, Any]) -> Any:
        self._cursor.execute(statement, params)
        return self._cursor.fetchone()

    def execute(self, statement: str, params: dict[str, Any] | None = None) -> Any:
        """Run driver SQL text (from ``statements.compile_for``) and return the cursor."""
        self._cursor.execute(statement, params or {})
        return self._cursor

    def stream(
        self, statement: str, params: dict[str, Any] | None = None, batch: int = 5_000
    ) -> Iterator[tuple[Any, ...]]:
        """Yield the rows of a large query in batches, inside this transaction.

        PostgreSQL uses a server-side cursor, so memory stays flat however many rows there are.
        """
        if self._dialect == "postgresql":
            cursor = self._connection.cursor(name="jalon_stream")
            cursor.itersize = batch
        else:
            cursor = self._connection.cursor()
        try:
            cursor.execute(statement, params or {})
            while rows := cursor.fetchmany(batch):
                yield from rows
        finally:
            cursor.close()

    def execute_many(self, statement: str, rows: list[dict[str, Any]]) -> None:
        """Run driver SQL text once per parameter dict."""
        self._cursor.executemany(statement, rows)

    def case_by_reference(self, reference: str) -> CaseRow | None:
        """The case with this reference, or None."""
        row = self._one(self._sql.case_by_reference, {"reference": reference})
        return CaseRow(*row) if row else None

    def case_by_id(self, case_id: int) -> CaseRow | None:
        """The case with this id, or None."""
        row = self._one(self._sql.case_by_id, {"id": case_id})
        return CaseRow(*row) if row else None

    def insert_case(self, row: CaseRow) -> int:
        """Insert a new case (its ``id`` is ignored) and return the id it was given."""
        params = {name: getattr(row, name) for name in CaseRow._fields if name != "id"}
        return int(self._one(self._sql.insert_case, params)[0])

    def record_step(
        self,
        case: CaseRow,
        entry: Entry,
        *,
        state: str,
        data: str,
        updated_at: str,
        closed_at: str | None,
    ) -> None:
        """Append ``entry`` to the case's chain and move the case with it, or neither.

        The UPDATE is guarded by the case version and chain head read before; if another
        command moved the case meanwhile, ``StaleRecord`` is raised and nothing is written.
        On PostgreSQL both writes travel as one statement.
        """
        params = {
            "case_id": case.id,
            "expected_version": case.version,
            "expected_head_seq": case.head_seq,
            "state": state,
            "data": data,
            "new_version": case.version + 1,
            "head_seq": entry.seq,
            "head_hash": entry.hash,
            "updated_at": updated_at,
            "closed_at": closed_at,
        }
        if self._sql.write_step is None:
            self.append_entry(entry)
            self._cursor.execute(self._sql.update_case, params)
        else:
            params.update(
                seq=entry.seq, body=entry.body, prev_hash=entry.prev_hash, hash=entry.hash
            )
            try:
                self._cursor.execute(self._sql.write_step, params)
            except self._integrity_error as error:
                raise StaleRecord(case.reference) from error
        if self._cursor.rowcount != 1:
            raise StaleRecord(case.reference)

    def move_case_head(self, case: CaseRow, head: Entry) -> None:
        """Record a new chain head without changing state or data (e.g. after a refusal)."""
        self._cursor.execute(
            self._sql.update_case_head,
            {
                "case_id": case.id,
                "expected_head_seq": case.head_seq,
                "head_seq": head.seq,
                "head_hash": head.hash,
            },
        )
        if self._cursor.rowcount != 1:
            raise StaleRecord(case.reference)

    def append_entry(self, entry: Entry) -> None:
        """Insert an audit entry; a duplicate (chain, seq) means a race: ``StaleRecord``."""
        try:
            self._cursor.execute(self._sql.insert_entry, entry.as_params())
        except self._integrity_error as error:
            raise StaleRecord(f"chain {entry.chain_id} seq {entry.seq}") from error

    def journal_head(self) -> tuple[int, str]:
        """Lock the journal chain for this transaction and return its head (seq, hash)."""
        if self._sql.journal_lock is not None:
            self._cursor.execute(self._sql.journal_lock, {"key": JOURNAL_LOCK_KEY})
            self._cursor.fetchone()
        row = self._one(self._sql.journal_head, {})
        return (int(row[0]), str(row[1])) if row else (0, ZERO_HASH)

    def next_reference_number(self, org: str, year: int, code: str) -> int:
        """Increment and return the reference counter of (org, year, code)."""
        row = self._one(self._sql.next_reference_number, {"org": org, "year": year, "code": code})
        return int(row[0])

    def insert_document(self, case_id: int, document: DocumentRow) -> None:
        """Attach a document record to a case."""
        params = {name: getattr(document, name) for name in DocumentRow._fields}
        self._cursor.execute(self._sql.insert_document, {"case_id": case_id, **params})

    def documents_of_case(self, case_id: int) -> list[DocumentRow]:
        """The documents attached to a case, oldest first."""
        self._cursor.execute(self._sql.documents_of_case, {"case_id": case_id})
        return [DocumentRow(*row) for row in self._cursor.fetchall()]

    def entries_of_chain(self, chain_id: int) -> list[Entry]:
        """Every entry of a chain in sequence order."""
        self._cursor.execute(self._sql.entries_of_chain, {"chain_id": chain_id})
        return [Entry(*row) for row in self._cursor.fetchall()]

    def entries_of_chain_range(self, chain_id: int, after: int, upto: int) -> list[Entry]:
        """The entries of a chain with ``after < seq <= upto``, in sequence order."""
        self._cursor.execute(
            self._sql.entries_of_chain_range, {"chain_id": chain_id, "after": after, "upto": upto}
        )
        return [Entry(*row) for row in self._cursor.fetchall()]

    def list_cases(
        self, *, workflow: str | None, state: str | None, org: str | None, limit: int
    ) -> list[CaseRow]:
        """Cases matching the filters (None: any), most recently updated first."""
        filters = {"workflow_id": workflow, "state": state, "org": org}
        sql = cases_query(self._dialect, tuple(k for k, v in filters.items() if v is not None))
        params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
        self._cursor.execute(sql, params)
        return [CaseRow(*row) for row in self._cursor.fetchmany(limit)]

    def workflow(self, workflow_id: str, version: int) -> WorkflowRow | None:
        """The registered definition version, or None."""
        row = self._one(self._sql.workflow, {"workflow_id": workflow_id, "version": version})
        return WorkflowRow(*row) if row else None

    def insert_workflow(self, row: WorkflowRow) -> None:
        """Register a definition version; a concurrent registration is ``StaleRecord``."""
        params = {name: getattr(row, name) for name in WorkflowRow._fields}
        try:
            self._cursor.execute(self._sql.insert_workflow, params)
        except self._integrity_error as error:
            raise StaleRecord(f"workflow {row.workflow_id} v{row.version}") from error


class Store:
    """One connection to the database and the transactions run on it (one per thread)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._sql = statements_for(database.dialect_name)
        self._pooled: Any = None
        # PEP 249: every driver module exposes IntegrityError (no psycopg import on SQLite).
        dbapi = database.engine.dialect.dbapi
        assert dbapi is not None
        self._integrity_error: type[Exception] = dbapi.IntegrityError

    @property
    def integrity_error(self) -> type[Exception]:
        """The driver's IntegrityError class (a unique or foreign-key constraint refused a row)."""
        return self._integrity_error

    def _driver(self) -> Any:
        if self._pooled is None:
            self._pooled = self.database.raw_connection()
        return self._pooled.driver_connection

    def write(self) -> _Transaction:
        """A read-write transaction: committed at the end of the block, rolled back on error."""
        return _Transaction(self, write=True)

    def read(self) -> _Transaction:
        """A read-only transaction for a short query."""
        return _Transaction(self, write=False)

    def snapshot(self) -> _Transaction:
        """A read-only transaction in which every statement sees the same committed state.

        SQLite's WAL gives a read transaction one snapshot; PostgreSQL needs REPEATABLE READ.
        Used by verification, which must not mistake a concurrent commit for tampering.
        """
        return _Transaction(self, write=False, repeatable=True)

    def close(self) -> None:
        """Give the connection back to the pool."""
        if self._pooled is not None:
            self._pooled.close()
            self._pooled = None


class _Transaction:
    """The context manager behind ``Store.write``/``read``/``snapshot`` (a class, not a
    generator: it runs once per command on the hot path)."""

    __slots__ = ("_connection", "_cursor", "_repeatable", "_sqlite", "_store", "_write")

    def __init__(self, store: Store, *, write: bool, repeatable: bool = False) -> None:
        self._store = store
        self._write = write
        self._repeatable = repeatable
        self._sqlite = store.database.is_sqlite

    def __enter__(self) -> Tx:
        store = self._store
        self._connection = connection = store._driver()
        self._cursor = cursor = connection.cursor()
        if self._sqlite:
            cursor.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        elif self._repeatable:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return Tx(
            cursor,
            store._sql,
            store.database.dialect_name,
            store._integrity_error,
            connection,
        )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        cursor = self._cursor
        try:
            if kind is None:
                if self._sqlite:
                    cursor.execute("COMMIT")
                else:
                    self._connection.commit()
            elif self._sqlite:
                cursor.execute("ROLLBACK")
            else:
                self._connection.rollback()
        finally:
            cursor.close()


__all__ = ["JOURNAL_CHAIN", "CaseRow", "DocumentRow", "Store", "Tx", "WorkflowRow"]
