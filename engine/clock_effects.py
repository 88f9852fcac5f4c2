"""What a step does to the case's clocks: stop, interrupt, restart and start them, in its tx.

Called by the service inside the step's transaction (and by the opening of a case for the
clocks that start on the initial state); returns the clock facts that go into the step's own
audit entry (``payload.clocks``), so that a clock never changes without its case's chain
moving with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.clocks import (
    INTERRUPTED,
    STOPPABLE,
    choose_period,
    day_of,
    interrupt,
    restart,
    start,
    stop,
)
from engine.definition import ClockDef, FieldDef, LatePaymentDef, WorkflowDef
from engine.errors import EngineError, InvalidValue
from engine.late_payment import AmountBase, DayCount, compute_late_payment
from engine.rules import ParameterLookup
from storage.clock_store import ClockRow, clocks_of_case, save_clock
from storage.store import Tx


def apply_step_clocks(
    tx: Tx,
    definition: WorkflowDef,
    case_id: int,
    trigger: str | None,
    from_state: str | None,
    dest: str,
    data: Mapping[str, Any],
    now: datetime,
    params: ParameterLookup,
) -> list[dict[str, Any]]:
    """Apply a step's effects on every clock of the case; return the facts, in order.

    ``trigger`` is None when the case is opened (``from_state`` None, ``dest`` the initial
    state). Raises ``ClockRefused`` when a step would interrupt a clock its rule forbids to.
    """
    if not definition.clocks:
        return []
    existing = {row.name: row for row in clocks_of_case(tx, case_id)}
    facts: list[dict[str, Any]] = []
    entering = dest != from_state
    for name, clock in definition.clocks.items():
        row = existing.get(name)
        stops = _hits(clock.stop.triggers, clock.stop.states, trigger, dest, entering)
        if row is not None and stops and row.status in STOPPABLE and not _ended(row):
            row, fact = stop(row, now)
            if clock.late_payment is not None:
                fact.update(_late_payment(clock.late_payment, row, data, now, params))
            facts.append(fact)
        if row is not None and trigger is not None and trigger in clock.interrupt_on:
            row, fact = interrupt(clock, row, day_of(now), now)
            facts.append(fact)
        resumes = trigger is not None and trigger in clock.resume_on
        if row is not None and resumes and row.status == INTERRUPTED:
            row, fact = restart(clock, row, day_of(now), now)
            facts.append(fact)
        if _hits(clock.start.triggers, clock.start.states, trigger, dest, entering):
            row, fact = _start(clock, name, case_id, row, definition.fields, data, now, params)
            facts.append(fact)
        if row is not None and row is not existing.get(name):
            save_clock(tx, row)
    return facts


def _late_payment(
    rule: LatePaymentDef,
    row: ClockRow,
    data: Mapping[str, Any],
    now: datetime,
    params: ParameterLookup,
) -> dict[str, Any]:
    """The late-payment interest of a payment clock that stopped, or nothing when in time.

    A computation that cannot be made (no ECB rate for the half-year, no amount) does not
    refuse the payment: the fact records why, in French, for the officers to follow up.
    """
    paid_on = day_of(now)
    paid_text = data.get(rule.paid_on_field) if rule.paid_on_field is not None else None
    if paid_text not in (None, ""):
        paid_on = date.fromisoformat(str(paid_text))
    due_on = date.fromisoformat(row.due_on)
    if paid_on <= due_on:
        return {}
    amount = data.get(rule.amount_field)
    try:
        if amount in (None, ""):
            raise InvalidValue(rule.amount_field, f"le champ « {rule.amount_field} » est vide")
        result = compute_late_payment(
            due_on,
            paid_on,
            Decimal(str(amount)),
            params,
            base=AmountBase(rule.base),
            day_count=DayCount(rule.day_count),
        )
    except EngineError as error:
        return {"late_payment_error": f"Intérêts moratoires non calculés : {error.message}"}
    return {"late_payment": result.as_dict()}


def _ended(row: ClockRow) -> bool:
    """Already stopped by a step (``ended_at`` is set by a stop only, never by a miss)."""
    return row.ended_at is not None


def _hits(
    triggers: list[str], states: list[str], trigger: str | None, dest: str, entering: bool
) -> bool:
    return (trigger is not None and trigger in triggers) or (entering and dest in states)


def _start(
    clock: ClockDef,
    name: str,
    case_id: int,
    previous: ClockRow | None,
    fields: Mapping[str, FieldDef],
    data: Mapping[str, Any],
    now: datetime,
    params: ParameterLookup,
) -> tuple[ClockRow, dict[str, Any]]:
    start_day, origin = day_of(now), "jour de l'étape"
    if clock.start_field is not None:
        value = data.get(clock.start_field)
        if value not in (None, ""):
            start_day, origin = date.fromisoformat(str(value)), f"champ « {clock.start_field} »"
        else:
            origin = f"jour de l'étape (champ « {clock.start_field} » non renseigné)"
    try:
        period, why = choose_period(clock, data, fields, params, start_day)
    except EngineError as error:
        raise InvalidValue(
            name, f"Le délai « {clock.label} » ne peut pas démarrer : {error.message}"
        ) from error
    row = start(clock, name, case_id, start_day, period, why, now, previous)
    fact = {
        "clock": name,
        "event": "started",
        "start_day": start_day.isoformat(),
        "origin": origin,
        "period": period,
        "chosen": why,
        "due_on": row.due_on,
        "due_at": row.due_at,
    }
    return row, fact
