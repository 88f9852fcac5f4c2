"""The meaning of a definition's clocks: events, fields, durations, calendars and escalations.

Called by ``engine.validation`` once the definition has the right shape; every problem is a
finding whose path (``clocks.<name>.<key>``) the loader turns into the file's line.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator

from engine.controls import default_parameters
from engine.definition import (
    IDENTIFIER,
    ClockDef,
    ClockEvents,
    ClockKind,
    FieldType,
    Interruption,
    WorkflowDef,
)
from engine.errors import EngineError, InvalidValue
from engine.legal_calendar import calendar_for
from engine.legal_periods import Method, Period
from engine.rules import Rule
from engine.validation import (
    Finding,
    PathPart,
    field_problem,
    suggest,
    table_problem,
    trigger_problem,
)

CLOCK_CONTROL = "clock_elapsed"
"""The control that refuses an act before a legal minimum has run."""


def clock_findings(defn: WorkflowDef) -> Iterator[Finding]:
    """Every problem of the definition's clocks, then of the controls that name one."""
    yield from _clocks_named(defn)
    if not defn.clocks:
        return
    tables = _tables()
    for name, clock in defn.clocks.items():
        here: tuple[PathPart, ...] = ("clocks", name)
        if not re.match(IDENTIFIER, name):
            yield here, f"nom de délai « {name} » invalide : minuscules, chiffres et _"
        yield from _events(defn, (*here, "start"), clock.start, required=True)
        yield from _events(defn, (*here, "stop"), clock.stop, required=False)
        if clock.start_field is not None:
            problem = field_problem(defn, clock.start_field, (FieldType.DATE,))
            if problem is not None:
                yield (*here, "start_field"), problem
        yield from _durations(clock, here, tables)
        yield from _counting(clock, here)
        yield from _interruptions(defn, clock, here)
        if clock.late_payment is not None:
            where = (*here, "late_payment")
            rule = clock.late_payment
            problem = field_problem(defn, rule.amount_field, (FieldType.AMOUNT,))
            if problem is not None:
                yield (*where, "amount_field"), problem
            if rule.paid_on_field is not None:
                problem = field_problem(defn, rule.paid_on_field, (FieldType.DATE,))
                if problem is not None:
                    yield (*where, "paid_on_field"), problem
        escalate = clock.on_missed.escalate
        if escalate is not None:
            if clock.kind is ClockKind.LEGAL_MINIMUM:
                yield (
                    (*here, "on_missed", "escalate"),
                    ("un délai minimum n'est jamais « manqué » : pas d'escalade possible"),
                )
            problem = trigger_problem(defn, escalate)
            if problem is not None:
                yield (*here, "on_missed", "escalate"), problem


def _clocks_named(defn: WorkflowDef) -> Iterator[Finding]:
    minimums = [n for n, c in defn.clocks.items() if c.kind is ClockKind.LEGAL_MINIMUM]
    for index, transition in enumerate(defn.transitions):
        for position, ref in enumerate(transition.controls):
            name = ref.params.get("clock") if ref.control == CLOCK_CONTROL else None
            if not isinstance(name, str):
                continue
            here = ("transitions", index, "controls", position, "params", "clock")
            if name not in defn.clocks:
                yield (
                    here,
                    (
                        f"contrôle « {CLOCK_CONTROL} » : délai « {name} » inconnu"
                        f"{suggest(name, defn.clocks)} : il doit être déclaré sous « clocks »"
                    ),
                )
            elif name not in minimums:
                yield (
                    here,
                    (
                        f"contrôle « {CLOCK_CONTROL} » : le délai « {name} » n'est pas un délai "
                        "minimum (kind: legal_minimum)"
                    ),
                )


def _tables() -> Collection[str] | None:
    try:
        return [table.id for table in default_parameters().tables()]
    except EngineError:
        return None  # the tables have their own problems, reported by their own checks


def _events(
    defn: WorkflowDef, here: tuple[PathPart, ...], events: ClockEvents, *, required: bool
) -> Iterator[Finding]:
    if required and not events.triggers and not events.states:
        yield here, "indiquez au moins un déclencheur (triggers) ou une étape (states)"
    for index, trigger in enumerate(events.triggers):
        problem = trigger_problem(defn, trigger)
        if problem is not None:
            yield (*here, "triggers", index), problem
    for index, state in enumerate(events.states):
        if state not in defn.states:
            yield (
                (*here, "states", index),
                (f"étape « {state} » inconnue{suggest(state, defn.states)}"),
            )


def _durations(
    clock: ClockDef, here: tuple[PathPart, ...], tables: Collection[str] | None
) -> Iterator[Finding]:
    yield from _period(clock.duration, (*here, "duration"))
    for index, variant in enumerate(clock.variants):
        where = (*here, "variants", index)
        yield from _period(variant.duration, (*where, "duration"))
        try:
            Rule.compile(variant.when, where=f"délai, variante {index + 1}")
        except InvalidValue as error:
            yield (*where, "when"), error.message
    if clock.duration_table is not None:
        problem = table_problem(clock.duration_table, tables)
        if problem is not None:
            yield (*here, "duration_table"), problem
    for index, warning in enumerate(clock.warnings):
        where = (*here, "warnings", index)
        problems = list(_period(warning, where))
        yield from problems
        if not problems and Period.parse(warning).unit.value not in ("d", "w"):
            yield (
                where,
                (
                    f"alerte « {warning} » : une alerte se compte en jours (5d) ou en "
                    "semaines (1w) avant l'échéance"
                ),
            )


def _period(text: str, here: tuple[PathPart, ...]) -> Iterator[Finding]:
    try:
        Period.parse(text)
    except InvalidValue as error:
        yield here, error.message


def _counting(clock: ClockDef, here: tuple[PathPart, ...]) -> Iterator[Finding]:
    try:
        Method.parse(clock.method)
    except InvalidValue as error:
        yield (*here, "method"), error.message
    try:
        calendar_for(clock.calendar)
    except InvalidValue as error:
        yield (*here, "calendar"), error.message


def _interruptions(
    defn: WorkflowDef, clock: ClockDef, here: tuple[PathPart, ...]
) -> Iterator[Finding]:
    interrupting = bool(clock.interrupt_on or clock.resume_on)
    if clock.interruption is Interruption.NONE and interrupting:
        yield (
            (*here, "interruption"),
            (
                "des déclencheurs interrompent ou relancent ce délai : indiquez interruption: "
                "restart (nouveau délai complet) ou resume (reprise du temps restant)"
            ),
        )
    for key, triggers in (("interrupt_on", clock.interrupt_on), ("resume_on", clock.resume_on)):
        for index, trigger in enumerate(triggers):
            problem = trigger_problem(defn, trigger)
            if problem is not None:
                yield (*here, key, index), problem
