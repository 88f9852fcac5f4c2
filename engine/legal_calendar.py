"""Legal calendars: the public holidays and working days of mainland France and its territories.

A :class:`LegalCalendar` answers, for one place, whether a day is a public holiday (and its
French name) and whether it is a working day in the sense of Regulation (EEC, Euratom)
No 1182/71, art. 2: any day other than a public holiday, a Sunday or a Saturday. The holidays
come from the ``holidays`` package (never from a list written here), one year at a time,
cached. Calendars are found by code with :func:`calendar_for`:

====================  ==========================================  ==========================
code                  place                                        ``holidays`` subdivision
====================  ==========================================  ==========================
``FR``                mainland France (Code du travail L3133-1)   none (the national list)
``FR-ALSACE-MOSELLE`` Bas-Rhin, Haut-Rhin, Moselle (L3134-13)     ``6AE`` (same days as 57)
``FR-971`` …          overseas departments and territories         ``971`` … (ISO 3166-2 codes)
====================  ==========================================  ==========================

Nothing here reads the clock: every answer depends only on the day asked about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType

import holidays

from engine.errors import InvalidValue

MIN_YEAR = 1900
"""First year a calendar answers for (earlier holiday law is of no use to procurement)."""

MAX_YEAR = 2200
"""Last year a calendar answers for; also bounds the end of any computed period."""

WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
"""French weekday names, Monday first (``date.weekday()`` order)."""

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
"""French month names, January first."""

_SATURDAY = 5
_SUNDAY = 6


def french_date(day: date) -> str:
    """Write ``day`` as an officer reads it: ``lundi 1 juin 2026``."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def check_year(year: int) -> None:
    """Refuse a year outside the calendars' range, with a French sentence.

    Raises:
        InvalidValue: ``year`` is before :data:`MIN_YEAR` or after :data:`MAX_YEAR`.
    """
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidValue(
            "date",
            f"Le calendrier légal couvre les années {MIN_YEAR} à {MAX_YEAR} : "
            f"l'année {year} est hors de cette plage.",
        )


@lru_cache(maxsize=4096)
def _holidays_of_year(subdivision: str | None, year: int) -> Mapping[date, str]:
    """The public holidays of one year and place, French names, from the ``holidays`` package.

    The package's object grows as it is queried (and is not meant to be shared between
    threads), so each year is read once into a read-only mapping, which the cache keeps.
    Two holidays on the same day (Ascension on 1 May 2008) share one name joined by « et ».
    """
    check_year(year)
    table = holidays.country_holidays("FR", subdiv=subdivision, years=year, language="fr")
    return MappingProxyType({day: " et ".join(table.get_list(day)) for day in sorted(table)})


@dataclass(frozen=True, slots=True)
class LegalCalendar:
    """The public holidays and working days of one place.

    Attributes:
        code: The calendar's code (``FR``, ``FR-ALSACE-MOSELLE``, ``FR-971``…).
        label: The place, in French, for officers.
        subdivision: The ``holidays`` package's subdivision of France, or ``None`` for the
            national list.
    """

    code: str
    label: str
    subdivision: str | None

    def holidays_of(self, year: int) -> Mapping[date, str]:
        """Every public holiday of ``year``, in date order, with its French name (cached)."""
        return _holidays_of_year(self.subdivision, year)

    def is_public_holiday(self, day: date) -> bool:
        """True when ``day`` is a public holiday here (whatever its weekday)."""
        return day in self.holidays_of(day.year)

    def holiday_name(self, day: date) -> str | None:
        """The French name of the holiday on ``day`` (``Fête nationale``), or ``None``."""
        return self.holidays_of(day.year).get(day)

    def is_working_day(self, day: date) -> bool:
        """True unless ``day`` is a Saturday, a Sunday or a public holiday (Reg. 1182/71 art. 2)."""
        return day.weekday() < _SATURDAY and not self.is_public_holiday(day)

    def non_working_reason(self, day: date) -> str | None:
        """Why ``day`` is not a working day, in French, or ``None`` when it is one.

        ``samedi``, ``dimanche``, ``jour férié : Fête nationale``, or both at once:
        ``dimanche et jour férié : Toussaint``.
        """
        reasons = []
        if day.weekday() in (_SATURDAY, _SUNDAY):
            reasons.append(WEEKDAYS[day.weekday()])
        name = self.holiday_name(day)
        if name is not None:
            reasons.append(f"jour férié : {name}")
        return " et ".join(reasons) if reasons else None

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        following = day + timedelta(days=1)
        while not self.is_working_day(following):
            following += timedelta(days=1)
        return following

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
        day = start
        for _ in range(count):
            day = self.next_working_day(day)
        return day

    def count_working_days(self, first: date, last: date) -> int:
        """How many working days lie from ``first`` to ``last``, both included (0 if reversed)."""
        count = 0
        day = first
        while day <= last:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count


_ALL = (
    LegalCalendar("FR", "France métropolitaine", None),
    LegalCalendar("FR-ALSACE-MOSELLE", "Alsace-Moselle", "6AE"),
    LegalCalendar("FR-971", "Guadeloupe", "971"),
    LegalCalendar("FR-972", "Martinique", "972"),
    LegalCalendar("FR-973", "Guyane", "973"),
    LegalCalendar("FR-974", "La Réunion", "974"),
    LegalCalendar("FR-976", "Mayotte", "976"),
    LegalCalendar("FR-BL", "Saint-Barthélemy", "BL"),
    LegalCalendar("FR-MF", "Saint-Martin", "MF"),
    LegalCalendar("FR-PM", "Saint-Pierre-et-Miquelon", "PM"),
    LegalCalendar("FR-NC", "Nouvelle-Calédonie", "NC"),
    LegalCalendar("FR-PF", "Polynésie française", "PF"),
    LegalCalendar("FR-WF", "Wallis-et-Futuna", "WF"),
    LegalCalendar("FR-TF", "Terres australes et antarctiques françaises", "TF"),
)

CALENDARS: Mapping[str, LegalCalendar] = MappingProxyType({c.code: c for c in _ALL})
"""Every known calendar by code, mainland first."""

DEFAULT_CALENDAR = "FR"
"""The calendar used when none is named: mainland France."""


def calendar_for(code: str) -> LegalCalendar:
    """The calendar of ``code`` (case and surrounding spaces ignored).

    Raises:
        InvalidValue: the code is unknown; the sentence lists the known codes.
    """
    calendar = CALENDARS.get(code.strip().upper())
    if calendar is None:
        raise InvalidValue(
            "calendrier",
            f"Le calendrier « {code} » est inconnu ; calendriers connus : {', '.join(CALENDARS)}.",
        )
    return calendar
