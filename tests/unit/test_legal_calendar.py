"""The legal calendar against the domain reference: worked examples, holiday lists, calendars.

The tables below are section 5 of /work/shared/domain/procurement-reference.md, row by row:
the worked examples of 5.1 (Reg. 1182/71 and the Conseil d'État's "de date à date" method),
the CE 2011 standstill case itself, and the 2026/2027 holiday lists of 5.2.
"""

from __future__ import annotations

from datetime import date

import holidays
import pytest

from engine.errors import InvalidValue
from engine.legal_calendar import (
    CALENDARS,
    MAX_YEAR,
    LegalCalendar,
    calendar_for,
    french_date,
)
from engine.legal_periods import ART_3_5, Due, Method, Move, Period, Unit, add_period, compute_due

D = date
REG = "reg1182"
CE = "date-a-date"

# ------------------------------------------------------------------ worked examples (5.1)

WORKED_EXAMPLES = [
    # id, start, period, method, calendar, raw_end, end (last day), earliest_after
    ("aoo-30d-rolls-to-monday", D(2026, 4, 30), "30d", REG, "FR",
     D(2026, 5, 30), D(2026, 6, 1), D(2026, 6, 2)),
    ("aoo-35d-thursday", D(2026, 4, 30), "35d", REG, "FR",
     D(2026, 6, 4), D(2026, 6, 4), D(2026, 6, 5)),
    ("standstill-11d-may-reg1182", D(2026, 5, 4), "11d", REG, "FR",
     D(2026, 5, 15), D(2026, 5, 15), D(2026, 5, 16)),
    ("standstill-11d-may-ce", D(2026, 5, 4), "11d", CE, "FR",
     D(2026, 5, 14), D(2026, 5, 14), D(2026, 5, 15)),
    ("standstill-11d-july-reg1182", D(2026, 7, 3), "11d", REG, "FR",
     D(2026, 7, 14), D(2026, 7, 15), D(2026, 7, 16)),
    ("standstill-11d-july-ce", D(2026, 7, 3), "11d", CE, "FR",
     D(2026, 7, 13), D(2026, 7, 13), D(2026, 7, 14)),
    ("standstill-16d-december-reg1182", D(2026, 12, 10), "16d", REG, "FR",
     D(2026, 12, 26), D(2026, 12, 28), D(2026, 12, 29)),
    ("standstill-16d-december-ce", D(2026, 12, 10), "16d", CE, "FR",
     D(2026, 12, 25), D(2026, 12, 25), D(2026, 12, 26)),
    ("decp-2-months", D(2026, 8, 31), "2m", REG, "FR",
     D(2026, 10, 31), D(2026, 11, 2), D(2026, 11, 3)),
    # CE, 2 Aug 2011, n° 347526: sent 28 Dec 2010, 16 days, expired 12 Jan, signature 13 Jan.
    ("ce-2011-ducos", D(2010, 12, 28), "16d", CE, "FR",
     D(2011, 1, 12), D(2011, 1, 12), D(2011, 1, 13)),
    # ampconsultants (5.1): sent Mon 6 Jan 2025, 30 d, deadline possible from 6 Feb 00:00.
    ("ampconsultants-30d", D(2025, 1, 6), "30d", REG, "FR",
     D(2025, 2, 5), D(2025, 2, 5), D(2025, 2, 6)),
    # The December row in Alsace-Moselle: 26 Dec is a Saturday and a holiday there.
    ("standstill-16d-december-alsace-moselle", D(2026, 12, 10), "16d", REG, "FR-ALSACE-MOSELLE",
     D(2026, 12, 26), D(2026, 12, 28), D(2026, 12, 29)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "period", "method", "code", "raw_end", "end", "earliest_after"),
    [row[1:] for row in WORKED_EXAMPLES],
    ids=[row[0] for row in WORKED_EXAMPLES],
)
def test_worked_examples_of_the_reference(
    start: date,
    period: str,
    method: str,
    code: str,
    raw_end: date,
    end: date,
    earliest_after: date,
) -> None:
    """Every row of section 5.1's table, and the CE 2011 case, to the day."""
    due = compute_due(start, period, calendar=code, method=method)
    assert (due.raw_end, due.end, due.earliest_after) == (raw_end, end, earliest_after)
    assert due.as_dict()["end"] == end.isoformat()


