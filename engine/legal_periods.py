"""Legal time limits: a period after an event, and its end under Reg. 1182/71 or the CE's method.

Two methods, both at day granularity (docs/calendar.md gives the sources and examples):

* ``reg1182`` — Regulation (EEC, Euratom) No 1182/71: the day of the event is not counted
  (art. 3(1)); days are added, weeks/months/years end on the same weekday or date, or the last
  day of a month that lacks that date (art. 3(2)(c)); working days are counted one by one; a
  last day that is a Saturday, Sunday or public holiday moves to the next working day
  (art. 3(4)); a period of two days or more contains at least two working days (art. 3(5)).
  An act "after the period" is possible from the day after its last day.
* ``date-a-date`` — the Conseil d'État's reading for the standstill (CE, 2 Aug 2011,
  n° 347526): the day of sending and the last day are both counted, nothing is excluded and
  nothing moves; for N days the period expires on start + N - 1 and the act is possible from
  start + N.

Every result is a :class:`Due` that carries its own explanation in French. Pure: no clock.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from engine.errors import InvalidValue
from engine.legal_calendar import (
    DEFAULT_CALENDAR,
    MONTHS,
    WEEKDAYS,
    LegalCalendar,
    calendar_for,
    check_year,
    french_date,
)


class Unit(StrEnum):
    """The unit of a period, written as its suffix (``30d``, ``10wd``, ``2w``, ``2m``, ``1y``)."""

    DAYS = "d"
    WORKING_DAYS = "wd"
    WEEKS = "w"
    MONTHS = "m"
    YEARS = "y"


class Method(StrEnum):
    """How a period is counted: Reg. 1182/71, or the Conseil d'État's "de date à date"."""

    REG1182 = "reg1182"
    DATE_A_DATE = "date-a-date"

    @classmethod
    def parse(cls, text: str) -> Method:
        """Read a method's name (``reg1182`` or ``date-a-date``; ``date-à-date`` accepted).

        Raises:
            InvalidValue: the name is unknown.
        """
        name = text.strip().lower().replace("à", "a")
        for method in cls:
            if method.value == name:
                return method
        raise InvalidValue(
            "methode",
            f"La méthode de calcul « {text} » est inconnue : choisissez reg1182 "
            "(règlement n° 1182/71) ou date-a-date (Conseil d'État, 2 août 2011).",
        )


_SUFFIXES = {
    "d": Unit.DAYS,
    "j": Unit.DAYS,
    "wd": Unit.WORKING_DAYS,
    "jo": Unit.WORKING_DAYS,
    "w": Unit.WEEKS,
    "s": Unit.WEEKS,
    "m": Unit.MONTHS,
    "y": Unit.YEARS,
    "a": Unit.YEARS,
}
_PERIOD = re.compile(r"(\d{1,5})\s*([a-z]{1,2})")
_NAMES = {
    Unit.DAYS: ("jour calendaire", "jours calendaires"),
    Unit.WORKING_DAYS: ("jour ouvrable", "jours ouvrables"),
    Unit.WEEKS: ("semaine", "semaines"),
    Unit.MONTHS: ("mois", "mois"),
    Unit.YEARS: ("an", "ans"),
}

ART_3_5 = "art. 3(5) : au moins deux jours ouvrables"
"""The reason of a move made by art. 3(5) (the other moves name the day: ``samedi``…)."""


@dataclass(frozen=True, slots=True)
class Period:
    """A length of time: ``count`` units (``30d`` is thirty calendar days)."""

    count: int
    unit: Unit

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read ``30d``, ``10wd``, ``2w``, ``2m``, ``1y`` (or ``30j``, ``10jo``, ``2s``, ``1a``).

        Raises:
            InvalidValue: the text is not a positive whole number followed by a known unit;
                the sentence names the text.
        """
        match = _PERIOD.fullmatch(text.strip().lower())
        if match is None or match.group(2) not in _SUFFIXES:
            raise InvalidValue(
                "duree",
                f"La durée « {text} » n'est pas reconnue : écrivez un nombre suivi de d (jours), "
                "wd (jours ouvrables), w (semaines), m (mois) ou y (ans), par exemple 30d ou 2m.",
            )
        count = int(match.group(1))
        if count == 0:
            raise InvalidValue(
                "duree", f"La durée « {text} » est nulle : un délai compte au moins une unité."
            )
        return cls(count, _SUFFIXES[match.group(2)])

    def __str__(self) -> str:
        return f"{self.count}{self.unit.value}"

    def describe(self) -> str:
        """The period in French words: ``30 jours calendaires``, ``1 an``."""
        singular, plural = _NAMES[self.unit]
        return f"{self.count} {singular if self.count == 1 else plural}"

    @property
    def at_least_two_days(self) -> bool:
        """True when art. 3(5) applies: the period is expressed as two days or more."""
        return self.unit not in (Unit.DAYS, Unit.WORKING_DAYS) or self.count >= 2


