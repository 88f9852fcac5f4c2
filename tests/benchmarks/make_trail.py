"""Fill a database quickly with valid audit chains (cases, heads, a checkpoint) for ``verify``.

Every entry is built by ``storage.audit.make_entry``, exactly as the engine builds it: the
first of each chain is a ``case.opened`` fact, the others alternate ``aller``/``retour``
transitions with a control result, like those ``Engine.fire`` writes. Rows go in with the
driver's ``executemany`` in transactions of ``batch_cases`` chains; each case row carries its
chain's head; one checkpoint (``storage.checkpoints.take_checkpoint``) is taken at the end.

    .venv/bin/python -m tests.benchmarks.make_trail /tmp/trail.db --cases 20000 --length 50
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert

from storage.audit import Entry, make_entry
from storage.canonical import ZERO_HASH
from storage.checkpoints import take_checkpoint
from storage.database import Database
from storage.migrate import upgrade
from storage.statements import CASE_COLUMNS, cases, compile_for, statements_for
from storage.store import Store, WorkflowRow

AT = "2026-03-02T09:00:00.000000Z"
WORKFLOW = ("banc", 1)
DIGEST = "d" * 64
ACTOR = "agent.banc"
CONTROL = {
    "clause": "8.5.1",
    "control": "required_fields",
    "passed": True,
    "reason": "tous les champs requis sont renseignés",
    "severity": "blocking",
}


@dataclass(frozen=True, slots=True)
class TrailStats:
    """What was written, and how long it took."""

    cases: int
    entries: int
    seconds: float


def reference_of(case_id: int) -> str:
    """The reference of generated case ``case_id``."""
    return f"BANC-2026-BANC-{case_id:05d}"


def chain(case_id: int, length: int) -> list[Entry]:
    """The ``length`` entries of one case's chain, as the engine would have written them."""
    reference = reference_of(case_id)
    entry = make_entry(
        chain_id=case_id,
        seq=1,
        prev_hash=ZERO_HASH,
        recorded_at=AT,
        actor=ACTOR,
        kind="case.opened",
        reference=reference,
        to_state="a",
        payload={
            "workflow": WORKFLOW[0],
            "version": WORKFLOW[1],
            "digest": DIGEST,
            "org": "BANC",
            "data": {"objet": f"Lot {case_id}"},
            "roles": ["agent"],
        },
    )
    entries = [entry]
    state = "a"
    for seq in range(2, length + 1):
        dest, trigger = ("b", "aller") if state == "a" else ("a", "retour")
        entry = make_entry(
            chain_id=case_id,
            seq=seq,
            prev_hash=entry.hash,
            recorded_at=AT,
            actor=ACTOR,
            kind="case.transition",
            reference=reference,
            from_state=state,
            to_state=dest,
            payload={"trigger": trigger, "roles": ["agent"], "controls": [CONTROL]},
        )
        entries.append(entry)
        state = dest
    return entries


def _case_params(case_id: int, head: Entry) -> dict[str, Any]:
    return {
        "id": case_id,
        "reference": reference_of(case_id),
        "org": "BANC",
        "workflow_id": WORKFLOW[0],
        "workflow_version": WORKFLOW[1],
        "state": head.to_state,
        "data": f'{{"objet":"Lot {case_id}"}}',
        "version": head.seq,
        "head_seq": head.seq,
        "head_hash": head.hash,
        "opened_at": AT,
        "updated_at": AT,
        "closed_at": None,
    }


def build_trail(url: str, cases_count: int, length: int, *, batch_cases: int = 500) -> TrailStats:
    """Migrate the (empty) database at ``url`` and write ``cases_count`` chains of ``length``."""
    began = time.perf_counter()
    database = Database(url)
    upgrade(database)
    store = Store(database)
    dialect = database.dialect_name
    insert_case = compile_for(
        insert(cases).values(**{name: bindparam(name) for name in CASE_COLUMNS}), dialect
    )
    insert_entry = statements_for(dialect).insert_entry
    try:
        with store.write() as tx:
            tx.insert_workflow(
                WorkflowRow(*WORKFLOW, DIGEST, "Banc d'essai", "id: banc", "banc.yaml", AT, ACTOR)
            )
        for first in range(1, cases_count + 1, batch_cases):
            case_rows: list[dict[str, Any]] = []
            entry_rows: list[dict[str, Any]] = []
            for case_id in range(first, min(first + batch_cases, cases_count + 1)):
                entries = chain(case_id, length)
                entry_rows.extend(entry.as_params() for entry in entries)
                case_rows.append(_case_params(case_id, entries[-1]))
            with store.write() as tx:
                tx.execute_many(insert_case, case_rows)
                tx.execute_many(insert_entry, entry_rows)
        take_checkpoint(store, AT)
    finally:
        store.close()
        database.dispose()
    return TrailStats(cases_count, cases_count * length, time.perf_counter() - began)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``make_trail URL_OR_PATH --cases N --length L``."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.make_trail")
    parser.add_argument("database", help="an SQLite file path or a database URL (empty)")
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--length", type=int, default=50, help="entries per chain")
    arguments = parser.parse_args(argv)
    stats = build_trail(arguments.database, arguments.cases, arguments.length)
    print(
        f"{stats.entries} entries in {stats.cases} chains written in {stats.seconds:.1f} s "
        f"({stats.entries / stats.seconds:,.0f} entries/s)"
    )


if __name__ == "__main__":
    main()
