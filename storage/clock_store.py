"""Clocks in SQL: write a case's clocks, read them, and claim the due ones exactly once.

``claim_due`` is the scheduler's queue: on PostgreSQL it locks the due rows with
``FOR UPDATE SKIP LOCKED`` so that several schedulers share the work without ever taking the
same clock; on SQLite the write transaction (``BEGIN IMMEDIATE``) already makes the claiming
process the only writer.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, insert, literal_column, select, update

from storage.statements import cases, compile_for
from storage.store import Tx
from storage.tables import ClockRecord

clocks = ClockRecord.__table__  # type: ignore[attr-defined]

CLOCK_COLUMNS = (
    "id",
    "case_id",
    "name",
    "kind",
    "status",
    "started_on",
    "period",
    "due_on",
    "due_at",
    "earliest_after",
    "interruptions",
    "interrupted_on",
    "remaining_days",
    "warnings_done",
    "next_fire_at",
    "ended_at",
    "explanation",
    "updated_at",
)

ACTIVE = ("running",)
"""The statuses of a clock the scheduler watches."""


class ClockRow(NamedTuple):
    """A clock as stored (``explanation`` is canonical JSON text)."""

    id: int
    case_id: int
    name: str
    kind: str
    status: str
    started_on: str
    period: str
    due_on: str
    due_at: str
    earliest_after: str
    interruptions: int
    interrupted_on: str | None
    remaining_days: int | None
    warnings_done: int
    next_fire_at: str | None
    ended_at: str | None
    explanation: str
    updated_at: str


class ListedClock(NamedTuple):
    """A clock with its case's reference, as ``jalon clocks list`` shows it."""

    reference: str
    clock: ClockRow


_SELECT = select(*(clocks.c[name] for name in CLOCK_COLUMNS))


@cache
def _sql(dialect: str, name: str) -> str:
    statements: dict[str, Any] = {
        "of_case": _SELECT.where(clocks.c.case_id == bindparam("case_id")).order_by(clocks.c.id),
        "insert": insert(clocks)
        .values(**{name: bindparam(name) for name in CLOCK_COLUMNS[1:]})
        .returning(clocks.c.id),
        "update": update(clocks)
        .where(clocks.c.id == bindparam("id"))
        .values(**{name: bindparam(name) for name in CLOCK_COLUMNS[2:]}),
        "earliest": select(func.min(clocks.c.next_fire_at)).where(
            clocks.c.next_fire_at.is_not(None)
        ),
    }
    due = (
        _SELECT.where(clocks.c.next_fire_at <= bindparam("now"))
        .order_by(clocks.c.next_fire_at, clocks.c.id)
        .limit(bindparam("limit"))
        .offset(literal_column("0"))  # SQLite's compiler would add an OFFSET parameter
    )
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statements["due"] = due
    return compile_for(statements[name], dialect)


def clocks_of_case(tx: Tx, case_id: int) -> list[ClockRow]:
    """The clocks of a case, in the order they were first started."""
    return [ClockRow(*row) for row in tx.execute(_sql(tx.dialect, "of_case"), {"case_id": case_id})]


def save_clock(tx: Tx, row: ClockRow) -> ClockRow:
    """Insert the clock (``id`` 0) or update it (its ``id``); return it with its id."""
    values = row._asdict()
    if row.id == 0:
        del values["id"]
        (new_id,) = tx.execute(_sql(tx.dialect, "insert"), values).fetchone()
        return row._replace(id=int(new_id))
    tx.execute(_sql(tx.dialect, "update"), values)
    return row


def claim_due(tx: Tx, now: str, limit: int) -> list[ClockRow]:
    """The clocks whose next action is due at ``now``, earliest first, locked for this tx.

    On PostgreSQL, rows another transaction holds are skipped (``SKIP LOCKED``), and a row
    taken here stays locked until this transaction ends: it is fired once.
    """
    cursor = tx.execute(_sql(tx.dialect, "due"), {"now": now, "limit": limit})
    return [ClockRow(*row) for row in cursor.fetchall()]


RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
"""PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back."""


def is_lock_conflict(error: BaseException) -> bool:
    """True when the database aborted a transaction to break a deadlock (or a serialization
    conflict): nothing of it was written, and it may simply be run again.

    Concurrent sweeps can meet so on PostgreSQL: one holds a case's row (a warning written)
    and waits for the non-conformity counter, which the other holds while it writes to the
    same case. The driver's error carries the SQLSTATE (no driver import here).
    """
    return getattr(error, "sqlstate", None) in RETRYABLE_SQLSTATES


def earliest_due(tx: Tx) -> str | None:
    """The earliest next action of any clock (UTC text), or None when none is waiting."""
    row = tx.execute(_sql(tx.dialect, "earliest")).fetchone()
    return str(row[0]) if row and row[0] is not None else None


@cache
def _listing_sql(dialect: str, filters: tuple[str, ...]) -> str:
    query = select(cases.c.reference, *(clocks.c[name] for name in CLOCK_COLUMNS)).join(
        cases, cases.c.id == clocks.c.case_id
    )
    for name in filters:
        if name == "reference":
            query = query.where(cases.c.reference == bindparam("reference"))
        elif name == "due_before":
            query = query.where(clocks.c.due_on < bindparam("due_before"))
        else:
            query = query.where(clocks.c[name] == bindparam(name))
    return compile_for(query.order_by(clocks.c.due_at, clocks.c.id), dialect)


def list_clocks(tx: Tx, filters: dict[str, str | None], limit: int = 1000) -> list[ListedClock]:
    """Clocks matching the filters: ``reference``, ``due_before`` (a last day before this
    ``AAAA-MM-JJ``), ``status``, ``name``."""
    given = {name: value for name, value in filters.items() if value is not None}
    names = tuple(sorted(given))
    cursor = tx.execute(_listing_sql(tx.dialect, names), given)
    return [ListedClock(row[0], ClockRow(*row[1:])) for row in cursor.fetchmany(limit)]
