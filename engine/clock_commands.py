"""Clock commands of the Engine: interrupt, restart, list, explain, and the scheduler's sweep.

The sweep is what fires deadlines: it claims the clocks whose next action is due (a warning
or the due time), and for each, in the same transaction, appends the fact to the case's
chain, opens a non-conformity when a maximum or a target is missed, takes the escalation step
if the definition names one, and moves the clock to its next action. A clock is therefore
fired once: the claim (``SKIP LOCKED`` on PostgreSQL, the single writer on SQLite), the
fact and the clock's new state commit together, and a clock whose next action moved is no
longer due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

import orjson

from engine.actors import SYSTEM, Actor
from engine.clocks import ClockRefused, day_of, due_event, interrupt, restart
from engine.definition import ClockDef, ClockKind, NcSeverity
from engine.engine_parts import EngineCore
from engine.errors import CommandRefused, InvalidValue, UnknownCase
from engine.facts import case_entry
from engine.log import get_logger
from engine.machine import CompiledWorkflow
from engine.nonconformity import NcDraft
from storage.canonical import utc_text
from storage.clock_store import (
    ClockRow,
    ListedClock,
    claim_due,
    clocks_of_case,
    earliest_due,
    is_lock_conflict,
    list_clocks,
    save_clock,
)
from storage.errors import StaleRecord
from storage.store import CaseRow, Tx

SWEEP_BATCH = 200
"""How many due clocks one transaction of the sweep claims."""


class _EngineParts(EngineCore, Protocol):
    """What these commands use of the Engine they are mixed into."""

    def _fire_due(self, tx: Tx, row: ClockRow, now: datetime, report: SweepReport) -> None: ...

    def _escalate(self, tx: Tx, reference: str, trigger: str, report: SweepReport) -> None: ...


@dataclass
class SweepReport:
    """What one sweep did: facts written by kind, non-conformities, escalations, conflicts."""

    at: str
    fired: dict[str, int] = field(default_factory=dict)
    nonconformities: list[str] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)
    retried: int = 0
    lateness_seconds: list[float] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every clock action taken."""
        return sum(self.fired.values())


class ClockDetail(NamedTuple):
    """One clock of a case with its definition and stored explanation."""

    reference: str
    clock: ClockRow
    definition: ClockDef
    explanation: dict[str, Any]


class ClockCommands:
    """Mixin of ``Engine``: what officers and the scheduler do with clocks."""

    def interrupt_clock(
        self: _EngineParts,
        reference: str,
        name: str,
        actor: Actor,
        *,
        reason: str,
        missing: Sequence[str] = (),
        on: date | None = None,
    ) -> ClockRow:
        """Interrupt a running clock (e.g. an incomplete invoice: the missing items listed)."""
        with self._command("clock.interrupt", actor, case=reference, clock=name) as log:
            if len(reason.strip()) < 5:
                raise InvalidValue("motif", "Le motif de l'interruption est obligatoire.")
            with self.store.write() as tx:
                case, compiled = self._load(tx, reference, None)
                self._refuse_if_closed(case, compiled)
                clock, row = _clock_of(tx, case, compiled, name)
                now = self.clock.now()
                details = {"reason": reason.strip(), "missing": [m.strip() for m in missing if m]}
                row, fact = interrupt(clock, row, on or day_of(now), now, details)
                _record_clock(tx, case, actor, row, fact, now)
            log.info("clock.interrupted", clock=name)
        return row

    def restart_clock(
        self: _EngineParts, reference: str, name: str, actor: Actor, *, on: date | None = None
    ) -> ClockRow:
        """Start an interrupted clock again (everything received: a new period, or the rest)."""
        with self._command("clock.restart", actor, case=reference, clock=name) as log:
            with self.store.write() as tx:
                case, compiled = self._load(tx, reference, None)
                self._refuse_if_closed(case, compiled)
                clock, row = _clock_of(tx, case, compiled, name)
                now = self.clock.now()
                row, fact = restart(clock, row, on or day_of(now), now)
                _record_clock(tx, case, actor, row, fact, now)
            log.info("clock.restarted", clock=name, due_on=row.due_on)
        return row

    def clocks(
        self: _EngineParts,
        *,
        reference: str | None = None,
        due_before: date | None = None,
        status: str | None = None,
        limit: int = 1000,
    ) -> list[ListedClock]:
        """Clocks matching the filters (``due_before``: last day before it), soonest due first."""
        filters = {
            "reference": reference,
            "due_before": due_before.isoformat() if due_before is not None else None,
            "status": status,
        }
        with self.store.read() as tx:
            return list_clocks(tx, filters, limit)

    def clock_detail(self: _EngineParts, reference: str, name: str) -> ClockDetail:
        """One clock of a case, with its definition and the explanation stored with it."""
        with self.store.read() as tx:
            case = self._case(tx, reference)
            compiled = self._compiled.get(tx, case.workflow_id, case.workflow_version)
            clock, row = _clock_of(tx, case, compiled, name)
        return ClockDetail(reference, row, clock, orjson.loads(row.explanation))

    def next_clock_action(self: _EngineParts) -> str | None:
        """When the scheduler must wake next (UTC text), or None."""
        with self.store.read() as tx:
            return earliest_due(tx)

    def sweep_clocks(
        self: _EngineParts, now: datetime | None = None, batch: int = SWEEP_BATCH
    ) -> SweepReport:
        """Fire every clock action due at ``now`` (default: the engine's clock), once each.

        Claims ``batch`` clocks per transaction. A batch that meets a concurrent change of
        one of its cases, or a deadlock with another sweep (PostgreSQL), is rolled back and
        taken again clock by clock; the report counts only what committed.
        """
        at = now or self.clock.now()
        report = SweepReport(utc_text(at))
        self._ensure_nc_workflow()
        log = get_logger("scheduler")
        while True:
            done = SweepReport(report.at)  # this batch's actions: counted once it commits
            try:
                with self.store.write() as tx:
                    claimed = claim_due(tx, utc_text(at), batch)
                    for row in claimed:
                        self._fire_due(tx, row, at, done)
            except Exception as conflict:
                if not (isinstance(conflict, StaleRecord) or is_lock_conflict(conflict)):
                    raise
                report.retried += 1  # rolled back whole: the batch is taken again, clock by clock
                batch = 1
                continue
            _add_to(report, done)
            if len(claimed) < batch:
                break
        if report.total:
            log.info(
                "clocks.swept", fired=report.fired, nonconformities=len(report.nonconformities)
            )
        return report

    def _fire_due(
        self: _EngineParts, tx: Tx, row: ClockRow, now: datetime, report: SweepReport
    ) -> None:
        case = _case_by_id(tx, row.case_id)
        compiled = self._compiled.get(tx, case.workflow_id, case.workflow_version)
        clock = compiled.definition.clocks.get(row.name)
        if clock is None:  # the definition version has no such clock: nothing more to do
            save_clock(tx, row._replace(next_fire_at=None, updated_at=utc_text(now)))
            return
        row, fact, kind = due_event(clock, row, now)
        if kind == "clock.missed":
            draft = _missed_draft(clock, row, case)
            raised = self._raise_in(tx, case, case.head_seq + 1, [draft], SYSTEM)
            fact["nonconformities"] = raised
            report.nonconformities.extend(raised)
        if kind != "clock.warning":
            report.lateness_seconds.append(float(fact["lateness_seconds"]))
        _record_clock(tx, case, SYSTEM, row, fact, now, kind)
        report.fired[kind] = report.fired.get(kind, 0) + 1
        escalate = clock.on_missed.escalate
        if kind == "clock.missed" and escalate is not None:
            self._escalate(tx, case.reference, escalate, report)

    def _escalate(
        self: _EngineParts, tx: Tx, reference: str, trigger: str, report: SweepReport
    ) -> None:
        case, compiled = self._load(tx, reference, None)
        if compiled.is_final(case.state):
            return
        try:
            self._step_in(tx, case, compiled, trigger, SYSTEM, uncommitted=True)
            report.escalations.append(f"{reference}:{trigger}")
        except CommandRefused as refusal:
            payload = {
                "command": "clock.escalate",
                "trigger": trigger,
                "code": refusal.code,
                "message": refusal.message,
                **refusal.details,
            }
            entry = case_entry(case, utc_text(self.clock.now()), SYSTEM, "command.refused", payload)
            tx.append_entry(entry)
            tx.move_case_head(case, entry)