@pytest.mark.parametrize(
    ("start", "period", "code", "moves"),
    [
        (D(2026, 4, 30), "30d", "FR", [
            Move(D(2026, 5, 30), D(2026, 5, 31), "samedi"),
            Move(D(2026, 5, 31), D(2026, 6, 1), "dimanche"),
        ]),
        (D(2026, 7, 3), "11d", "FR", [
            Move(D(2026, 7, 14), D(2026, 7, 15), "jour férié : Fête nationale"),
        ]),
        (D(2026, 8, 31), "2m", "FR", [
            Move(D(2026, 10, 31), D(2026, 11, 1), "samedi"),
            Move(D(2026, 11, 1), D(2026, 11, 2), "dimanche et jour férié : Toussaint"),
        ]),
        (D(2026, 12, 10), "16d", "FR-ALSACE-MOSELLE", [
            Move(D(2026, 12, 26), D(2026, 12, 27), "samedi et jour férié : Saint-Étienne"),
            Move(D(2026, 12, 27), D(2026, 12, 28), "dimanche"),
        ]),
        (D(2026, 5, 4), "11d", "FR", []),
    ],
)  # fmt: skip
def test_each_move_of_the_last_day_names_its_reason(
    start: date, period: str, code: str, moves: list[Move]
) -> None:
    """Art. 3(4) moves one day at a time, saying why the day was not a working day."""
    assert list(compute_due(start, period, calendar=code).moves) == moves


def test_the_ce_method_never_moves_even_onto_a_holiday() -> None:
    """4 May 2026 + 11 d expires on Ascension Thursday: the CE method keeps it, and says so."""
    due = compute_due(D(2026, 5, 4), "11d", method=CE)
    assert due.end == D(2026, 5, 14)
    assert due.moves == ()
    text = "\n".join(due.explain())
    assert "jour férié : Ascension" in text
    assert "ne reporte pas le délai" in text
    assert "possible à partir du vendredi 15 mai 2026" in text


# ------------------------------------------------------------------ holiday lists (5.2)

FR_2026 = {
    D(2026, 1, 1), D(2026, 4, 6), D(2026, 5, 1), D(2026, 5, 8), D(2026, 5, 14), D(2026, 5, 25),
    D(2026, 7, 14), D(2026, 8, 15), D(2026, 11, 1), D(2026, 11, 11), D(2026, 12, 25),
}  # fmt: skip
FR_2027 = {
    D(2027, 1, 1), D(2027, 3, 29), D(2027, 5, 1), D(2027, 5, 6), D(2027, 5, 8), D(2027, 5, 17),
    D(2027, 7, 14), D(2027, 8, 15), D(2027, 11, 1), D(2027, 11, 11), D(2027, 12, 25),
}  # fmt: skip
ALSACE_MOSELLE_EXTRA = {
    2026: {D(2026, 4, 3), D(2026, 12, 26)},
    2027: {D(2027, 3, 26), D(2027, 12, 26)},
}


@pytest.mark.parametrize(("year", "expected"), [(2026, FR_2026), (2027, FR_2027)])
def test_mainland_holidays_are_the_eleven_days_of_l3133_1(year: int, expected: set[date]) -> None:
    """Section 5.2's computed lists for FR, exactly: eleven days, nothing more."""
    assert set(calendar_for("FR").holidays_of(year)) == expected


