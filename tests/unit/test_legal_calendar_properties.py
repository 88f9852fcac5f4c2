"""Properties of the legal calendar, and a second, naive implementation to compare it with.

The naive implementation below steps one day at a time and builds its own holiday sets from
the ``holidays`` package with its own code → subdivision table (Moselle's ``57`` where the
engine uses Alsace's ``6AE``): the two implementations share only the holiday data.
"""

from __future__ import annotations

from datetime import date, timedelta

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.legal_calendar import CALENDARS, calendar_for
from engine.legal_periods import Method, Period, Unit, compute_due

ONE_DAY = timedelta(days=1)

SUBDIVISIONS: dict[str, str | None] = {
    "FR": None,
    "FR-ALSACE-MOSELLE": "57",
    "FR-971": "GP",
    "FR-972": "MQ",
    "FR-973": "GY",
    "FR-974": "RE",
    "FR-976": "YT",
    "FR-BL": "Saint-Barthélemy",
    "FR-MF": "Saint-Martin",
    "FR-PM": "Saint-Pierre-et-Miquelon",
    "FR-NC": "Nouvelle-Calédonie",
    "FR-PF": "Polynésie Française",
    "FR-WF": "Wallis-et-Futuna",
    "FR-TF": "Terres australes françaises",
}
"""Each calendar's subdivision, spelled by the package's aliases rather than the engine's codes."""

YEARS = range(2019, 2043)
"""Starts run 2020–2035; 36 months and their moves end before 2042."""

HOLIDAYS = {
    code: frozenset(holidays.country_holidays("FR", subdiv=subdivision, years=YEARS))
    for code, subdivision in SUBDIVISIONS.items()
}

codes = st.sampled_from(sorted(CALENDARS))
starts = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


# ------------------------------------------------------------------ the naive implementation


def naive_working(code: str, day: date) -> bool:
    """Neither a Saturday, a Sunday nor one of this place's holidays."""
    return day.weekday() not in (5, 6) and day not in HOLIDAYS[code]


def naive_count(code: str, start: date, end: date) -> int:
    """How many working days lie after ``start`` up to ``end`` included."""
    return sum(naive_working(code, start + ONE_DAY * i) for i in range(1, (end - start).days + 1))


def naive_add(start: date, count: int, unit: str) -> date:
    """Days and weeks stepped one day at a time; months one month at a time, then clamped."""
    if unit in ("d", "w"):
        day = start
        for _ in range(count * (7 if unit == "w" else 1)):
            day += ONE_DAY
        return day
    year, month = start.year, start.month
    for _ in range(count * (12 if unit == "y" else 1)):
        month += 1
        if month == 13:
            year, month = year + 1, 1
    day_of_month = start.day
    while True:
        try:
            return date(year, month, day_of_month)
        except ValueError:
            day_of_month -= 1


def naive_reg1182(code: str, start: date, count: int, unit: str) -> tuple[date, date]:
    """(raw end, end) under Reg. 1182/71, stepping day by day."""
    if unit == "wd":
        day, found = start, 0
        while found < count:
            day += ONE_DAY
            found += naive_working(code, day)
        return day, day
    raw = naive_add(start, count, unit)
    end = raw
    while not naive_working(code, end):
        end += ONE_DAY
    if unit not in ("d",) or count >= 2:
        while (
            sum(naive_working(code, start + ONE_DAY * i) for i in range(1, (end - start).days + 1))
            < 2
        ):
            end += ONE_DAY
            while not naive_working(code, end):
                end += ONE_DAY
    return raw, end


def naive_date_a_date(start: date, count: int, unit: str) -> tuple[date, date]:
    """(last day, first day after) counting the day of the event: start + N - 1, start + N."""
    after = naive_add(start, count, unit)
    return after - ONE_DAY, after


# ------------------------------------------------------------------ agreement with the naive


@settings(max_examples=300, deadline=None)
@given(code=codes, start=starts, count=st.integers(1, 400))
def test_days_agree_with_the_naive_implementation(code: str, start: date, count: int) -> None:
    """1–400 calendar days, every calendar."""
    due = compute_due(start, Period(count, Unit.DAYS), calendar=code)
    assert (due.raw_end, due.end) == naive_reg1182(code, start, count, "d")


@settings(max_examples=300, deadline=None)
@given(code=codes, start=starts, count=st.integers(1, 60))
def test_working_days_agree_with_the_naive_implementation(
    code: str, start: date, count: int
) -> None:
    """1–60 working days, every calendar."""
    due = compute_due(start, Period(count, Unit.WORKING_DAYS), calendar=code)
    assert (due.raw_end, due.end) == naive_reg1182(code, start, count, "wd")


@settings(max_examples=300, deadline=None)
@given(code=codes, start=starts, count=st.integers(1, 36))
def test_months_agree_with_the_naive_implementation(code: str, start: date, count: int) -> None:
    """1–36 months, every calendar, including the 29th–31st of a month."""
    due = compute_due(start, Period(count, Unit.MONTHS), calendar=code)
    assert (due.raw_end, due.end) == naive_reg1182(code, start, count, "m")


