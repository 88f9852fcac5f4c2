"""The benchmark workflow (a two-state cycle a case can run forever) and the firing loops."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.actors import Actor
from engine.clock import FrozenClock
from engine.service import Engine
from storage.database import Database
from workflows.catalogue import Catalogue

WORKFLOW_ID = "banc"
ORG = "BANC"
AGENT = Actor("agent.banc", frozenset({"agent"}))
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TRIGGER_FROM = {"a": "aller", "b": "retour"}
"""The trigger that leaves each state: ``aller`` a -> b, ``retour`` b -> a."""

CYCLE_YAML = """\
id: banc
version: 1
code: BANC
title: Banc d'essai (cycle a <-> b)
owner: Benchmarks
fields:
  objet:
    type: text
    label: Objet du marché
states:
  a:
    label: Étape A
    initial: true
  b:
    label: Étape B
transitions:
  - trigger: aller
    source: a
    dest: b
    label: Aller en B
    roles: [agent]
    controls:
      - control: required_fields
        params: {fields: [objet]}
  - trigger: retour
    source: b
    dest: a
    label: Revenir en A
    roles: [agent]
    controls:
      - control: required_fields
        params: {fields: [objet]}
"""

BASELINE_BODY = (
    '{"actor":"agent.banc","at":"2026-03-02T09:00:00.000000Z","case":"BANC-2026-BANC-0001",'
    '"chain":1,"from":"a","kind":"case.transition","payload":{"controls":[{"clause":"8.5.1",'
    '"control":"required_fields","passed":true,"reason":"ok","severity":"blocking"}],'
    '"roles":["agent"],"trigger":"aller"},"seq":2,"to":"b"}'
)
"""The ~300-byte audit body the raw baselines insert (a real transition body is ~400)."""
BASELINE_HASH = hashlib.sha256(BASELINE_BODY.encode()).hexdigest()


def write_definition(folder: Path) -> Path:
    """Write the cycle definition into ``folder`` (created) and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "banc.yaml").write_text(CYCLE_YAML, encoding="utf-8")
    return folder


def make_engine(url: str, folder: Path) -> Engine:
    """An engine on ``url`` with the cycle definition and a frozen clock (as the CLI builds it)."""
    catalogue = Catalogue([folder])
    if catalogue.problems:
        raise RuntimeError(f"benchmark definition rejected: {catalogue.problems}")
    return Engine(Database(url), catalogue=catalogue, clock=FrozenClock(AT))


def open_cases(engine: Engine, count: int) -> list[str]:
    """Open ``count`` cases (their ``objet`` filled, so the control passes); their references."""
    return [
        engine.open_case(WORKFLOW_ID, org=ORG, actor=AGENT, values={"objet": f"Lot {n}"}).reference
        for n in range(count)
    ]


@dataclass(frozen=True, slots=True)
class CaseHandle:
    """What a raw baseline needs to write a case: its id, its next seq and its state."""

    case_id: int
    next_seq: int
    state: str


def handles(engine: Engine, references: Sequence[str]) -> list[CaseHandle]:
    """The current id, next audit seq and state of each case (read through the engine)."""
    result = []
    for reference in references:
        case = engine.show(reference).row
        result.append(CaseHandle(case.id, case.head_seq + 1, case.state))
    return result


@dataclass(slots=True)
class FireTally:
    """What a firing loop did, counted from the engine's answers."""

    transitions: int = 0
    controls: int = 0


class RoundRobin:
    """Fires transitions through ``Engine.fire``, cycling over the cases in order.

    Each case alternates ``aller`` and ``retour``; states are read once, when the object is
    made, then followed from the engine's own outcomes. Every control must pass (checked, not
    assumed).
    """

    def __init__(self, engine: Engine, references: Sequence[str]) -> None:
        self.engine = engine
        self.references = list(references)
        self.states = {reference: engine.show(reference).row.state for reference in references}
        self._next = 0

    def fire(self, count: int) -> FireTally:
        """Fire ``count`` transitions (continuing where the previous call stopped)."""
        tally = FireTally()
        references = self.references
        states = self.states
        for _ in range(count):
            reference = references[self._next % len(references)]
            self._next += 1
            outcome = self.engine.fire(reference, TRIGGER_FROM[states[reference]], AGENT)
            states[reference] = outcome.to_state
            tally.transitions += 1
            tally.controls += len(outcome.results)
            if not all(result.passed for result in outcome.results):
                raise AssertionError(f"a control failed on {reference}: {outcome.results}")
        return tally


AT_TEXT = "2026-03-02T09:00:00.000000Z"
_UPDATE = (
    "UPDATE cases SET state = {state}, version = version + 1, head_seq = {head_seq}, "
    "head_hash = {head_hash}, updated_at = {updated_at} WHERE id = {case_id}"
)
_INSERT = (
    "INSERT INTO audit_entries (chain_id, seq, body, prev_hash, hash) "
    "VALUES ({chain_id}, {seq}, {body}, {prev_hash}, {hash})"
)
_UPDATE_NAMES = ("state", "head_seq", "head_hash", "updated_at", "case_id")
_INSERT_NAMES = ("chain_id", "seq", "body", "prev_hash", "hash")
RAW_UPDATE_SQLITE = _UPDATE.format(**{n: f":{n}" for n in _UPDATE_NAMES})
RAW_INSERT_SQLITE = _INSERT.format(**{n: f":{n}" for n in _INSERT_NAMES})
RAW_UPDATE_PSYCOPG = _UPDATE.format(**{n: f"%({n})s" for n in _UPDATE_NAMES})
RAW_INSERT_PSYCOPG = _INSERT.format(**{n: f"%({n})s" for n in _INSERT_NAMES})


class RawCycle:
    """The raw baselines' work: per commit, the case row to update and the audit row to insert.

    Same cases, same round-robin and same alternation as ``RoundRobin``, but nothing is read,
    decided or hashed: the parameters come from memory and the body is ``BASELINE_BODY``.
    """

    def __init__(self, case_handles: Sequence[CaseHandle]) -> None:
        self.handles = list(case_handles)
        self._next = 0

    def step(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The UPDATE and INSERT parameters of the next commit."""
        index = self._next % len(self.handles)
        self._next += 1
        handle = self.handles[index]
        new_state = "b" if handle.state == "a" else "a"
        self.handles[index] = CaseHandle(handle.case_id, handle.next_seq + 1, new_state)
        update = {
            "state": new_state,
            "head_seq": handle.next_seq,
            "head_hash": BASELINE_HASH,
            "updated_at": AT_TEXT,
            "case_id": handle.case_id,
        }
        insert = {
            "chain_id": handle.case_id,
            "seq": handle.next_seq,
            "body": BASELINE_BODY,
            "prev_hash": BASELINE_HASH,
            "hash": BASELINE_HASH,
        }
        return update, insert


def verified_body_size(engine: Engine, path: Path) -> tuple[int, float]:
    """Verify the whole trail of an SQLite file (untimed); its entries and the average size
    of a transition's audit body, in bytes.

    Raises:
        AssertionError: The trail is not intact.
    """
    report = engine.verify()
    if not report.intact:
        raise AssertionError(f"{path.name}: trail not intact: {report.findings[:3]}")
    with contextlib.closing(sqlite3.connect(path)) as connection:
        (body,) = connection.execute(
            "SELECT avg(length(body)) FROM audit_entries"
            " WHERE json_extract(body, '$.kind') = 'case.transition'"
        ).fetchone()
    return report.entries, float(body)