@pytest.mark.parametrize(("year", "mainland"), [(2026, FR_2026), (2027, FR_2027)])
def test_alsace_moselle_adds_good_friday_and_26_december(year: int, mainland: set[date]) -> None:
    """L3134-13: Good Friday and Saint-Étienne on top of the national list."""
    alsace_moselle = calendar_for("FR-ALSACE-MOSELLE")
    assert set(alsace_moselle.holidays_of(year)) == mainland | ALSACE_MOSELLE_EXTRA[year]
    good_friday, st_stephen = sorted(ALSACE_MOSELLE_EXTRA[year])
    assert alsace_moselle.holiday_name(good_friday) == "Vendredi saint"
    assert alsace_moselle.holiday_name(st_stephen) == "Saint-Étienne"
    assert not calendar_for("FR").is_public_holiday(good_friday)


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (D(2026, 1, 1), "Jour de l'an"),
        (D(2026, 4, 6), "Lundi de Pâques"),
        (D(2026, 5, 1), "Fête du Travail"),
        (D(2026, 5, 8), "Fête de la Victoire"),
        (D(2026, 5, 14), "Ascension"),
        (D(2026, 5, 25), "Lundi de Pentecôte"),
        (D(2026, 7, 14), "Fête nationale"),
        (D(2026, 8, 15), "Assomption"),
        (D(2026, 11, 1), "Toussaint"),
        (D(2026, 11, 11), "Armistice"),
        (D(2026, 12, 25), "Noël"),
        (D(2008, 5, 1), "Ascension et Fête du Travail"),
        (D(2026, 7, 15), None),
    ],
)
def test_holiday_names_are_french(day: date, name: str | None) -> None:
    """Names come from the package in French; two holidays on one day share the sentence."""
    assert calendar_for("FR").holiday_name(day) == name


# ------------------------------------------------------------------ every calendar

OVERSEAS_2026 = {
    # The décret 83-1003 day of each place (section 5.2, [UNSURE] there), plus what the
    # package adds (local days the reference does not list): pinned so a change shows.
    "FR-971": {D(2026, 5, 27): "Abolition de l'esclavage", D(2026, 3, 12): "Mi-Carême",
               D(2026, 4, 3): "Vendredi saint", D(2026, 7, 21): "Fête de Victor Schoelcher"},
    "FR-972": {D(2026, 5, 22): "Abolition de l'esclavage",
               D(2026, 7, 21): "Fête de Victor Schoelcher"},
    "FR-973": {D(2026, 6, 10): "Abolition de l'esclavage"},
    "FR-974": {D(2026, 12, 20): "Abolition de l'esclavage"},
    "FR-976": {D(2026, 4, 27): "Abolition de l'esclavage"},
    "FR-BL": {D(2026, 10, 9): "Abolition de l'esclavage"},
    "FR-MF": {D(2026, 5, 28): "Abolition de l'esclavage",
              D(2026, 7, 21): "Fête de Victor Schoelcher"},
    "FR-PM": {},
    "FR-NC": {D(2026, 9, 24): "Fête de la Citoyenneté"},
    "FR-PF": {D(2026, 3, 5): "Arrivée de l'Évangile", D(2026, 4, 3): "Vendredi saint",
              D(2026, 11, 20): "Matāri'i"},
    "FR-WF": {D(2026, 4, 28): "Saint Pierre Chanel", D(2026, 6, 29): "Saints Pierre et Paul",
              D(2026, 7, 29): "Fête du Territoire"},
    "FR-TF": {},
    "FR-ALSACE-MOSELLE": {D(2026, 4, 3): "Vendredi saint", D(2026, 12, 26): "Saint-Étienne"},
}  # fmt: skip


def test_every_calendar_is_tested_and_mainland_comes_first() -> None:
    """The table above covers every known code; FR is first and is the default."""
    assert next(iter(CALENDARS)) == "FR"
    assert set(CALENDARS) == {"FR", *OVERSEAS_2026}


@pytest.mark.parametrize("code", sorted(OVERSEAS_2026))
def test_each_calendar_adds_its_own_days_to_the_national_list(code: str) -> None:
    """2026 in each place: the eleven national days plus exactly its own, named in French."""
    place = calendar_for(code)
    own = {day: name for day, name in place.holidays_of(2026).items() if day not in FR_2026}
    assert own == OVERSEAS_2026[code]
    assert set(place.holidays_of(2026)) >= FR_2026
    for day in own:
        assert not calendar_for("FR").is_public_holiday(day)
        assert not place.is_working_day(day)


