"""The non-conformity index: insert a non-conformity's origin, list and group them by filters."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, or_, select
from sqlalchemy.orm import aliased

from storage.statements import cases, compile_for
from storage.store import Tx
from storage.tables import NonconformityRecord

index = NonconformityRecord.__table__  # type: ignore[attr-defined]

LINK_COLUMNS = (
    "case_id",
    "source_case_id",
    "source_seq",
    "workflow_id",
    "workflow_version",
    "trigger",
    "control",
    "clause",
    "severity",
    "origin",
    "nature",
    "raised_at",
    "raised_by",
)

FILTERS = (
    "reference",
    "state",
    "severity",
    "clause",
    "workflow_id",
    "origin",
    "nature",
    "control",
    "source",
)
"""What ``list_nonconformities`` can filter on (equality): ``reference`` is the
non-conformity's own, ``source`` the reference of the case it concerns."""


class NcLink(NamedTuple):
    """Where a non-conformity comes from, as written when it is opened."""

    case_id: int
    source_case_id: int
    source_seq: int
    workflow_id: str
    workflow_version: int
    trigger: str | None
    control: str | None
    clause: str | None
    severity: str
    origin: str
    nature: str
    raised_at: str
    raised_by: str


class NcRow(NamedTuple):
    """A non-conformity as listed: its own case's reference and state, and its origin."""

    reference: str
    state: str
    closed_at: str | None
    source_reference: str
    workflow_id: str
    workflow_version: int
    trigger: str | None
    control: str | None
    clause: str | None
    severity: str
    origin: str
    nature: str
    raised_at: str
    raised_by: str


@cache
def _insert_sql(dialect_name: str) -> str:
    values: dict[str, Any] = {name: bindparam(name) for name in LINK_COLUMNS}
    return compile_for(insert(index).values(**values), dialect_name)


@cache
def _list_sql(dialect_name: str, filters: tuple[str, ...], similar: bool) -> str:
    nc_case = aliased(cases, name="nc")
    source = aliased(cases, name="src")
    query = (
        select(
            nc_case.c.reference,
            nc_case.c.state,
            nc_case.c.closed_at,
            source.c.reference,
            index.c.workflow_id,
            index.c.workflow_version,
            index.c.trigger,
            index.c.control,
            index.c.clause,
            index.c.severity,
            index.c.origin,
            index.c.nature,
            index.c.raised_at,
            index.c.raised_by,
        )
        .join(nc_case, nc_case.c.id == index.c.case_id)
        .join(source, source.c.id == index.c.source_case_id)
    )
    for name in filters:
        if name in ("state", "reference"):
            query = query.where(nc_case.c[name] == bindparam(name))
        elif name == "source":
            query = query.where(source.c.reference == bindparam("source"))
        else:
            query = query.where(index.c[name] == bindparam(name))
    if similar:
        query = query.where(
            or_(
                index.c.control == bindparam("like_control"),
                index.c.clause == bindparam("like_clause"),
            ),
            index.c.source_case_id != bindparam("other_than_case"),
        )
    query = query.order_by(index.c.raised_at.desc(), index.c.case_id.desc())
    return compile_for(query, dialect_name)


def insert_nonconformity(tx: Tx, link: NcLink) -> None:
    """Write the origin of a non-conformity (in the transaction that opens its case)."""
    tx.execute(_insert_sql(tx.dialect), link._asdict())


def list_nonconformities(
    tx: Tx, filters: Mapping[str, str | None], limit: int = 1000
) -> list[NcRow]:
    """Non-conformities matching every filter given (see ``FILTERS``), newest first."""
    given = {name: value for name, value in filters.items() if value is not None}
    unknown = set(given) - set(FILTERS)
    if unknown:
        raise ValueError(f"unknown non-conformity filters: {sorted(unknown)}")
    names = tuple(name for name in FILTERS if name in given)
    cursor = tx.execute(_list_sql(tx.dialect, names, False), given)
    return [NcRow(*row) for row in cursor.fetchmany(limit)]


def similar_nonconformities(
    tx: Tx, control: str | None, clause: str | None, other_than_case: int, limit: int = 1000
) -> list[NcRow]:
    """Non-conformities of other cases with the same control or the same clause (§10.2.1 b)."""
    params = {
        "like_control": control or "",
        "like_clause": clause or "",
        "other_than_case": other_than_case,
    }
    cursor = tx.execute(_list_sql(tx.dialect, (), True), params)
    return [NcRow(*row) for row in cursor.fetchmany(limit)]


@cache
def _link_sql(dialect_name: str) -> str:
    query = select(*(index.c[name] for name in LINK_COLUMNS)).where(
        index.c.case_id == bindparam("case_id")
    )
    return compile_for(query, dialect_name)


def link_of(tx: Tx, case_id: int) -> NcLink | None:
    """The origin of the non-conformity whose own case is ``case_id``, or None."""
    row = tx.execute(_link_sql(tx.dialect), {"case_id": case_id}).fetchone()
    return NcLink(*row) if row else None
