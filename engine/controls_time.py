"""The ``delay`` control: a legal period between two dates of the case.

``minimum``: the act of ``to_field`` must come after the period counted from ``from_field``
(e.g. the contract signed once the standstill period has run: on or after ``earliest_after``).
``maximum``: the act of ``to_field`` must happen within the period (on or before ``end``).
The period is counted by ``engine.legal_periods`` (Reg. 1182/71 or "de date à date", on a
legal calendar); the French reason gives the computed date and how it was counted.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date
from enum import StrEnum

from pydantic import Field, field_validator

from engine.controls import (
    REFERENCE_ZONE,
    CaseSnapshot,
    ControlSpec,
    Params,
    field_date,
    register,
)
from engine.definition import IDENTIFIER
from engine.errors import EngineError, InvalidValue
from engine.legal_calendar import DEFAULT_CALENDAR, calendar_for, french_date
from engine.legal_periods import Due, Method, Period, compute_due
from engine.validation import Reference, ReferenceKind


class DelayKind(StrEnum):
    """Whether the period is a minimum to wait or a maximum not to exceed."""

    MINIMUM = "minimum"
    MAXIMUM = "maximum"


class DelayParams(Params):
    """Parameters of ``delay``."""

    from_field: str = Field(pattern=IDENTIFIER, description="Champ date de l'événement de départ.")
    to_field: str = Field(pattern=IDENTIFIER, description="Champ date de l'acte contrôlé.")
    period: str = Field(description="La durée : 35d, 10wd, 2w, 2m, 1y…")
    kind: DelayKind = Field(
        description="minimum (l'acte suit le délai) ou maximum (l'acte a lieu dans le délai)."
    )
    calendar: str = Field(default=DEFAULT_CALENDAR, description="Calendrier des jours fériés.")
    method: str = Field(
        default=Method.REG1182.value, description="Méthode de calcul : reg1182 ou date-a-date."
    )

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        try:
            Period.parse(value)
        except InvalidValue as error:
            raise ValueError(str(error)) from error
        return value

    @field_validator("calendar")
    @classmethod
    def _calendar(cls, value: str) -> str:
        try:
            calendar_for(value)
        except InvalidValue as error:
            raise ValueError(str(error)) from error
        return value

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        try:
            return Method.parse(value).value
        except InvalidValue as error:
            raise ValueError(str(error)) from error

    def references(self) -> Iterator[Reference]:
        """The two date fields."""
        yield Reference(("from_field",), ReferenceKind.DATE_FIELD, self.from_field)
        yield Reference(("to_field",), ReferenceKind.DATE_FIELD, self.to_field)


def _delay(params: DelayParams, snapshot: CaseSnapshot) -> tuple[bool, str]:
    try:
        start = field_date(snapshot, params.from_field)
        act = field_date(snapshot, params.to_field)
    except ValueError:
        fields = f"« {params.from_field} » ou « {params.to_field} »"
        return False, f"le champ {fields} ne contient pas une date : délai non vérifiable"
    if start is None:
        return False, (
            f"le champ « {params.from_field} » n'est pas renseigné : "
            f"le délai de {Period.parse(params.period).describe()} ne peut pas être calculé"
        )
    try:
        due, how = _due(start, params.period, params.calendar, params.method)
    except EngineError as error:
        return False, f"le délai ne peut pas être calculé : {error}"
    if params.kind is DelayKind.MINIMUM:
        limit, words = due.earliest_after, "au plus tôt le"
    else:
        limit, words = due.end, "au plus tard le"
    if act is None:
        return False, (
            f"le champ « {params.to_field} » n'est pas renseigné ; il doit être "
            f"{words} {french_date(limit)} ({how})"
        )
    holds = act >= limit if params.kind is DelayKind.MINIMUM else act <= limit
    verdict = "respecte" if holds else "ne respecte pas"
    return holds, (
        f"{params.to_field} ({french_date(act)}) {verdict} le délai : {words} "
        f"{french_date(limit)} ({how})"
    )


@functools.lru_cache(maxsize=4096)
def _due(start: date, period: str, calendar: str, method: str) -> tuple[Due, str]:
    """The due date and how it was counted: a pure function of its arguments, so cached
    (a case's step is checked on every attempt and every preview)."""
    due = compute_due(start, period, calendar=calendar, method=method)
    return due, due.explain()[0]


class ClockElapsedParams(Params):
    """Parameters of ``clock_elapsed``."""

    clock: str = Field(pattern=IDENTIFIER, description="Le délai minimum (clocks) à attendre.")


def _clock_elapsed(params: ClockElapsedParams, snapshot: CaseSnapshot) -> tuple[bool, str]:
    clock = snapshot.clocks.get(params.clock)
    if clock is None:
        return (
            False,
            f"le délai « {params.clock} » n'a pas commencé : l'acte ne peut pas encore avoir lieu",
        )
    today = snapshot.now.astimezone(REFERENCE_ZONE).date()
    if today >= clock.earliest_after:
        return True, (
            f"le délai « {params.clock} » est écoulé (dernier jour : {french_date(clock.due_on)})"
        )
    return False, (
        f"le délai « {params.clock} » court jusqu'au {french_date(clock.due_on)} inclus : "
        f"l'acte est possible à partir du {french_date(clock.earliest_after)}"
    )


CLOCK_ELAPSED = register(
    ControlSpec(
        name="clock_elapsed",
        clause="8.5.1",
        summary="Un délai minimum déclaré (clocks) est écoulé : l'acte peut avoir lieu.",
        check=_clock_elapsed,
        params=ClockElapsedParams,
    )
)


DELAY = register(
    ControlSpec(
        name="delay",
        clause="8.5.1",
        summary="Un délai légal (minimum ou maximum) entre deux dates du dossier est respecté.",
        check=_delay,
        params=DelayParams,
    )
)