@settings(max_examples=200, deadline=None)
@given(
    code=codes,
    start=starts,
    unit=st.sampled_from(["w", "y"]),
    count=st.integers(1, 3),
)
def test_weeks_and_years_agree_with_the_naive_implementation(
    code: str, start: date, unit: str, count: int
) -> None:
    """Short runs of weeks and years (29 February included by the date strategy)."""
    due = compute_due(start, Period(count, Unit(unit)), calendar=code)
    assert (due.raw_end, due.end) == naive_reg1182(code, start, count, unit)


@settings(max_examples=300, deadline=None)
@given(
    code=codes,
    start=starts,
    period=st.one_of(
        st.builds(Period, st.integers(1, 400), st.just(Unit.DAYS)),
        st.builds(Period, st.integers(1, 36), st.just(Unit.MONTHS)),
        st.builds(Period, st.integers(1, 52), st.just(Unit.WEEKS)),
    ),
)
def test_date_a_date_agrees_with_the_naive_implementation(
    code: str, start: date, period: Period
) -> None:
    """The CE method: last day start + N - 1, act from start + N, on every calendar."""
    due = compute_due(start, period, calendar=code, method=Method.DATE_A_DATE)
    assert (due.end, due.earliest_after) == naive_date_a_date(start, period.count, period.unit)


# ------------------------------------------------------------------ properties


@settings(max_examples=300, deadline=None)
@given(code=codes, start=starts, count=st.integers(1, 400))
def test_a_period_in_days_never_ends_early(code: str, start: date, count: int) -> None:
    """Reg. 1182/71: end ≥ start + N; the act comes the day after; moves chain raw → end."""
    due = compute_due(start, Period(count, Unit.DAYS), calendar=code)
    assert due.end >= start + timedelta(days=count)
    assert due.earliest_after == due.end + ONE_DAY
    chain = [due.raw_end, *(move.to_date for move in due.moves)]
    assert [move.from_date for move in due.moves] == chain[:-1]
    assert chain[-1] == due.end


@settings(max_examples=300, deadline=None)
@given(
    code=codes,
    start=starts,
    period=st.one_of(
        st.builds(Period, st.integers(1, 400), st.just(Unit.DAYS)),
        st.builds(Period, st.integers(1, 60), st.just(Unit.WORKING_DAYS)),
        st.builds(Period, st.integers(1, 36), st.just(Unit.MONTHS)),
    ),
)
def test_reg1182_always_ends_on_a_working_day(code: str, start: date, period: Period) -> None:
    """Art. 3(4): whatever the unit, the last day is a working day of the place."""
    due = compute_due(start, period, calendar=code)
    assert calendar_for(code).is_working_day(due.end)
    assert naive_working(code, due.end)


@settings(max_examples=300, deadline=None)
@given(
    code=codes,
    start=starts,
    period=st.one_of(
        st.builds(Period, st.integers(2, 30), st.just(Unit.DAYS)),
        st.builds(Period, st.integers(2, 20), st.just(Unit.WORKING_DAYS)),
        st.builds(Period, st.integers(1, 4), st.just(Unit.WEEKS)),
        st.builds(Period, st.integers(1, 3), st.just(Unit.MONTHS)),
    ),
)
def test_a_period_of_two_days_or_more_holds_two_working_days(
    code: str, start: date, period: Period
) -> None:
    """Art. 3(5), counted on the days after the event up to the last one."""
    due = compute_due(start, period, calendar=code)
    assert calendar_for(code).count_working_days(start + ONE_DAY, due.end) >= 2


@settings(max_examples=300, deadline=None)
@given(code=codes, start=starts, count=st.integers(1, 60))
def test_working_days_count_exactly_n(code: str, start: date, count: int) -> None:
    """N working days after the event: exactly N of them up to the last day, which is one."""
    due = compute_due(start, Period(count, Unit.WORKING_DAYS), calendar=code)
    assert calendar_for(code).count_working_days(start + ONE_DAY, due.end) == count
    assert due.moves == ()


@settings(max_examples=300, deadline=None)
@given(
    code=codes,
    start=starts,
    count=st.integers(1, 400),
    unit=st.sampled_from([Unit.DAYS, Unit.WEEKS, Unit.MONTHS, Unit.YEARS]),
)
def test_date_a_date_never_rolls(code: str, start: date, count: int, unit: Unit) -> None:
    """No move, whatever the last day is; the act is possible the very next day."""
    if unit in (Unit.MONTHS, Unit.YEARS):
        count = min(count, 36 if unit is Unit.MONTHS else 3)
    due = compute_due(start, Period(count, unit), calendar=code, method=Method.DATE_A_DATE)
    assert due.moves == ()
    assert due.raw_end == due.end
    assert due.earliest_after == due.end + ONE_DAY
    if unit is Unit.DAYS:
        assert due.end == start + timedelta(days=count - 1)


@settings(max_examples=200, deadline=None)
@given(code=codes, start=starts, count=st.integers(1, 400))
def test_the_ce_method_is_never_later_than_reg1182(code: str, start: date, count: int) -> None:
    """Counting the day of sending and never rolling can only end earlier (hence the default)."""
    period = Period(count, Unit.DAYS)
    ce = compute_due(start, period, calendar=code, method=Method.DATE_A_DATE)
    reg = compute_due(start, period, calendar=code, method=Method.REG1182)
    assert ce.end < reg.end
    assert ce.earliest_after <= reg.earliest_after