class Move(NamedTuple):
    """One move of a period's last day, and why (French): ``samedi``, ``jour férié : …``."""

    from_date: date
    to_date: date
    reason: str


@dataclass(frozen=True, slots=True)
class Due:
    """The end of a period, with every step that led to it.

    Attributes:
        start: The day of the event the period runs from.
        period: The period.
        method: How it was counted.
        calendar: The code of the calendar whose holidays were used.
        raw_end: The last day before any move (``reg1182``: start + period; ``date-a-date``:
            the last day counted, equal to ``end``).
        end: The last day of the period: it expires at the end of this day.
        earliest_after: The first day an act that must follow the period may happen.
        moves: Each move of the last day, in order, from ``raw_end`` to ``end``.
    """

    start: date
    period: Period
    method: Method
    calendar: str
    raw_end: date
    end: date
    earliest_after: date
    moves: tuple[Move, ...]

    def explain(self) -> list[str]:
        """French sentences an officer can read: the event, the rule, the duration, each move."""
        place = calendar_for(self.calendar)
        if self.method is Method.DATE_A_DATE:
            return _explain_date_a_date(self, place)
        return _explain_reg1182(self, place)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form: ISO dates; ``end`` is the period's last day."""
        return {
            "start": self.start.isoformat(),
            "period": str(self.period),
            "period_label": self.period.describe(),
            "method": self.method.value,
            "calendar": self.calendar,
            "raw_end": self.raw_end.isoformat(),
            "end": self.end.isoformat(),
            "earliest_after": self.earliest_after.isoformat(),
            "moves": [
                {"from": m.from_date.isoformat(), "to": m.to_date.isoformat(), "reason": m.reason}
                for m in self.moves
            ],
            "explanation": self.explain(),
        }


def add_period(start: date, period: Period, calendar: LegalCalendar | None = None) -> date:
    """The day ``period`` after ``start``, without any move (art. 3(1) and 3(2)(c)).

    Days and weeks are added; months and years land on the same date, or on the last day of
    the month when that date does not exist there; working days are counted one by one on
    ``calendar`` (mainland France by default).

    Raises:
        InvalidValue: the result would fall outside the calendars' years.
    """
    check_year(start.year)
    if period.unit is Unit.WORKING_DAYS:  # the calendar refuses years past its range
        return (calendar or calendar_for(DEFAULT_CALENDAR)).add_working_days(start, period.count)
    if period.unit in (Unit.DAYS, Unit.WEEKS):
        end = start + timedelta(days=period.count * (7 if period.unit is Unit.WEEKS else 1))
        check_year(end.year)
        return end
    months = period.count * (12 if period.unit is Unit.YEARS else 1)
    year, month = divmod(start.year * 12 + start.month - 1 + months, 12)
    check_year(year)
    return date(year, month + 1, min(start.day, monthrange(year, month + 1)[1]))


def compute_due(
    start: date,
    period: Period | str,
    *,
    calendar: LegalCalendar | str = DEFAULT_CALENDAR,
    method: Method | str = Method.REG1182,
) -> Due:
    """The end of ``period`` after the event of ``start``, counted by ``method`` on ``calendar``.

    Args:
        start: The day of the event (sending of a notice, of the rejection letters…).
        period: A :class:`Period`, or its text (``30d``).
        calendar: A :class:`LegalCalendar`, or its code (``FR`` by default).
        method: ``reg1182`` (default) or ``date-a-date``.

    Raises:
        InvalidValue: a text argument cannot be read; ``date-a-date`` was asked for a period in
            working days; or the result falls outside the calendars' years.
    """
    span = Period.parse(period) if isinstance(period, str) else period
    place = calendar_for(calendar) if isinstance(calendar, str) else calendar
    how = Method.parse(method) if isinstance(method, str) else method
    if how is Method.DATE_A_DATE:
        if span.unit is Unit.WORKING_DAYS:
            raise InvalidValue(
                "methode",
                f"La méthode « de date à date » compte des jours calendaires : un délai en jours "
                f"ouvrables ({span}) se calcule avec la méthode reg1182.",
            )
        after = add_period(start, span)
        last = after - timedelta(days=1)
        return Due(start, span, how, place.code, last, last, after, ())
    raw = add_period(start, span, place)
    end = raw
    moves = []
    while (reason := place.non_working_reason(end)) is not None:  # art. 3(4)
        moves.append(Move(end, end + timedelta(days=1), reason))
        end += timedelta(days=1)
    if span.at_least_two_days:  # art. 3(5)
        while not _two_working_days(place, start, end):
            following = place.next_working_day(end)
            moves.append(Move(end, following, ART_3_5))
            end = following
    return Due(start, span, how, place.code, raw, end, end + timedelta(days=1), tuple(moves))


