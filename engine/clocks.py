"""Clocks: start, stop, interrupt and restart a case's time limits, and say what is due next.

Pure functions over ``ClockRow`` values (no database, no wall time): the service gives the
definition's ``ClockDef``, the case's data and the instant, and writes what they return.

- A clock **starts** on the day of its start event (a date field, or the day the step is
  taken, in Paris) and is due at the end of its period's last day, computed on the legal
  calendar (``engine.legal_periods``); the explanation is kept with the clock.
- It **stops** when a stop step is taken: met if before its due time.
- It is **interrupted** (``interrupt_on`` or ``jalon clocks interrupt``) and later
  **restarted**: ``restart`` opens a fresh full period from the restart day (or the balance
  left at the interruption when longer, CCP R2192-29), ``resume`` runs the days that were
  left. ``max_interruptions`` bounds how often (once for the payment period, R2192-27).
- Its **next action** is a warning (``5d`` before the due time…) or the due time itself:
  the scheduler's queue.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson

from engine.definition import ClockDef, ClockKind, FieldDef, Interruption
from engine.errors import CommandRefused, EngineError
from engine.legal_periods import Due, Period, compute_due
from engine.rules import ParameterLookup, Rule
from storage.canonical import canonical_json, utc_text
from storage.clock_store import ClockRow

PARIS = ZoneInfo("Europe/Paris")
"""Where days begin and end for French legal time limits."""

RUNNING, INTERRUPTED, STOPPED, MISSED, ELAPSED = (
    "running",
    "interrupted",
    "stopped",
    "missed",
    "elapsed",
)
STATUS_LABELS = {
    RUNNING: "en cours",
    INTERRUPTED: "interrompu",
    STOPPED: "arrêté",
    MISSED: "dépassé",
    ELAPSED: "écoulé",
}


class ClockRefused(CommandRefused):
    """A clock command that the clock's rule does not allow (e.g. a second interruption)."""

    code = "delai_refuse"


class NextAction(NamedTuple):
    """What the scheduler must do next for a clock, and when."""

    at: str | None
    """UTC text, or None when nothing is left to do."""
    warning: int | None
    """The index of the warning due then, or None when it is the due time itself."""


def day_of(at: datetime) -> date:
    """The day (in Paris) of an instant."""
    return at.astimezone(PARIS).date()


def end_of_day(day: date) -> datetime:
    """The instant a day ends in Paris (midnight at the start of the next day), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), PARIS).astimezone(UTC)


def choose_period(
    clock: ClockDef,
    data: Mapping[str, Any],
    fields: Mapping[str, FieldDef],
    params: ParameterLookup,
    on: date,
) -> tuple[str, str]:
    """The period of ``clock`` for a case, and why (French): table, variant or default.

    Raises:
        EngineError: a variant's condition cannot be evaluated, or the table has no value.
    """
    if clock.duration_table is not None:
        days = params.value(clock.duration_table, on)
        if days != days.to_integral_value() or days < 1:
            raise EngineError(
                f"La table « {clock.duration_table} » donne {days} : un nombre de jours entier "
                "et positif est attendu."
            )
        return f"{int(days)}d", f"durée lue dans la table « {clock.duration_table} » au {on}"
    for index, variant in enumerate(clock.variants):
        rule = _variant_rule(variant.when, f"délai, variante {index + 1}")
        if rule.evaluate(data, params=params, on=on, fields=fields):
            return variant.duration, f"variante « {variant.when} »"
    return clock.duration, "durée par défaut"


@functools.lru_cache(maxsize=256)
def _variant_rule(expression: str, where: str) -> Rule:
    """A variant's condition, compiled once per process (validation already compiled it)."""
    return Rule.compile(expression, where=where)


