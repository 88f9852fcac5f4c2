"""Storage errors: what the persistence layer can report to the engine.

```
StorageError
├─ RecordNotFound (also LookupError)
├─ StaleRecord                      optimistic-lock check failed: someone wrote first
├─ DatabaseNotReady                 the schema is missing or behind: run `jalon db upgrade`
├─ DatabaseUnavailable              cannot be opened, reached or used (with the driver's reason)
└─ AuditChainBroken(chain, seq)     raised by callers that require an intact chain
```
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of the errors raised by storage/."""


class RecordNotFound(StorageError, LookupError):
    """The requested row does not exist."""


class StaleRecord(StorageError):
    """A row changed between its read and the conditional write that expected its version."""


class DatabaseNotReady(StorageError):
    """The database schema is missing or older than this version of Jalon expects."""


class DatabaseUnavailable(StorageError):
    """The database cannot be opened, reached or used; the message says which and why."""


def as_storage_error(error: BaseException, where: str = "la base") -> StorageError | None:
    """Translate a driver or SQLAlchemy error into a ``DatabaseUnavailable`` with one sentence.

    Returns None for anything else, which is then a bug and keeps its traceback.
    """
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - only on the error path

    module = type(error).__module__
    if not isinstance(error, SQLAlchemyError) and not module.startswith(("sqlite3", "psycopg")):
        return None
    cause = getattr(error, "orig", None) or error
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return DatabaseUnavailable(f"Impossible d'utiliser {where} : {reason}.")


class AuditChainBroken(StorageError):
    """An audit chain failed verification at ``seq``."""

    def __init__(self, chain_id: int, seq: int, detail: str) -> None:
        super().__init__(f"chain {chain_id}, entry {seq}: {detail}")
        self.chain_id = chain_id
        self.seq = seq
        self.detail = detail