def _two_working_days(place: LegalCalendar, start: date, end: date) -> bool:
    """True when the days after ``start`` up to ``end`` hold two working days (art. 3(5))."""
    found = 0
    day = end
    while day > start and found < 2:
        found += place.is_working_day(day)
        day -= timedelta(days=1)
    return found >= 2


def _ordinal(count: int) -> str:
    return "1er" if count == 1 else f"{count}e"


def _same_date_rule(due: Due, landing: date, subject: str) -> str:
    """How a period in weeks, months or years lands, and on which day (art. 3(2)(c))."""
    start, unit = due.start, due.period.unit
    if unit is Unit.WEEKS:
        return (
            f"{subject} le même jour de la semaine que l'événement "
            f"({WEEKDAYS[start.weekday()]}) dans la dernière semaine : le {french_date(landing)}"
        )
    if unit is Unit.MONTHS:
        rule = f"le jour du dernier mois qui porte la même date que l'événement (le {start.day})"
    else:
        rule = (
            f"le jour de la dernière année qui porte la même date que l'événement "
            f"(le {start.day} {MONTHS[start.month - 1]})"
        )
    if landing.day != start.day:
        missing = f"{MONTHS[landing.month - 1]} {landing.year}"
        return (
            f"{subject} {rule} ; cette date n'existant pas en {missing}, "
            f"le dernier jour de ce mois : le {french_date(landing)}"
        )
    return f"{subject} {rule} : le {french_date(landing)}"


def _explain_reg1182(due: Due, place: LegalCalendar) -> list[str]:
    period = due.period
    lines = [
        f"Méthode : règlement (CEE, Euratom) n° 1182/71, avec les jours fériés du calendrier "
        f"{place.label} ({place.code}).",
        f"Événement : le {french_date(due.start)} ; ce jour n'est pas compté (art. 3, § 1).",
    ]
    if period.unit is Unit.DAYS:
        lines.append(
            f"Durée : {period.describe()}, samedis, dimanches et jours fériés compris "
            f"(art. 3, § 3) ; le dernier jour est le {french_date(due.raw_end)}."
        )
    elif period.unit is Unit.WORKING_DAYS:
        lines.append(
            f"Durée : {period.describe()}, hors samedis, dimanches et jours fériés (art. 2 et "
            f"art. 3, § 3) ; le {_ordinal(period.count)} jour ouvrable après l'événement est "
            f"le {french_date(due.raw_end)}."
        )
    else:
        rule = _same_date_rule(due, due.raw_end, "le délai prend fin")
        lines.append(f"Durée : {period.describe()} ; {rule} (art. 3, § 2, c).")
    for move in due.moves:
        if move.reason == ART_3_5:
            lines.append(
                f"La période doit comprendre au moins deux jours ouvrables (art. 3, § 5) : "
                f"le délai est prolongé du {french_date(move.from_date)} au "
                f"{french_date(move.to_date)}."
            )
        else:
            lines.append(
                f"Le {french_date(move.from_date)} n'est pas un jour ouvrable ({move.reason}) : "
                f"le délai est reporté au {french_date(move.to_date)} (art. 3, § 4)."
            )
    if not due.moves and period.unit is not Unit.WORKING_DAYS:
        lines.append(
            f"Le {french_date(due.end)} est un jour ouvrable : pas de report (art. 3, § 4)."
        )
    lines.append(
        f"Le délai expire à la fin du {french_date(due.end)} ; un acte qui doit suivre "
        f"l'expiration du délai est possible à partir du {french_date(due.earliest_after)}."
    )
    return lines


def _explain_date_a_date(due: Due, place: LegalCalendar) -> list[str]:
    period = due.period
    lines = [
        "Méthode : « de date à date » (Conseil d'État, 2 août 2011, n° 347526) : le jour de "
        "l'envoi et le dernier jour sont comptés, sans exclure les samedis, dimanches et jours "
        "fériés, et le dernier jour n'est jamais reporté.",
        f"Événement : le {french_date(due.start)} ; ce jour est compté comme premier jour "
        f"du délai.",
    ]
    if period.unit is Unit.DAYS:
        lines.append(
            f"Durée : {period.describe()}, du {french_date(due.start)} inclus au "
            f"{french_date(due.end)} inclus."
        )
    else:
        rule = _same_date_rule(due, due.earliest_after, "l'acte est possible")
        lines.append(
            f"Durée : {period.describe()} ; {rule} ; le dernier jour compté est la veille, "
            f"le {french_date(due.end)}."
        )
    reason = place.non_working_reason(due.end)
    if reason is not None:
        lines.append(
            f"Le {french_date(due.end)} n'est pas un jour ouvrable ({reason}) dans le "
            f"calendrier {place.label} ({place.code}), mais cette méthode ne reporte pas le délai."
        )
    lines.append(
        f"Le délai expire à la fin du {french_date(due.end)} ; l'acte (par exemple la signature "
        f"du marché) est possible à partir du {french_date(due.earliest_after)}."
    )
    return lines