def start(
    clock: ClockDef,
    name: str,
    case_id: int,
    start_day: date,
    period: str,
    why: str,
    now: datetime,
    previous: ClockRow | None = None,
) -> ClockRow:
    """A clock started on ``start_day`` for ``period`` (a previous run is replaced)."""
    due = compute_due(start_day, period, calendar=clock.calendar, method=clock.method)
    explanation = {**due.as_dict(), "chosen": why, "history": []}
    row = ClockRow(
        previous.id if previous is not None else 0,
        case_id,
        name,
        clock.kind.value,
        RUNNING,
        start_day.isoformat(),
        period,
        due.end.isoformat(),
        utc_text(end_of_day(due.end)),
        due.earliest_after.isoformat(),
        0,
        None,
        None,
        0,
        None,
        None,
        canonical_json(explanation),
        utc_text(now),
    )
    return _scheduled(clock, row, now)


def _scheduled(clock: ClockDef, row: ClockRow, now: datetime) -> ClockRow:
    action = next_action(clock, row, now)
    return row._replace(next_fire_at=action.at)


def next_action(clock: ClockDef, row: ClockRow, now: datetime) -> NextAction:
    """The next warning not given yet (skipping those already past), else the due time."""
    if row.status != RUNNING:
        return NextAction(None, None)
    due_at = datetime.fromisoformat(row.due_at.replace("Z", "+00:00"))
    for index in range(row.warnings_done, len(clock.warnings)):
        warn_at = due_at - _as_delta(clock.warnings[index])
        if warn_at > now:
            return NextAction(utc_text(warn_at), index)
    return NextAction(row.due_at, None)


def _as_delta(text: str) -> timedelta:
    """A warning's advance: calendar days or weeks (validation refuses other units)."""
    period = Period.parse(text)
    return timedelta(days=period.count * (7 if period.unit.value == "w" else 1))


STOPPABLE = (RUNNING, INTERRUPTED, MISSED)
"""A missed clock still stops (the payment made late): it stays ``missed``, with its end."""


def stop(row: ClockRow, now: datetime) -> tuple[ClockRow, dict[str, Any]]:
    """Stop a clock; the fact says whether it was met in time, and how late it was."""
    late = utc_text(now) > row.due_at
    fact = {
        "clock": row.name,
        "event": "stopped",
        "due_on": row.due_on,
        "met": not late or row.kind == ClockKind.LEGAL_MINIMUM.value,
    }
    if late and row.kind != ClockKind.LEGAL_MINIMUM.value:
        fact["late_days"] = (day_of(now) - date.fromisoformat(row.due_on)).days
    status = MISSED if row.status == MISSED else STOPPED
    stopped = row._replace(status=status, next_fire_at=None, ended_at=utc_text(now))
    return stopped._replace(updated_at=utc_text(now)), fact


def interrupt(
    clock: ClockDef,
    row: ClockRow,
    on_day: date,
    now: datetime,
    details: Mapping[str, Any] | None = None,
) -> tuple[ClockRow, dict[str, Any]]:
    """Interrupt a running clock on ``on_day``, keeping the days left.

    ``details`` (the reason, the missing items…) are kept in the fact and the clock's history.

    Raises:
        ClockRefused: the clock cannot be interrupted, is not running, or was interrupted
            as often as its rule allows.
    """
    if clock.interruption is Interruption.NONE:
        raise ClockRefused(f"Le délai « {clock.label} » ne peut pas être interrompu.")
    if row.status != RUNNING:
        raise ClockRefused(
            f"Le délai « {clock.label} » est {STATUS_LABELS.get(row.status, row.status)} : "
            "seul un délai en cours peut être interrompu."
        )
    if row.interruptions >= clock.max_interruptions:
        times = (
            "une seule fois" if clock.max_interruptions == 1 else f"{clock.max_interruptions} fois"
        )
        raise ClockRefused(
            f"Le délai « {clock.label} » ne peut être interrompu que {times} "
            f"(déjà {row.interruptions} interruption(s))."
        )
    remaining = (date.fromisoformat(row.due_on) - on_day).days
    interrupted = row._replace(
        status=INTERRUPTED,
        interruptions=row.interruptions + 1,
        interrupted_on=on_day.isoformat(),
        remaining_days=max(remaining, 0),
        next_fire_at=None,
        updated_at=utc_text(now),
    )
    fact = {
        "clock": row.name,
        "event": "interrupted",
        "on": on_day.isoformat(),
        "remaining_days": max(remaining, 0),
        "due_on_before": row.due_on,
        **(details or {}),
    }
    return _with_history(interrupted, fact), fact


