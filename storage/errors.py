"""Storage errors: what the persistence layer can report to the engine.

```
StorageError
├─ RecordNotFound (also LookupError)
├─ StaleRecord                      optimistic-lock check failed: someone wrote first
├─ DatabaseNotReady                 the schema is missing or behind: run `jalon db upgrade`
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


class AuditChainBroken(StorageError):
    """An audit chain failed verification at ``seq``."""

    def __init__(self, chain_id: int, seq: int, detail: str) -> None:
        super().__init__(f"chain {chain_id}, entry {seq}: {detail}")
        self.chain_id = chain_id
        self.seq = seq
        self.detail = detail