def test_every_subdivision_of_the_package_has_a_calendar() -> None:
    """If a new ``holidays`` release adds a French subdivision, this test says so.

    School zones are not public holidays; Moselle (57) and Alsace (6AE) have the same days and
    share FR-ALSACE-MOSELLE.
    """
    subdivisions = set(holidays.list_supported_countries()["FR"])
    mapped = {place.subdivision for place in CALENDARS.values()}
    assert subdivisions - mapped == {"57", "Zone A", "Zone B", "Zone C"}
    for year in (2026, 2027):
        moselle = holidays.country_holidays("FR", subdiv="57", years=year, language="fr")
        assert dict(moselle) == dict(calendar_for("FR-ALSACE-MOSELLE").holidays_of(year))


def test_working_days_exclude_saturdays_sundays_and_holidays() -> None:
    """Reg. 1182/71 art. 2: a working day is none of the three."""
    mainland = calendar_for("FR")
    assert mainland.is_working_day(D(2026, 7, 13))  # Monday
    assert not mainland.is_working_day(D(2026, 7, 14))  # Tuesday, Fête nationale
    assert not mainland.is_working_day(D(2026, 7, 18))  # Saturday
    assert not mainland.is_working_day(D(2026, 7, 19))  # Sunday
    assert mainland.non_working_reason(D(2026, 7, 13)) is None
    assert mainland.next_working_day(D(2026, 7, 10)) == D(2026, 7, 13)
    assert mainland.add_working_days(D(2026, 7, 10), 2) == D(2026, 7, 15)
    assert mainland.count_working_days(D(2026, 7, 13), D(2026, 7, 19)) == 4
    assert mainland.count_working_days(D(2026, 7, 19), D(2026, 7, 13)) == 0


def test_calendar_codes_ignore_case_and_spaces_and_are_shared() -> None:
    """Officers may type ``fr-971``; the registry returns one object per code."""
    assert calendar_for(" fr-971 ") is calendar_for("FR-971")
    assert calendar_for("FR-971").label == "Guadeloupe"
    assert isinstance(calendar_for("FR"), LegalCalendar)


def test_an_unknown_calendar_is_one_french_sentence_listing_the_codes() -> None:
    """The error names the code typed and every known one."""
    with pytest.raises(InvalidValue) as caught:
        calendar_for("FR-75")
    message = caught.value.message
    assert caught.value.field == "calendrier"
    assert message.startswith("Le calendrier « FR-75 » est inconnu")
    assert all(code in message for code in CALENDARS)
    assert message.endswith(".")
    assert "\n" not in message
    assert ". " not in message


def test_holiday_years_are_cached() -> None:
    """A year is read from the package once; later questions reuse the same mapping."""
    place = calendar_for("FR-974")
    assert place.holidays_of(2031) is place.holidays_of(2031)
    with pytest.raises(TypeError):
        place.holidays_of(2031)[D(2031, 6, 1)] = "Fête inventée"  # type: ignore[index]


def test_years_outside_the_range_are_refused_in_french() -> None:
    """Far years are a typing mistake, not a deadline."""
    with pytest.raises(InvalidValue, match="hors de cette plage"):
        calendar_for("FR").is_working_day(D(MAX_YEAR + 1, 1, 1))
    with pytest.raises(InvalidValue, match="hors de cette plage"):
        compute_due(D(2026, 1, 1), "99999y")
    with pytest.raises(InvalidValue, match="hors de cette plage"):
        compute_due(D(2026, 1, 1), "99999d")


# ------------------------------------------------------------------ periods


@pytest.mark.parametrize(
    ("text", "count", "unit", "label"),
    [
        ("30d", 30, Unit.DAYS, "30 jours calendaires"),
        ("1d", 1, Unit.DAYS, "1 jour calendaire"),
        ("10wd", 10, Unit.WORKING_DAYS, "10 jours ouvrables"),
        ("2w", 2, Unit.WEEKS, "2 semaines"),
        ("2m", 2, Unit.MONTHS, "2 mois"),
        ("1y", 1, Unit.YEARS, "1 an"),
        ("5y", 5, Unit.YEARS, "5 ans"),
        (" 16 D ", 16, Unit.DAYS, "16 jours calendaires"),
        ("30j", 30, Unit.DAYS, "30 jours calendaires"),
        ("10jo", 10, Unit.WORKING_DAYS, "10 jours ouvrables"),
        ("3s", 3, Unit.WEEKS, "3 semaines"),
        ("2a", 2, Unit.YEARS, "2 ans"),
    ],
)
def test_periods_are_read_from_short_text(text: str, count: int, unit: Unit, label: str) -> None:
    """``30d``, ``10wd``, ``2w``, ``2m``, ``1y`` (and their French letters)."""
    period = Period.parse(text)
    assert (period.count, period.unit, period.describe()) == (count, unit, label)
    assert Period.parse(str(period)) == period