def _add_to(report: SweepReport, done: SweepReport) -> None:
    """Add a committed batch's actions to the sweep's report."""
    for kind, count in done.fired.items():
        report.fired[kind] = report.fired.get(kind, 0) + count
    report.nonconformities.extend(done.nonconformities)
    report.escalations.extend(done.escalations)
    report.lateness_seconds.extend(done.lateness_seconds)


def _case_by_id(tx: Tx, case_id: int) -> CaseRow:
    case = tx.case_by_id(case_id)
    if case is None:
        raise UnknownCase(f"Le dossier {case_id} d'un délai est introuvable.")
    return case


def _clock_of(
    tx: Tx, case: CaseRow, compiled: CompiledWorkflow, name: str
) -> tuple[ClockDef, ClockRow]:
    clock = compiled.definition.clocks.get(name)
    if clock is None:
        known = ", ".join(compiled.definition.clocks) or "aucun"
        raise UnknownCase(
            f"La procédure du dossier {case.reference} n'a pas de délai « {name} » "
            f"(délais : {known})."
        )
    row = next((r for r in clocks_of_case(tx, case.id) if r.name == name), None)
    if row is None:
        raise ClockRefused(
            f"Le délai « {clock.label} » n'a pas encore commencé sur le dossier {case.reference}.",
            reference=case.reference,
        )
    return clock, row


def _record_clock(
    tx: Tx,
    case: CaseRow,
    actor: Actor,
    row: ClockRow,
    fact: dict[str, Any],
    now: datetime,
    kind: str = "clock.changed",
) -> None:
    """Save the clock and append its fact to the case's chain (head moved, same tx)."""
    save_clock(tx, row)
    entry = case_entry(case, utc_text(now), actor, kind, fact)
    tx.append_entry(entry)
    tx.move_case_head(case, entry)


def _missed_draft(clock: ClockDef, row: ClockRow, case: CaseRow) -> NcDraft:
    default = NcSeverity.MAJOR if clock.kind is ClockKind.LEGAL_MAXIMUM else NcSeverity.MINOR
    severity = (clock.on_missed.nc_severity or default).value
    return NcDraft(
        trigger=None,
        control=f"clock:{row.name}",
        clause=clock.on_missed.clause,
        severity=severity,
        origin="missed_deadline",
        nature="nonconformity",
        finding=(
            f"Délai « {clock.label} » dépassé sur le dossier {case.reference} : il expirait à "
            f"la fin du {row.due_on}."
        ),
    )