def restart(
    clock: ClockDef, row: ClockRow, on_day: date, now: datetime
) -> tuple[ClockRow, dict[str, Any]]:
    """Start an interrupted clock again on ``on_day`` (its rule: fresh period or remainder).

    Raises:
        ClockRefused: the clock is not interrupted.
    """
    if row.status != INTERRUPTED:
        raise ClockRefused(
            f"Le délai « {clock.label} » n'est pas interrompu : il ne peut pas être relancé."
        )
    remaining = row.remaining_days or 0
    if clock.interruption is Interruption.RESUME:
        due, rule = _days(on_day, remaining, clock), f"reprise des {remaining} jour(s) restant(s)"
    else:
        due = compute_due(on_day, row.period, calendar=clock.calendar, method=clock.method)
        rule = f"nouveau délai complet de {Period.parse(row.period).describe()}"
        if clock.keep_longer_balance and on_day + timedelta(days=remaining) > due.end:
            due = _days(on_day, remaining, clock)
            rule = (
                f"nouveau délai égal au solde restant ({remaining} jours), "
                f"plus long que {row.period}"
            )
    restarted = row._replace(
        status=RUNNING,
        due_on=due.end.isoformat(),
        due_at=utc_text(end_of_day(due.end)),
        earliest_after=due.earliest_after.isoformat(),
        warnings_done=0,
        updated_at=utc_text(now),
    )
    fact = {
        "clock": row.name,
        "event": "restarted",
        "on": on_day.isoformat(),
        "rule": rule,
        "due_on": due.end.isoformat(),
        "explanation": due.explain(),
    }
    return _scheduled(clock, _with_history(restarted, fact), now), fact


def _days(on_day: date, days: int, clock: ClockDef) -> Due:
    return compute_due(on_day, f"{max(days, 1)}d", calendar=clock.calendar, method=clock.method)


def _with_history(row: ClockRow, fact: dict[str, Any]) -> ClockRow:
    explanation = orjson.loads(row.explanation)
    explanation.setdefault("history", []).append(fact)
    return row._replace(explanation=canonical_json(explanation))


def due_event(
    clock: ClockDef, row: ClockRow, now: datetime
) -> tuple[ClockRow, dict[str, Any], str]:
    """What happens when the scheduler reaches a clock's next action at ``now``.

    Returns the clock after it, the fact's payload, and its kind: ``clock.warning``,
    ``clock.missed`` (a maximum or a target ran out) or ``clock.elapsed`` (a minimum ended).
    """
    due_at = datetime.fromisoformat(row.due_at.replace("Z", "+00:00"))
    reached = [
        index
        for index in range(row.warnings_done, len(clock.warnings))
        if due_at - _as_delta(clock.warnings[index]) <= now
    ]
    if now < due_at and reached:
        index = reached[-1]  # the latest warning reached; earlier ones are superseded
        warned = row._replace(warnings_done=index + 1, updated_at=utc_text(now))
        fact = {
            "clock": row.name,
            "event": "warning",
            "before": clock.warnings[index],
            "due_on": row.due_on,
            "notify": list(clock.on_missed.notify),
        }
        return _scheduled(clock, warned, now), fact, "clock.warning"
    lateness = (now - due_at).total_seconds()
    ended = ELAPSED if clock.kind is ClockKind.LEGAL_MINIMUM else MISSED
    done = row._replace(
        status=ended,
        warnings_done=len(clock.warnings),
        next_fire_at=None,
        updated_at=utc_text(now),
    )
    fact = {
        "clock": row.name,
        "event": ended,
        "due_on": row.due_on,
        "due_at": row.due_at,
        "lateness_seconds": format(Decimal(lateness).quantize(Decimal("0.001")), "f"),
    }
    if ended == MISSED:
        fact["notify"] = list(clock.on_missed.notify)
    return done, fact, f"clock.{ended}"