@pytest.mark.parametrize("text", ["", "30", "d", "30x", "-3d", "3.5m", "30 jours", "1e3d"])
def test_a_bad_period_is_one_french_sentence_naming_the_text(text: str) -> None:
    """The sentence quotes what was typed and shows the expected form."""
    with pytest.raises(InvalidValue) as caught:
        Period.parse(text)
    assert caught.value.field == "duree"
    assert f"« {text} »" in caught.value.message
    assert "par exemple 30d ou 2m" in caught.value.message


def test_a_zero_period_is_refused() -> None:
    """A time limit of nothing is a mistake."""
    with pytest.raises(InvalidValue, match="« 0d » est nulle"):
        Period.parse("0d")


def test_methods_are_read_by_name() -> None:
    """``reg1182`` and ``date-a-date`` (accent allowed); anything else is refused."""
    assert Method.parse("REG1182") is Method.REG1182
    assert Method.parse("date-à-date") is Method.DATE_A_DATE
    with pytest.raises(InvalidValue, match="« civil » est inconnue"):
        Method.parse("civil")


def test_the_ce_method_does_not_count_working_days() -> None:
    """The CE method excludes nothing, so a period in working days has no meaning there."""
    with pytest.raises(InvalidValue, match="jours ouvrables"):
        compute_due(D(2026, 5, 4), "10wd", method=CE)


# ------------------------------------------------------------------ arithmetic


@pytest.mark.parametrize(
    ("start", "period", "expected"),
    [
        (D(2027, 1, 31), "1m", D(2027, 2, 28)),  # art. 3(2)(c): last day of a short month
        (D(2028, 1, 31), "1m", D(2028, 2, 29)),
        (D(2026, 3, 31), "1m", D(2026, 4, 30)),
        (D(2028, 2, 29), "1y", D(2029, 2, 28)),
        (D(2026, 11, 30), "3m", D(2027, 2, 28)),
        (D(2026, 4, 30), "2w", D(2026, 5, 14)),  # same weekday, two weeks on
        (D(2026, 12, 31), "1d", D(2027, 1, 1)),
        (D(2026, 4, 30), "10wd", D(2026, 5, 19)),  # skips 1, 8, 14 May and the weekends
    ],
)
def test_add_period_lands_on_the_same_weekday_or_date(
    start: date, period: str, expected: date
) -> None:
    """The raw end before any move: art. 3(1) and 3(2)(c)."""
    assert add_period(start, Period.parse(period), calendar_for("FR")) == expected


def test_a_two_day_period_holds_two_working_days() -> None:
    """Art. 3(5): Thu 24 Dec 2026 + 2 d ends Sat 26, rolls to Mon 28, then needs Tue 29."""
    due = compute_due(D(2026, 12, 24), "2d")
    assert due.end == D(2026, 12, 29)
    assert due.moves[-1] == Move(D(2026, 12, 28), D(2026, 12, 29), ART_3_5)
    assert "au moins deux jours ouvrables (art. 3, § 5)" in "\n".join(due.explain())


def test_a_one_day_period_is_not_stretched_by_article_3_5() -> None:
    """Art. 3(5) speaks of periods of two days or more: 1 d from a Friday ends on Monday."""
    due = compute_due(D(2026, 7, 10), "1d")
    assert due.end == D(2026, 7, 13)
    assert ART_3_5 not in {move.reason for move in due.moves}
    assert compute_due(D(2026, 7, 10), "1wd").end == D(2026, 7, 13)


def test_a_working_day_period_never_moves() -> None:
    """Its last day is a working day by construction."""
    due = compute_due(D(2026, 4, 30), "10wd")
    assert (due.raw_end, due.end, due.moves) == (D(2026, 5, 19), D(2026, 5, 19), ())
    assert "le 10e jour ouvrable après l'événement est le mardi 19 mai 2026" in due.explain()[2]


# ------------------------------------------------------------------ explanation and JSON


def test_the_explanation_tells_the_whole_computation_in_french() -> None:
    """Event excluded, rule, duration, each move and why, the end and the day after."""
    lines = compute_due(D(2026, 4, 30), "30d").explain()
    assert lines == [
        "Méthode : règlement (CEE, Euratom) n° 1182/71, avec les jours fériés du calendrier "
        "France métropolitaine (FR).",
        "Événement : le jeudi 30 avril 2026 ; ce jour n'est pas compté (art. 3, § 1).",
        "Durée : 30 jours calendaires, samedis, dimanches et jours fériés compris (art. 3, § 3) "
        "; le dernier jour est le samedi 30 mai 2026.",
        "Le samedi 30 mai 2026 n'est pas un jour ouvrable (samedi) : le délai est reporté au "
        "dimanche 31 mai 2026 (art. 3, § 4).",
        "Le dimanche 31 mai 2026 n'est pas un jour ouvrable (dimanche) : le délai est reporté "
        "au lundi 1 juin 2026 (art. 3, § 4).",
        "Le délai expire à la fin du lundi 1 juin 2026 ; un acte qui doit suivre l'expiration "
        "du délai est possible à partir du mardi 2 juin 2026.",
    ]


def test_the_explanation_of_a_short_month() -> None:
    """Art. 3(2)(c) names the missing date and the month's last day."""
    text = "\n".join(compute_due(D(2027, 1, 31), "1m").explain())
    assert "cette date n'existant pas en février 2027" in text
    assert "le dimanche 28 février 2027" in text
    ce = "\n".join(compute_due(D(2027, 1, 31), "1m", method=CE).explain())
    assert "le dernier jour compté est la veille, le samedi 27 février 2027" in ce


def test_the_ce_explanation_counts_the_day_of_sending() -> None:
    """The standstill as the Conseil d'État counts it, in the officer's words."""
    lines = compute_due(D(2010, 12, 28), "16d", method=CE).explain()
    assert "n° 347526" in lines[0]
    assert lines[1] == (
        "Événement : le mardi 28 décembre 2010 ; ce jour est compté comme premier jour du délai."
    )
    assert lines[2] == (
        "Durée : 16 jours calendaires, du mardi 28 décembre 2010 inclus au "
        "mercredi 12 janvier 2011 inclus."
    )
    assert lines[-1].endswith("possible à partir du jeudi 13 janvier 2011.")


def test_as_dict_is_json_ready_with_iso_dates() -> None:
    """``end`` is the ISO date of the last day; moves keep their reasons."""
    data = compute_due(D(2026, 7, 3), "11d").as_dict()
    assert {k: v for k, v in data.items() if k != "explanation"} == {
        "start": "2026-07-03",
        "period": "11d",
        "period_label": "11 jours calendaires",
        "method": "reg1182",
        "calendar": "FR",
        "raw_end": "2026-07-14",
        "end": "2026-07-15",
        "earliest_after": "2026-07-16",
        "moves": [
            {"from": "2026-07-14", "to": "2026-07-15", "reason": "jour férié : Fête nationale"}
        ],
    }
    assert data["explanation"] == compute_due(D(2026, 7, 3), "11d").explain()


def test_compute_due_takes_objects_as_well_as_text() -> None:
    """Callers holding a Period, a LegalCalendar and a Method get the same result."""
    by_text = compute_due(D(2026, 5, 4), "11d", calendar="FR", method="date-a-date")
    by_object = compute_due(
        D(2026, 5, 4),
        Period(11, Unit.DAYS),
        calendar=calendar_for("FR"),
        method=Method.DATE_A_DATE,
    )
    assert by_text == by_object
    assert isinstance(by_text, Due)


def test_french_dates_read_as_officers_write_them() -> None:
    """Weekday, day, month, year: ``lundi 1 juin 2026``."""
    assert french_date(D(2026, 6, 1)) == "lundi 1 juin 2026"
    assert french_date(D(2026, 8, 15)) == "samedi 15 août 2026"
    assert french_date(D(2026, 12, 20)) == "dimanche 20 décembre 2026"
